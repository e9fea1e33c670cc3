"""HTTP to Talon.One: timeouts and retries bounded by a time budget.

PUT and DELETE are retried on 409, 429, 5xx, connection errors and timeouts; POST only when the
request surely never reached the server (the connection could not be opened) or Talon.One refused it
with a 429 (rate limited: refused before anything was processed). A Retry-After is honoured when the
wait fits in the caller's time budget and is no longer than the backoff cap (TALON_BACKOFF_MAX);
otherwise that answer is the result, and the caller hands the work back for later (a queued message
comes back after at least that long, backoff.py) instead of holding the invocation asleep.
"""

from __future__ import annotations

import copy
import ipaddress
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util import Retry, Timeout, parse_url

from talon_relay.observability import logger
from talon_relay.talon.errors import RETRYABLE_STATUSES, TalonOneError

if TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

#: Do not start another attempt with less time than this left in the caller's budget.
MIN_ATTEMPT_SECONDS = 0.25


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; https, or plain http only on loopback."""
    try:
        url = parse_url(base_url)
    except ValueError:
        raise ValueError(f"base_url {base_url!r} is not a URL") from None
    if not url.host:
        raise ValueError(f"base_url {base_url!r} has no host")
    if not (url.scheme == "https" or (url.scheme == "http" and _is_loopback(url.host))):
        raise ValueError(f"base_url must use https (plain http only for loopback hosts), got {base_url!r}")
    if url.query or url.fragment:
        raise ValueError(f"base_url {base_url!r} must not carry a query or fragment")
    return base_url.rstrip("/")


class BudgetRetry(Retry):
    """urllib3's Retry that also stops when the caller's time budget would be exceeded."""

    deadline: float | None = None
    #: The clock the deadline is on, and what waits between attempts (a test passes a fake clock's).
    clock: Callable[[], float] = time.monotonic
    sleeper: Callable[[float], None] = time.sleep

    def with_deadline(self, deadline: float | None) -> BudgetRetry:
        """This policy for one call ending at `deadline`: a copy (urllib3 never changes a Retry), so a
        client makes its policy once instead of once per call."""
        retry = copy.copy(self)
        retry.deadline = deadline
        return retry

    def new(self, **kw: Any) -> BudgetRetry:
        retry = super().new(**kw)
        assert isinstance(retry, BudgetRetry)
        retry.deadline, retry.clock, retry.sleeper = self.deadline, self.clock, self.sleeper
        return retry

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """urllib3's Retry.sleep, waiting through `sleeper`: the Retry-After asked for, else the backoff."""
        if self.respect_retry_after_header and response:
            asked = self.get_retry_after(response)
            if asked:
                self.sleeper(asked)
                return
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleeper(backoff)

    def parse_retry_after(self, retry_after: str) -> float:
        """urllib3's reading of a Retry-After, or no wait asked (0: the backoff) for one it cannot read ("1.5",
        "-5"): urllib3 raises InvalidHeader, which made Talon.One's 429 or 503 look like a broken connection."""
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # A 429 is a refusal before any processing (Talon.One's rate limit), so repeating it is safe for a
        # POST too, which is otherwise never repeated in-process (an event must not be counted twice).
        if status_code == 429 and status_code in (self.status_forcelist or ()):
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, *args: Any, **kwargs: Any) -> BudgetRetry:
        retry = super().increment(*args, **kwargs)
        assert isinstance(retry, BudgetRetry)
        if self.deadline is not None:
            response = kwargs.get("response")
            wait = retry.get_backoff_time()
            asked = (
                retry.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
            )
            wait = max(wait, asked or 0.0)
            # A Retry-After longer than the backoff cap is not waited out in the invocation: the caller hands
            # the work back for that long (a queued message) or passes it on (an API caller) instead of
            # holding a Lambda, and the batch's other customers, asleep.
            if self.clock() + wait + MIN_ATTEMPT_SECONDS > self.deadline or (asked or 0.0) > self.backoff_max:
                error = kwargs.get("error") or ResponseError("time budget exhausted")
                raise MaxRetryError(kwargs.get("_pool"), kwargs.get("url") or "", error)  # type: ignore[arg-type]
        return retry


class DeadlineTimeout(Timeout):
    """Per-attempt timeouts cut to what is left before the deadline.

    urllib3 clones the Timeout it is given for every attempt, retries included, so computing the
    remaining time in `clone` keeps a retry that hangs from outliving the caller's budget.
    """

    def __init__(
        self, connect: float, read: float, deadline: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(connect=connect, read=read)
        self._limits = (connect, read)
        self._deadline = deadline
        self._clock = clock

    def clone(self) -> Timeout:
        remaining = max(self._deadline - self._clock(), 0.001)
        connect, read = self._limits
        return Timeout(connect=min(connect, remaining), read=min(read, remaining))


def transport_error(operation: str, exc: HTTPError) -> TalonOneError:
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
    if isinstance(reason, SSLError):
        # Never worked around by turning verification off. Retryable: a certificate incident must not
        # send every queued message to the DLQ; the detail goes to the log only.
        logger.warning("TLS error talking to Talon.One", extra={"operation": operation, "reason": str(reason)})
        return TalonOneError(f"TLS error talking to Talon.One for {operation}", operation=operation, retryable=True)
    timed_out = isinstance(reason, ReadTimeoutError | ConnectTimeoutError) and not isinstance(
        reason, NewConnectionError
    )
    if timed_out:
        message = f"Talon.One did not answer {operation} in time"
    elif isinstance(reason, ResponseError):
        message = f"Talon.One kept failing {operation}: {reason}"
    else:
        message = f"Talon.One is unreachable for {operation}: {type(reason).__name__}"
    return TalonOneError(message, operation=operation, retryable=True, timed_out=timed_out)


#: Bytes asked of the socket per read of an answer's body (`read_within`).
_CHUNK = 65_536


def read_within(
    response: BaseHTTPResponse, deadline: float | None, read_timeout: float, clock: Callable[[], float]
) -> bytes:
    """The answer's body, whole, by the deadline. urllib3's read timeout bounds each wait for bytes, not the
    whole read: an answer trickled a few bytes at a time (a stuck proxy, a slow Talon.One) would hold the
    call, and the Lambda, past its budget. Past the deadline: ReadTimeoutError, a timeout like any other.
    The usual answer is read at once: its body came with its headers (`_arrived`), nothing is waited for."""
    if deadline is None or response.connection is None:  # no budget; or nothing left to read (a 204)
        return response.data
    chunks: list[bytes] = []
    while (remaining := deadline - clock()) > 0:
        # the connection is the answer's until its body is in (then back in its pool, another call's: below)
        sock = getattr(response.connection, "sock", None)  # urllib3's HTTPConnection (http.client's socket)
        if sock is not None and ((timeout := sock.gettimeout()) is None or timeout > remaining):
            sock.settimeout(min(read_timeout, remaining))  # (a syscall: only when the time left is shorter)
        try:
            arrived = not chunks and _arrived(response)
        except OSError as exc:  # peek reads the socket outside urllib3's error handling: its errors are ours
            _abandon(response)
            if isinstance(exc, TimeoutError):
                raise ReadTimeoutError(None, "", "Read timed out.") from None  # type: ignore[arg-type]
            raise ProtocolError("Connection broken while the answer was read", exc) from None
        if arrived:
            return response.data
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        if response.connection is None:  # that read ended the body: whole (a decoder's tail with it), whatever
            return b"".join([*chunks, response.read()])  # the clock says now; its connection is not ours
    _abandon(response)
    raise ReadTimeoutError(None, "", "the answer was not read within the time budget")  # type: ignore[arg-type]


def _abandon(response: BaseHTTPResponse) -> None:
    """A half-read answer's connection closed, then given back to its pool: never used again as it is."""
    response.close()
    response.release_conn()


def _arrived(response: BaseHTTPResponse) -> bool:
    """Whether the whole body is in the connection's buffer already (a body of a few KB comes in the read
    that brought the headers): then reading it waits on nothing. Looks at most once at the socket, within
    the timeout just set; an answer of unknown length (chunked) is read in steps."""
    length = response.length_remaining
    if length is None:
        return False
    reader = getattr(getattr(response, "_fp", None), "fp", None)  # http.client's response, its buffered reader
    return length == 0 or (reader is not None and len(reader.peek()) >= length)


def retry_policy(
    method: str,
    deadline: float | None,
    *,
    max_retries: int,
    backoff_factor: float,
    backoff_max: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> BudgetRetry:
    """urllib3's Retry for one call; a POST is retried only when its connection never opened."""
    retry = BudgetRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        redirect=0,
        raise_on_redirect=False,  # a redirect is answered as it came: TalonOneError.misdirected
        allowed_methods=frozenset({"PUT", "DELETE"}),
        status_forcelist=RETRYABLE_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_factor,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    retry.deadline, retry.clock, retry.sleeper = deadline, clock, sleep
    return retry


def timeout_for(
    connect: float, read: float, deadline: float | None, clock: Callable[[], float] = time.monotonic
) -> Timeout:
    if deadline is None:
        return Timeout(connect=connect, read=read)
    return DeadlineTimeout(connect, read, deadline, clock)
