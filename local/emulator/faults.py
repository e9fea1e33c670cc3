"""Fault injection: queued faulty answers for matching Integration API requests (FIFO).

A fault answers `count` matching requests, or, with `seconds`, every matching request for that long
from when it is queued (an outage, or a stretch of rate limiting: `{"status": 429, "headers":
{"Retry-After": "2"}, "seconds": 10}`), then it is gone.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from local.emulator.jsonio import dumps

#: Faults never sleep longer than this (seconds).
MAX_DELAY = 30.0


class FaultSpec(BaseModel):
    """Body of POST /_emulator/faults (camelCase or snake_case keys)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    count: int = Field(default=1, ge=1, le=10_000)
    status: int | None = Field(default=None, ge=100, le=599)
    delay: float = Field(default=0.0, ge=0, le=MAX_DELAY)
    drop: bool = False
    body: Any = None
    headers: dict[str, str] | None = None
    path: str | None = None
    method: str | None = None
    after: bool = False
    #: Answer every matching request for this many seconds (count is then ignored), at most an hour.
    seconds: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _meaningful(self) -> FaultSpec:
        if self.drop and self.status is not None:
            raise ValueError("drop and status exclude each other")
        if not self.drop and self.status is None and not self.delay:
            raise ValueError("a fault needs status, delay or drop")
        if self.body is not None and self.status is None:
            raise ValueError("body needs a status")
        if self.body is not None:
            try:
                dumps(self.body)
            except (TypeError, ValueError):
                raise ValueError("body must be JSON without NaN or Infinity") from None
        if self.method is not None:
            self.method = self.method.upper()
        return self

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int
    #: the reading of the faults' clock (time.monotonic()) after which a timed fault is gone (None: it counts down)
    ends: float | None = field(default=None)

    def expired(self, now: float) -> bool:
        return self.ends is not None and now >= self.ends

    def matches(self, method: str, raw_path: str) -> bool:
        if self.spec.method is not None and self.spec.method != method:
            return False
        return self.spec.path is None or raw_path.startswith(self.spec.path)

    def wire(self, now: float | None = None) -> dict[str, Any]:
        wire = {"id": self.id, "remaining": self.remaining, **self.spec.wire()}
        if self.ends is not None:
            wire["remaining"] = None
            wire["secondsLeft"] = round(max(self.ends - (time.monotonic() if now is None else now), 0.0), 3)
        return wire


class Faults:
    """The queue of faults; thread-safe. `clock` times the timed faults (a test passes a fake one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._clock = clock

    def add(self, spec: FaultSpec) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            ends = now + spec.seconds if spec.seconds is not None else None
            fault = Fault(next(self._ids), spec, spec.count, ends)
            self._faults.append(fault)
            return fault.wire(now)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self._clock()
            self._faults = [fault for fault in self._faults if not fault.expired(now)]
            return [fault.wire(now) for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, raw_path: str) -> FaultSpec | None:
        """The first matching fault, counted down (and removed when used up)."""
        with self._lock:
            now = self._clock()
            self._faults = [fault for fault in self._faults if not fault.expired(now)]
            for fault in self._faults:
                if fault.matches(method, raw_path):
                    if fault.ends is None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault.spec
        return None
