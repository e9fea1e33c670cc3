"""The Talon.One Integration API client: one generic call over an operation-table entry.

`send` sends one call (operation, path with its query, body bytes) and returns Talon.One's answer as
it came (status and bytes); anything but a 2xx raises TalonOneError. The typed methods below are thin
conveniences for library use: each checks its ids, sends its model's JSON and parses the answer into
its response model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import urllib3
from pydantic_core import ValidationError
from urllib3.exceptions import HTTPError

from talon_relay import operations, telemetry
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.talon.auth import Auth
from talon_relay.talon.errors import TalonOneError
from talon_relay.talon.paths import checked_params
from talon_relay.talon.transport import (
    BudgetRetry,
    check_base_url,
    read_within,
    retry_policy,
    timeout_for,
    transport_error,
)

if TYPE_CHECKING:  # the typed conveniences' models, imported when one is first used
    from talon_relay.wire.base import RequestModel
    from talon_relay.wire.models import NewCustomerProfile, NewCustomerSession, NewEvent, NewReferral
    from talon_relay.wire.responses import IntegrationState, Referral

USER_AGENT = "talon-relay/1.0"


class Answer(NamedTuple):
    """Talon.One's successful answer, byte for byte."""

    status: int
    data: bytes


class IntegrationClient:
    """Talon.One's Integration API. Raises TalonOneError for anything but success."""

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
        counts: telemetry.Counts | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.auth = auth
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self._pool = pool or urllib3.PoolManager(num_pools=4, maxsize=16, block=False)
        #: the pool of Talon.One's host in `_pool` and the base URL's path, looked up once (`_host_pool`)
        self._host: urllib3.HTTPConnectionPool | None = None
        self._prefix = urllib3.util.parse_url(self.base_url).path or ""
        #: the call's retry policy without its deadline, made once (`_retries`)
        self._retry: BudgetRetry | None = None
        #: where its calls, retries and errors are counted (a container's invocation counters)
        self._counts = counts or telemetry.Counts()
        #: the clock a call's budget is on, and what waits between attempts (a test passes a fake clock's)
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"IntegrationClient(base_url={self.base_url!r}, auth={self.auth!r})"

    def _host_pool(self) -> urllib3.HTTPConnectionPool:
        """Talon.One's connection pool in the pool manager, looked up once: each call then skips the
        manager's URL parsing and pool lookup (what urllib3's `PoolManager.request` does per call). A pool
        the manager closed (a container reset, an eviction) is looked up again."""
        host = self._host
        if host is None or host.pool is None:
            host = self._host = self._pool.connection_from_url(self.base_url)
        return host

    def _retries(self, method: str, deadline: float | None) -> BudgetRetry:
        """The call's retry policy (transport.retry_policy), its settings made once and its deadline its own."""
        if self._retry is None:
            self._retry = retry_policy(  # the same for every method: allowed_methods says which are repeated
                method,
                None,
                max_retries=self.max_retries,
                backoff_factor=self.backoff_factor,
                backoff_max=self.backoff_max,
                clock=self._clock,
                sleep=self._sleep,
            )
        return self._retry.with_deadline(deadline)

    def send(
        self,
        operation: Operation,
        path: str,
        payload: bytes | None,
        *,
        budget: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one call: `path` with its query, `payload` the body bytes as they go (retried within
        `budget` seconds where that is safe), `headers` those Talon.One acts on (`Idempotency-Key`)."""
        extra = dict(headers or {})
        url = self._prefix + path
        deadline = None if budget is None else self._clock() + budget
        started = time.perf_counter()
        refreshed = False
        while True:
            sent = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                **extra,
                **self.auth.headers(payload or b""),
            }
            try:
                # as urllib3's PoolManager.request sends it, on the host's pool (redirects refused by the policy)
                response = self._host_pool().urlopen(
                    operation.method,
                    url,
                    body=payload,
                    headers=sent,
                    retries=self._retries(operation.method, deadline),
                    timeout=timeout_for(self.connect_timeout, self.read_timeout, deadline, self._clock),
                    assert_same_host=False,
                    preload_content=False,  # the body is read by the deadline (transport.read_within)
                )
                data = read_within(response, deadline, self.read_timeout, self._clock)
            except HTTPError as exc:  # MaxRetryError, or an error of a request not to be retried
                self._counts.add(telemetry.CALLS)
                self._counts.add(telemetry.ERRORS)
                raise transport_error(operation.name, exc) from None
            status = response.status
            if status == 401 and not refreshed and self.auth.refresh():
                refreshed = True  # the key may have been rotated: one fresh read, one retry
                continue
            break
        history = response.retries.history if response.retries else ()
        attempts = 1 + len(history)
        self._counts.add(telemetry.CALLS)
        self._counts.add(telemetry.RETRIES, len(history) + refreshed)
        self._counts.add(telemetry.THROTTLED, sum(1 for past in history if past.status == 429) + (status == 429))
        # DEBUG: a success is visible in the effects and in Lambda's REPORT line; failures are logged
        # by the adapters as warnings. One line less per call is a tenth of the relay's own time.
        logger.debug(
            "talon.one call",
            extra={
                "operation": operation.name,
                "status": status,
                "attempts": attempts,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        if not 200 <= status < 300:
            error = TalonOneError.from_response(
                status, data, operation=operation.name, retry_after=response.headers.get("Retry-After")
            )
            if error.retryable or error.needs_operator:
                self._counts.add(telemetry.ERRORS)
            raise error
        return Answer(status, data)

    # --- typed conveniences (library use) -------------------------------------------------------

    def _typed(
        self, operation: Operation, params: dict[str, str], body: RequestModel | None, budget: float | None
    ) -> Any:
        """Send a model built in code; the answer parsed into the table entry's response model."""
        model = operation.response_model
        assert model is not None, f"{operation.name} has no response model in the table"
        path = operation.canonical_path(checked_params(operation, params))
        answer = self.send(operation, path, None if body is None else body.to_json(), budget=budget)
        try:
            return model.from_response(answer.data)
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
            raise TalonOneError(
                f"Talon.One answered {operation.name} with a body that is not a {model.__name__}: "
                f"{exc.error_count()} problem(s), first at {where}",
                operation=operation.name,
                status=answer.status,
                body=answer.data,
            ) from None

    def update_customer_session(
        self, customer_session_id: str, body: NewCustomerSession, *, budget: float | None = None
    ) -> IntegrationState:
        params = {"customerSessionId": customer_session_id}
        state: IntegrationState = self._typed(operations.UPDATE_CUSTOMER_SESSION, params, body, budget)
        return state

    def update_customer_profile(
        self, integration_id: str, body: NewCustomerProfile, *, budget: float | None = None
    ) -> IntegrationState:
        params = {"integrationId": integration_id}
        state: IntegrationState = self._typed(operations.UPDATE_CUSTOMER_PROFILE, params, body, budget)
        return state

    def track_event(self, body: NewEvent, *, budget: float | None = None) -> IntegrationState:
        state: IntegrationState = self._typed(operations.TRACK_EVENT, {}, body, budget)
        return state

    def create_referral(self, body: NewReferral, *, budget: float | None = None) -> Referral:
        referral: Referral = self._typed(operations.CREATE_REFERRAL, {}, body, budget)
        return referral

    def delete_customer_data(self, integration_id: str, *, budget: float | None = None) -> None:
        operation = operations.DELETE_CUSTOMER_DATA
        path = operation.canonical_path(checked_params(operation, {"integrationId": integration_id}))
        self.send(operation, path, None, budget=budget)
