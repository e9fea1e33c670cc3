"""Serving one Integration API request: request log, faults, then route, auth, checks, operation.

Order, as Talon.One answers: unknown path 404 / wrong method 405, credentials 401, Content-Type 415,
query parameters 400 (v2), body 400, then the operation (under the emulator's one lock) and its answer.
A queued fault answers instead (or, with `after`, once the request was processed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from local.emulator.auth import Credentials
from local.emulator.errors import ApiError
from local.emulator.faults import MAX_DELAY, Faults, FaultSpec
from local.emulator.http import Reply, error_reply, json_reply
from local.emulator.jsonio import dump_bytes
from local.emulator.loyalty import DEFAULT_ERA, Era
from local.emulator.model import Outcome
from local.emulator.operations import ROUTES
from local.emulator.requestlog import Exchange, RequestLog
from local.emulator.routes import Call, Route, match_route
from local.emulator.state import Backend
from local.emulator.validation import check_content_type, query_values, validate_body

logger = logging.getLogger("local.emulator")


class Concurrency:
    """Integration API requests being served at once, now and at most since the last reset (what a
    relay's budget toward Talon.One is checked against)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        with self._lock:
            self.peak = self.in_flight

    def wire(self) -> dict[str, int]:
        with self._lock:
            return {"inFlight": self.in_flight, "peak": self.peak}


class IntegrationApi:
    def __init__(
        self,
        backend: Backend,
        credentials: Credentials,
        *,
        lock: threading.RLock,
        on_change: Callable[[], None],
        stopping: threading.Event,
        max_log: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
        pause: Callable[[float], object] | None = None,
    ) -> None:
        self.backend = backend
        self.credentials = credentials
        self.faults = Faults(monotonic)
        self.concurrency = Concurrency()
        #: seconds every request waits before it is served (a remote Talon.One's latency; 0: none)
        self.latency = 0.0
        self.log = RequestLog(max_log)
        #: the application of the relay's deployment this API stands for (each request's log entry names it)
        self.application: str | None = None
        self.era: Era = DEFAULT_ERA
        self._lock = lock
        self._on_change = on_change
        self._stopping = stopping
        #: how a delay fault or the latency waits (None: on `stopping`, so stopping cuts the wait short)
        self._pause = pause or stopping.wait

    def serve(self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        self.concurrency.enter()
        try:
            if self.latency:
                self._pause(self.latency)
            return self._serve(method, raw_path, query, headers, body)
        finally:
            self.concurrency.leave()

    def _serve(self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        started = time.monotonic()
        exchange = self.log.new(method, raw_path, query, headers, body, self.application)
        fault = self.faults.take(method, raw_path)
        if fault is not None:
            exchange.fault = fault.wire()
        reply: Reply | None = None
        if fault is not None and not fault.after:
            reply = self._apply_fault(fault)
        if reply is None:
            reply = self._process(exchange, method, raw_path, query, headers, body)
            if fault is not None and fault.after:
                reply = self._apply_fault(fault) or reply
        exchange.duration_ms = (time.monotonic() - started) * 1000
        exchange.dropped = reply.drop
        exchange.status = None if reply.drop else reply.status
        logger.info(
            "%s %s -> %s effects=[%s]",
            method,
            raw_path,
            "dropped" if reply.drop else reply.status,
            ",".join(exchange.effects),
        )
        return reply

    def _apply_fault(self, fault: FaultSpec) -> Reply | None:
        """The faulty reply, or None when the fault is only a delay."""
        if fault.delay:
            self._pause(min(max(fault.delay, 0.0), MAX_DELAY))
        if fault.drop:
            return Reply(0, drop=True)
        if fault.status is None:
            return None
        headers = dict(fault.headers or {})
        if fault.status == 204:
            return Reply(204, None, headers)
        payload = fault.body
        if payload is None:
            payload = ApiError(
                fault.status,
                f"Emulated fault: HTTP {fault.status}",
                title="Emulated fault",
                details="injected through /_emulator/faults",
            ).body()
        return json_reply(fault.status, payload, headers)

    def _process(
        self, exchange: Exchange, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        try:
            route, params = match_route(ROUTES, method, raw_path)
            exchange.operation, exchange.params = route.operation, params
            application_id, exchange.auth = self.credentials.authenticate(headers, body)
            check_content_type(headers, body)
            values = query_values(route, query) if route.query else {}
            data = validate_body(route, body) if route.body is not None else {}
            with self._lock:
                outcome = self._dispatch(route, params, values, data, application_id, headers)
                payload = None if outcome.body is None else _serialise(outcome.body)
                self._on_change()
        except ApiError as error:
            exchange.effects = []
            return error_reply(error)
        exchange.effects = outcome.effects
        if payload is None:
            return Reply(outcome.status)
        return Reply(outcome.status, payload, {"Content-Type": "application/json"})

    def _dispatch(
        self,
        route: Route,
        params: dict[str, str],
        query: dict[str, Any],
        data: dict[str, Any],
        application_id: int,
        headers: Mapping[str, str],
    ) -> Outcome:
        return route.handle(Call(self.backend, params, query, data, application_id, self.era, headers))


def _serialise(body: dict[str, Any] | list[Any]) -> bytes:
    try:
        return dump_bytes(body)
    except ValueError:  # a non-finite number got past the checks: never send it
        raise ApiError(500, "The answer would hold a number out of range", title="Internal error") from None
