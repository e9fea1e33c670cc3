"""The Talon.One Integration API client: exactly the five v1 operations, nothing else.

One urllib3 PoolManager per container (a warm Lambda keeps its keep-alive connections), explicit
timeouts, and urllib3's Retry with a time budget on top: PUT and DELETE are retried on 409, 429, 5xx,
connection errors and timeouts; POST only when the request surely never reached the server, unless
the caller says the call is deduplicated.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any, TypeVar, overload
from urllib.parse import quote

import urllib3
from pydantic import BaseModel, ValidationError
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util import Retry, Timeout, parse_url

from talon_relay.auth import Auth
from talon_relay.errors import RETRYABLE_STATUSES, TalonOneError
from talon_relay.models import (
    IntegrationState,
    NewCustomerProfile,
    NewCustomerSession,
    NewEvent,
    NewReferral,
    Referral,
    ResponseModel,
)
from talon_relay.observability import logger

USER_AGENT = "talon-relay/1.0"
#: Do not start another attempt with less time than this left in the caller's budget.
MIN_ATTEMPT_SECONDS = 0.25

_M = TypeVar("_M", bound=ResponseModel)

# Created once per container; thread-safe, and sized for concurrent batch processing.
_POOL = urllib3.PoolManager(num_pools=4, maxsize=16, block=False)


def path_segment(value: str, *, name: str) -> str:
    """Percent-encode `value` as exactly one path segment, so no id can change the path."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{name} must be a non-empty string")
    if value in (".", ".."):
        # Dot segments are removed by URL normalisation (RFC 3986 5.2.4), even percent-encoded.
        raise ValueError(f"{name} cannot be {value!r}: it is not a usable path segment")
    return quote(value, safe="")


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

    def new(self, **kw: Any) -> BudgetRetry:
        retry = super().new(**kw)
        assert isinstance(retry, BudgetRetry)
        retry.deadline = self.deadline
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> BudgetRetry:
        retry = super().increment(*args, **kwargs)
        assert isinstance(retry, BudgetRetry)
        if self.deadline is not None:
            response = kwargs.get("response")
            wait = retry.get_backoff_time()
            if response is not None and self.respect_retry_after_header:
                wait = max(wait, retry.get_retry_after(response) or 0.0)
            if time.monotonic() + wait + MIN_ATTEMPT_SECONDS > self.deadline:
                error = kwargs.get("error") or ResponseError("time budget exhausted")
                raise MaxRetryError(kwargs.get("_pool"), kwargs.get("url") or "", error)  # type: ignore[arg-type]
        return retry


class DeadlineTimeout(Timeout):
    """Per-attempt timeouts cut to what is left before the deadline.

    urllib3 clones the Timeout it is given for every attempt, retries included, so computing the
    remaining time in `clone` keeps a retry that hangs from outliving the caller's budget.
    """

    def __init__(self, connect: float, read: float, deadline: float) -> None:
        super().__init__(connect=connect, read=read)
        self._limits = (connect, read)
        self._deadline = deadline

    def clone(self) -> Timeout:
        remaining = max(self._deadline - time.monotonic(), 0.001)
        connect, read = self._limits
        return Timeout(connect=min(connect, remaining), read=min(read, remaining))


class IntegrationClient:
    """Talon.One's Integration API v1. Raises TalonOneError for anything but success."""

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_retries: int = 4,
        backoff_factor: float = 0.2,
        backoff_max: float = 5.0,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.auth = auth
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self._pool = pool or _POOL

    def __repr__(self) -> str:
        return f"IntegrationClient(base_url={self.base_url!r}, auth={self.auth!r})"

    # --- the five operations ------------------------------------------------------------------

    def update_customer_session(
        self,
        customer_session_id: str,
        body: NewCustomerSession,
        *,
        budget: float | None = None,
    ) -> IntegrationState:
        path = "/v1/customer_sessions/" + path_segment(customer_session_id, name="customerSessionId")
        return self._call("updateCustomerSession", "PUT", path, body, IntegrationState, budget=budget)

    def update_customer_profile(
        self,
        integration_id: str,
        body: NewCustomerProfile,
        *,
        budget: float | None = None,
    ) -> IntegrationState:
        path = "/v1/customer_profiles/" + path_segment(integration_id, name="integrationId")
        return self._call("updateCustomerProfile", "PUT", path, body, IntegrationState, budget=budget)

    def track_event(
        self, body: NewEvent, *, budget: float | None = None, deduplicated: bool = False
    ) -> IntegrationState:
        return self._call(
            "trackEvent",
            "POST",
            "/v1/events",
            body,
            IntegrationState,
            budget=budget,
            deduplicated=deduplicated,
        )

    def create_referral(
        self, body: NewReferral, *, budget: float | None = None, deduplicated: bool = False
    ) -> Referral:
        return self._call(
            "createReferral",
            "POST",
            "/v1/referrals",
            body,
            Referral,
            budget=budget,
            deduplicated=deduplicated,
        )

    def delete_customer_data(self, integration_id: str, *, budget: float | None = None) -> None:
        path = "/v1/customer_data/" + path_segment(integration_id, name="integrationId")
        self._call("deleteCustomerData", "DELETE", path, None, None, budget=budget)

    # --- transport ----------------------------------------------------------------------------

    def _retry(self, method: str, deadline: float | None, deduplicated: bool) -> BudgetRetry:
        methods = {"PUT", "DELETE"} | ({"POST"} if deduplicated else set())
        retry = BudgetRetry(
            total=self.max_retries,
            connect=self.max_retries,
            read=self.max_retries,
            status=self.max_retries,
            other=0,
            redirect=0,
            allowed_methods=frozenset(methods),
            status_forcelist=RETRYABLE_STATUSES,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_factor,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        retry.deadline = deadline
        return retry

    def _timeout(self, deadline: float | None) -> Timeout:
        if deadline is None:
            return Timeout(connect=self.connect_timeout, read=self.read_timeout)
        return DeadlineTimeout(self.connect_timeout, self.read_timeout, deadline)

    @overload
    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        body: BaseModel | None,
        response_model: type[_M],
        *,
        budget: float | None,
        deduplicated: bool = False,
    ) -> _M: ...

    @overload
    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        body: BaseModel | None,
        response_model: None,
        *,
        budget: float | None,
        deduplicated: bool = False,
    ) -> None: ...

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        body: BaseModel | None,
        response_model: type[_M] | None,
        *,
        budget: float | None,
        deduplicated: bool = False,
    ) -> _M | None:
        payload = body.to_json() if body is not None else b""  # type: ignore[attr-defined]
        url = self.base_url + path
        deadline = None if budget is None else time.monotonic() + budget
        started = time.perf_counter()
        refreshed = False
        while True:
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                **self.auth.headers(payload),
            }
            try:
                response = self._pool.request(
                    method,
                    url,
                    body=payload if body is not None else None,
                    headers=headers,
                    retries=self._retry(method, deadline, deduplicated),
                    timeout=self._timeout(deadline),
                    preload_content=True,
                )
            except HTTPError as exc:  # MaxRetryError, or an error of a request not to be retried
                raise _transport_error(operation, exc) from None
            status = response.status
            if status == 401 and not refreshed and self.auth.refresh():
                refreshed = True  # the key may have been rotated: one fresh read, one retry
                continue
            break
        attempts = 1 + len(response.retries.history) if response.retries else 1
        # DEBUG: a success is visible in the effects and in Lambda's REPORT line; failures are logged
        # by the triggers as warnings. One line less per call is a tenth of the relay's own time.
        logger.debug(
            "talon.one call",
            extra={
                "operation": operation,
                "status": status,
                "attempts": attempts,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        if not 200 <= status < 300:
            raise TalonOneError.from_response(status, response.data)
        if response_model is None:
            return None
        try:
            return response_model.from_response(response.data)
        except ValidationError as exc:
            # Talon.One applied the request: never a failure to retry or dead-letter (that would
            # apply it twice); the caller gets the body as sent, without the parsed model.
            raise TalonOneError(
                f"Talon.One answered {operation} with a body that is not a "
                f"{response_model.__name__}: {exc.error_count()} problem(s), first at "
                f"{'.'.join(str(p) for p in exc.errors()[0]['loc']) or 'body'}",
                status=status,
                body=response.data,
                accepted=True,
            ) from None


def _transport_error(operation: str, exc: HTTPError) -> TalonOneError:
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
    if isinstance(reason, SSLError):
        # Never worked around by turning verification off. Retryable: a certificate incident must not
        # send every queued message to the DLQ; the detail goes to the log only.
        logger.warning("TLS error talking to Talon.One", extra={"operation": operation, "reason": str(reason)})
        return TalonOneError(f"TLS error talking to Talon.One for {operation}", retryable=True)
    timed_out = isinstance(reason, ReadTimeoutError | ConnectTimeoutError) and not isinstance(
        reason, NewConnectionError
    )
    if timed_out:
        message = f"Talon.One did not answer {operation} in time"
    elif isinstance(reason, ResponseError):
        message = f"Talon.One kept failing {operation}: {reason}"
    else:
        message = f"Talon.One is unreachable for {operation}: {type(reason).__name__}"
    return TalonOneError(message, retryable=True, timed_out=timed_out)
