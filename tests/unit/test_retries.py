"""Retries: which calls are retried on what, the time budget, Retry-After and timeouts."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from urllib3.util import Timeout
from werkzeug import Request, Response

from talon_relay.talon.auth import ApiKeyAuth
from talon_relay.talon.client import IntegrationClient
from talon_relay.talon.errors import TalonOneError
from talon_relay.talon.transport import MIN_ATTEMPT_SECONDS
from talon_relay.wire.models import NewCustomerSession, NewEvent, NewReferral
from tests.support import FakeClock
from tests.unit import payloads

FAST = {"backoff_factor": 0.001, "backoff_max": 0.01}


class Script:
    """A server handler that plays a list of answers, then repeats the last one forever; `times` are the
    readings of `clock` (the client's) when each request came."""

    def __init__(self, *answers: Callable[[], Response], clock: FakeClock | None = None) -> None:
        self.answers = list(answers)
        self.clock = clock or FakeClock()
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        request.get_data()
        with self.lock:
            index = min(len(self.times), len(self.answers) - 1)
            self.times.append(self.clock())
        return self.answers[index]()

    @property
    def count(self) -> int:
        return len(self.times)


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[], Response]:
    body = json.dumps({"message": f"HTTP {code}"})
    return lambda: Response(body, status=code, headers=headers, content_type="application/json")


def ok(code: int) -> Callable[[], Response]:
    """Success with an IntegrationState (or no body for 204)."""
    if code == 204:
        return lambda: Response(status=204)
    body = json.dumps(payloads.integration_state())
    return lambda: Response(body, status=code, content_type="application/json")


def referral_created() -> Response:
    return Response(json.dumps(payloads.referral()), status=201, content_type="application/json")


def on_every_path(server: HTTPServer, script: Script) -> Script:
    for path in ("/v1/customer_sessions/s-1", "/v1/customer_data/p-1", "/v1/events", "/v1/referrals"):
        server.expect_request(path).respond_with_handler(script)
    return script


def client_for(server_or_url: HTTPServer | str, clock: FakeClock | None = None, **options: Any) -> IntegrationClient:
    """A client on a fake clock (a fresh one unless given): its budget is on it, and its waits between
    attempts advance it instead of sleeping."""
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url_for("/")
    clock = clock or FakeClock()
    return IntegrationClient(url, ApiKeyAuth("k"), **(FAST | options), clock=clock, sleep=clock.sleep)


# The idempotent operations (retried on 409/429/5xx) and the POSTs (not, by default).
def put_session(client: IntegrationClient, **kw: Any) -> Any:
    return client.update_customer_session("s-1", NewCustomerSession(total=1), **kw)


def delete_data(client: IntegrationClient, **kw: Any) -> Any:
    return client.delete_customer_data("p-1", **kw)


def post_event(client: IntegrationClient, **kw: Any) -> Any:
    return client.track_event(NewEvent(session_id="s-1", type="t", attributes={}), **kw)


def post_referral(client: IntegrationClient, **kw: Any) -> Any:
    return client.create_referral(NewReferral(campaign_id=1, advocate_profile_integration_id="p-1"), **kw)


IDEMPOTENT = [pytest.param(put_session, 200, id="PUT"), pytest.param(delete_data, 204, id="DELETE")]
POSTS = [pytest.param(post_event, id="trackEvent"), pytest.param(post_referral, id="createReferral")]


def post_success(call: Callable[..., Any]) -> Callable[[], Response]:
    return referral_created if call is post_referral else ok(201)


# --- idempotent calls --------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [409, 429, 500, 503])
@pytest.mark.parametrize(("call", "success"), IDEMPOTENT)
def test_idempotent_calls_are_retried_until_max_retries_then_fail(
    httpserver: HTTPServer, call: Callable[..., Any], success: int, failure: int
) -> None:
    # Given a server that keeps answering a transient failure
    script = on_every_path(httpserver, Script(status(failure)))
    client = client_for(httpserver, max_retries=3)
    # When an idempotent call is made
    with pytest.raises(TalonOneError) as exc:
        call(client)
    # Then it was tried max_retries + 1 times, and the last status is reported as retryable
    assert script.count == 4
    assert exc.value.status == failure
    assert exc.value.retryable is True


@pytest.mark.parametrize("failure", [409, 429, 500, 503])
@pytest.mark.parametrize(("call", "success"), IDEMPOTENT)
def test_idempotent_calls_succeed_after_transient_failures(
    httpserver: HTTPServer, call: Callable[..., Any], success: int, failure: int
) -> None:
    # Given a server that fails twice and then answers
    script = on_every_path(httpserver, Script(status(failure), status(failure), ok(success)))
    client = client_for(httpserver, max_retries=3)
    # When the call is made, then it succeeds on the third request
    call(client)
    assert script.count == 3


def test_max_retries_zero_means_one_attempt(httpserver: HTTPServer) -> None:
    script = on_every_path(httpserver, Script(status(503)))
    with pytest.raises(TalonOneError):
        put_session(client_for(httpserver, max_retries=0))
    assert script.count == 1


# --- POSTs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [409, 500, 503])
@pytest.mark.parametrize("call", POSTS)
def test_posts_are_not_retried_on_an_answer(httpserver: HTTPServer, call: Callable[..., Any], failure: int) -> None:
    # Given a POST answered with a transient failure (it may have been applied)
    script = on_every_path(httpserver, Script(status(failure), post_success(call)))
    # When the client posts, then it does not repeat the request itself
    with pytest.raises(TalonOneError) as exc:
        call(client_for(httpserver, max_retries=3))
    assert script.count == 1
    # And it tells the caller the failure is transient
    assert exc.value.status == failure
    assert exc.value.retryable is True


@pytest.mark.parametrize("call", POSTS)
def test_a_post_refused_with_429_is_sent_again(httpserver: HTTPServer, call: Callable[..., Any]) -> None:
    # Given a POST refused with a 429 (rate limited: refused before anything was processed)
    script = on_every_path(httpserver, Script(status(429), post_success(call)))
    # When the client posts, then it repeats the request and the second answer is the result
    call(client_for(httpserver, max_retries=3))
    assert script.count == 2


# --- no answer at all: connection refused, dropped, timed out ---------------------------------


@pytest.fixture
def retry_log(caplog: pytest.LogCaptureFixture) -> Callable[[], int]:
    """How many times urllib3 said it was retrying a request that got no answer."""
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")

    def count() -> int:
        return sum(
            1
            for record in caplog.records
            if record.name == "urllib3.connectionpool" and "Retrying" in record.getMessage()
        )

    return count


@pytest.mark.parametrize("call", [*POSTS, pytest.param(put_session, id="PUT"), pytest.param(delete_data, id="DELETE")])
def test_connection_refused_is_retried_even_for_posts(
    closed_port: int, retry_log: Callable[[], int], call: Callable[..., Any]
) -> None:
    # Given nothing listening (the request surely never reached Talon.One)
    client = client_for(f"http://127.0.0.1:{closed_port}", max_retries=2)
    # When a call is made
    with pytest.raises(TalonOneError) as exc:
        call(client)
    # Then it was retried max_retries times, and fails as unreachable (not a timeout)
    assert retry_log() == 2
    assert exc.value.status is None
    assert exc.value.timed_out is False
    assert exc.value.retryable is True


class RawServer:
    """A server on a loopback socket that answers (or does not) as `_answer` says, one thread a connection."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._accepted(conn)

    def _accepted(self, conn: socket.socket) -> None:
        self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        raise NotImplementedError

    @staticmethod
    def _head(conn: socket.socket) -> bytes | None:
        """A request's bytes up to the end of its headers (with what came after), or None: the client left."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


class DroppingServer(RawServer):
    """Accepts a connection, reads the request, and closes it without answering."""

    def __init__(self) -> None:
        self.requests = 0
        super().__init__()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            self._head(conn)
            self.requests += 1


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()


def test_a_post_whose_connection_drops_after_sending_is_not_retried(
    dropping_server: DroppingServer,
) -> None:
    # Given a server that reads the request and hangs up (it may have acted on it)
    client = client_for(f"http://127.0.0.1:{dropping_server.port}", max_retries=3)
    # When an event is posted, then it is sent once only
    with pytest.raises(TalonOneError) as exc:
        post_event(client)
    assert dropping_server.requests == 1
    assert exc.value.status is None


def test_a_put_whose_connection_drops_is_retried(dropping_server: DroppingServer) -> None:
    client = client_for(f"http://127.0.0.1:{dropping_server.port}", max_retries=3)
    with pytest.raises(TalonOneError):
        put_session(client)
    assert dropping_server.requests == 4


@pytest.fixture
def hang() -> Iterator[Callable[[], Response]]:
    """An answer that blocks until the test ends (then answers 200), to force read timeouts."""
    release = threading.Event()

    def answer() -> Response:
        release.wait(timeout=10)
        return ok(200)()

    yield answer
    release.set()


@pytest.mark.parametrize(("call", "expected_requests"), [(put_session, 2), (post_event, 1)])
def test_a_read_timeout_is_a_retryable_timed_out_error(
    threaded_httpserver: HTTPServer,
    hang: Callable[[], Response],
    call: Callable[..., Any],
    expected_requests: int,
) -> None:
    # Given a server slower than the client's read timeout
    script = on_every_path(threaded_httpserver, Script(hang))
    client = client_for(threaded_httpserver, read_timeout=0.2, max_retries=1)
    # When a call is made
    with pytest.raises(TalonOneError) as exc:
        call(client)
    # Then it failed as a timeout the caller may retry (PUT was retried once; POST was not)
    assert exc.value.timed_out is True
    assert exc.value.retryable is True
    assert exc.value.status is None
    assert script.count == expected_requests


@pytest.fixture
def headers_then_nothing() -> Iterator[Callable[[Request], Response]]:
    """An answer whose headers go out at once (a 10-byte body announced) and whose body waits for the test's
    end: a Talon.One, or a proxy, that stops between the headers and the body."""
    release = threading.Event()
    served: list[int] = []

    def answer(request: Request) -> Response:
        request.get_data()
        served.append(1)
        if len(served) > 1:  # the next call: answered at once
            return ok(200)()

        def body() -> Iterator[bytes]:
            yield b""  # werkzeug sends the status and headers on the first write
            release.wait(timeout=10)
            yield b'{"a":"xx"}'

        return Response(body(), headers={"Content-Length": "10"}, content_type="application/json")

    yield answer
    release.set()


def test_an_answer_whose_body_never_follows_its_headers_is_a_timed_out_error(
    threaded_httpserver: HTTPServer, headers_then_nothing: Callable[[Request], Response]
) -> None:
    # Given a server that sends an answer's headers and then no body, slower than the client's read timeout,
    # and a call with a time budget (its body is read by the deadline)
    threaded_httpserver.expect_request("/v1/customer_sessions/s-1").respond_with_handler(headers_then_nothing)
    client = client_for(threaded_httpserver, read_timeout=0.2, max_retries=1)
    # When a call is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client, budget=30)
    # Then it failed as a timeout the caller may retry (not a bare socket error: a 500, an unforeseen failure)
    assert exc.value.timed_out is True
    assert exc.value.retryable is True
    # And the next call on the same client gets its own answer (the half-read connection is not used again)
    assert put_session(client, budget=30).session.integration_id == payloads.customer_session()["integrationId"]


class ResettingServer(RawServer):
    """Answers its first request's headers (a 10-byte body announced), then resets the connection (RST: a
    crashed proxy); every later request gets a 200 at once."""

    def _accepted(self, conn: socket.socket) -> None:
        threading.Thread(target=self._answer_or_reset, args=(conn, self.connections == 1), daemon=True).start()

    def _answer_or_reset(self, conn: socket.socket, reset: bool) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                while (data := self._head(conn)) is not None:
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                    while len(body) < length:
                        body += conn.recv(65536)
                    if reset:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n")
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                    answer = json.dumps(payloads.integration_state()).encode()
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                        + answer
                    )


@pytest.fixture
def resetting_server() -> Iterator[ResettingServer]:
    server = ResettingServer()
    yield server
    server.close()


def test_an_answer_reset_after_its_headers_is_a_retryable_error(resetting_server: ResettingServer) -> None:
    # Given a server that sends an answer's headers and then resets the connection, and a call with a budget
    client = client_for(resetting_server.url, max_retries=1)
    # When a call is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client, budget=30)
    # Then it failed as Talon.One unreachable, for later (not a bare ConnectionResetError: an unforeseen failure)
    assert exc.value.retryable is True
    assert "unreachable" in str(exc.value)
    # And the next call on the same client gets its answer, on a new connection
    assert put_session(client, budget=30).session.integration_id == payloads.customer_session()["integrationId"]
    assert resetting_server.connections == 2


# --- the time budget ---------------------------------------------------------------------------


def test_a_call_stops_within_its_budget_when_the_server_keeps_failing(
    httpserver: HTTPServer,
) -> None:
    # Given a server that always answers 503, and real backoff between attempts (0.2 s doubling), on a clock
    clock = FakeClock()
    script = on_every_path(httpserver, Script(status(503)))
    client = client_for(httpserver, clock, max_retries=10, backoff_factor=0.2, backoff_max=5.0)
    # When a call with a 1 s budget is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client, budget=1.0)
    # Then it waited between attempts, and the waits (plus the least an attempt needs) fit in the budget
    assert clock.slept and all(wait >= 0.2 for wait in clock.slept)
    assert sum(clock.slept) + MIN_ATTEMPT_SECONDS <= 1.0
    # And it stopped well before max_retries, and reports the 503
    assert 2 <= script.count < 11
    assert exc.value.status == 503
    assert exc.value.retryable is True


def test_a_retry_that_hangs_does_not_outlive_the_budget(
    threaded_httpserver: HTTPServer, hang: Callable[[], Response], attempt_timeouts: list[Timeout]
) -> None:
    # Given a server whose first answer is a 503 that takes 1.7 s of the client's clock, and which then
    # stops answering at all; a backoff of 0.1 s doubling (the first retry is at once)
    clock = FakeClock()

    def slow_503() -> Response:
        clock.advance(1.7)
        return status(503)()

    script = on_every_path(threaded_httpserver, Script(slow_503, hang))
    client = client_for(threaded_httpserver, clock, max_retries=3, read_timeout=30, backoff_factor=0.1, backoff_max=5.0)
    # When a call with a 2 s budget is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client, budget=2.0)
    # Then the retry's wait for an answer is cut to what is left of the budget (0.3 s, not 30 s) ...
    assert [timeout.read_timeout for timeout in attempt_timeouts] == pytest.approx([2.0, 0.3])
    # ... and once it timed out, no further attempt fits (the next backoff, at least 0.2 s, does not)
    assert script.count == 2
    assert exc.value.timed_out is True


def test_retry_after_is_respected(httpserver: HTTPServer) -> None:
    # Given a 429 asking for a 1 s pause, then success
    clock = FakeClock()
    script = on_every_path(httpserver, Script(status(429, {"Retry-After": "1"}), ok(200), clock=clock))
    # When the session is updated (a Retry-After within the backoff cap is waited out)
    put_session(client_for(httpserver, clock, max_retries=2, backoff_max=5.0), budget=10.0)
    # Then the client waited what the server asked, and the second request came no sooner
    assert clock.slept == [1.0]
    assert script.count == 2
    assert script.times[1] - script.times[0] >= 1.0


def test_a_retry_after_beyond_the_budget_ends_the_call_at_once(httpserver: HTTPServer) -> None:
    # Given a 503 asking for a 30 s pause, and a 2 s budget
    clock = FakeClock()
    script = on_every_path(httpserver, Script(status(503, {"Retry-After": "30"}), ok(200)))
    # When the call is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client_for(httpserver, clock, max_retries=3), budget=2.0)
    # Then it does not wait: it returns the 503 without sleeping
    assert clock.slept == []
    assert script.count == 1
    assert exc.value.status == 503
    assert exc.value.retryable is True
    # And the error keeps how long Talon.One asked to wait (a queued message waits at least that long)
    assert exc.value.retry_after == "30"


def test_a_retry_after_longer_than_the_backoff_cap_is_not_waited_out(httpserver: HTTPServer) -> None:
    # Given a 429 asking for 8 s, a budget of 60 s, and a backoff cap of 5 s (the default)
    clock = FakeClock()
    script = on_every_path(httpserver, Script(status(429, {"Retry-After": "8"}), ok(200)))
    # When the call is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client_for(httpserver, clock, max_retries=3, backoff_max=5.0), budget=60.0)
    # Then the invocation is not held asleep: the 429 comes back without a wait, with its Retry-After
    assert clock.slept == []
    assert script.count == 1
    assert (exc.value.status, exc.value.retry_after) == (429, "8")


@pytest.mark.parametrize("value", ["1.5", "-5", "soon"])
def test_a_429_with_a_retry_after_urllib3_cannot_read_is_still_talon_ones_429(
    httpserver: HTTPServer, value: str
) -> None:
    # Given Talon.One rate limiting with a Retry-After that is neither whole seconds nor an HTTP date, then success
    clock = FakeClock()
    script = on_every_path(httpserver, Script(status(429, {"Retry-After": value}), ok(200)))
    # When the session is updated
    put_session(client_for(httpserver, clock, max_retries=2, backoff_factor=0.5), budget=10.0)
    # Then the 429 was taken as Talon.One's (not as a broken connection): retried as one without a Retry-After
    # (urllib3 waits no backoff before a first retry)
    assert script.count == 2
    assert clock.slept == []


def test_a_429_with_an_unreadable_retry_after_and_no_retry_left_reaches_the_caller(httpserver: HTTPServer) -> None:
    # Given Talon.One rate limiting with a fractional Retry-After, and no retries
    on_every_path(httpserver, Script(status(429, {"Retry-After": "1.5"}), ok(200)))
    # When the call is made
    with pytest.raises(TalonOneError) as exc:
        put_session(client_for(httpserver, max_retries=0), budget=10.0)
    # Then the caller gets Talon.One's 429 (an API caller: passed through), not a 502 "unreachable"
    assert (exc.value.status, exc.value.retryable) == (429, True)


@pytest.mark.parametrize("call", [pytest.param(put_session, id="PUT"), *POSTS])
def test_a_429_whose_retry_after_exceeds_the_budget_is_handed_back_with_it(
    httpserver: HTTPServer, call: Callable[..., Any]
) -> None:
    # Given Talon.One rate limiting with a 60 s Retry-After, and a 2 s budget
    script = on_every_path(httpserver, Script(status(429, {"Retry-After": "60"}), ok(200)))
    # When the call is made (a PUT, or a POST: a 429 is retried for either when the wait fits)
    with pytest.raises(TalonOneError) as exc:
        call(client_for(httpserver, max_retries=3), budget=2.0)
    # Then it did not wait, and the 429 carries the Retry-After for whoever retries later
    assert script.count == 1
    assert (exc.value.status, exc.value.retry_after, exc.value.retryable) == (429, "60", True)
