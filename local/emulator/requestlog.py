"""The request log: every Integration API request as it arrived (no secrets), with what it got.

Each entry keeps the body bytes exactly as received: `bodyBase64` (always) and `bodyText` (when they
are UTF-8), beside `body`, the parsed JSON (None when the body is not JSON with finite numbers; then
`rawBody` shows its first 2000 characters).
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.emulator.headers import loggable
from local.emulator.jsonio import loads_strict
from local.emulator.store import rfc3339


@dataclass
class Exchange:
    """One Integration API request as the request log shows it."""

    id: int
    timestamp: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw_body: str | None
    data: bytes = b""
    operation: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    auth: str | None = None
    status: int | None = None
    effects: list[str] = field(default_factory=list)
    fault: dict[str, Any] | None = None
    dropped: bool = False
    duration_ms: float = 0.0
    #: The Talon.One application this emulator stands for (its name in the relay's deployment).
    application: str | None = None

    def wire(self) -> dict[str, Any]:
        try:
            text: str | None = self.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        body = {
            "id": self.id,
            "application": self.application,
            "timestamp": self.timestamp,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation,
            "params": self.params,
            "headers": self.headers,
            "auth": self.auth,
            "body": self.body,
            "bodyBase64": base64.b64encode(self.data).decode("ascii"),
            "bodyText": text,
            "status": self.status,
            "effects": self.effects,
            "fault": self.fault,
            "dropped": self.dropped,
            "durationMs": round(self.duration_ms, 3),
        }
        if self.raw_body is not None:
            body["rawBody"] = self.raw_body
        return body


class RequestLog:
    """The last `max_log` exchanges, oldest first; thread-safe."""

    def __init__(self, max_log: int = 10_000, application: str | None = None) -> None:
        self.application = application
        self._log: deque[Exchange] = deque(maxlen=max_log)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def new(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        application: str | None = None,
    ) -> Exchange:
        """A request received, logged under `application` (the one it reached; else the log's own)."""
        parsed: Any = None
        raw_body: str | None = None
        if body.strip():
            try:
                parsed = loads_strict(body)
            except ValueError:
                raw_body = body[:2000].decode("utf-8", errors="replace")
        exchange = Exchange(
            id=next(self._ids),
            timestamp=rfc3339(datetime.now(UTC)),
            method=method,
            path=raw_path,
            query=query,
            headers=loggable(headers),
            body=parsed,
            raw_body=raw_body,
            data=bytes(body),
            application=application or self.application,
        )
        with self._lock:
            self._log.append(exchange)
        return exchange

    def list(self, application: str | None = None) -> list[dict[str, Any]]:
        """Every exchange, or `application`'s only."""
        with self._lock:
            return [e.wire() for e in self._log if application is None or e.application == application]

    def clear(self, application: str | None = None) -> None:
        """Forget every exchange, or `application`'s only."""
        with self._lock:
            kept = [] if application is None else [e for e in self._log if e.application != application]
            self._log.clear()
            self._log.extend(kept)
