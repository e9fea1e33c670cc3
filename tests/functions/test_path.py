"""One request's path through the layer: every module entered once, none returned to after it was left.

Traced with the interpreter's profiler, a real signed API request and a real SQS record go through
their function as Lambda runs it (moto, the Talon.One stand-in): each time a talon_relay module calls
into another, that is an entry. A module is left when the call that entered it returns; entering it
again after another module was entered since is a return to a module already left, which the design
forbids (a request flows down the layers once, never back up to a step it finished). Calls in a row
into one module (the adapter asking `limits` three things) are one visit. Not counted: the adapter
itself (it shapes the answer at the end), and the foundations any step may use: the container passed
down (with the invocation's counters), the logger, the operation table (data every step reads) and
the store (the one DynamoDB table, which access, ordering and idempotency each write) with its client
(`aws.table_client`, in boto3's place).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from pytest_httpserver import HTTPServer

from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import api_event
from tests.functions.test_sqs import sqs_event
from tests.support import LambdaContext, answer_every_route, load_event

#: Modules any module may use as its context, not a step of the path.
CONTEXT = (
    "talon_relay.container",
    "talon_relay.telemetry",
    "talon_relay.observability",
    "talon_relay.operations",  # the package: its entries' properties run code in operations.operation
    "talon_relay.aws.store",
    "talon_relay.aws.table_client",
)
#: The API adapters' reader of the event and writer of the answer, and the SQS adapter's scheduler of a
#: batch's groups per application (which calls back into it for each group): parts of their adapter.
ADAPTER_PARTS = {"talon_relay.adapters.gateway", "talon_relay.adapters.lanes"}


class PathTrace:
    """Entries into talon_relay modules, and the returns to a module already left."""

    def __init__(self, adapter: str) -> None:
        self.adapter = adapter
        self.path: list[str] = []
        self.returns: list[str] = []
        self._stack: list[str | None] = []  # each frame's relay module (None: not the layer's)
        self._left: set[str] = set()
        self._entered_by: list[tuple[str, int]] = []  # (module, stack depth of the frame that entered it)

    def _relay_below(self) -> str | None:
        return next((module for module in reversed(self._stack) if module is not None), None)

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = str(frame.f_globals.get("__name__", ""))
            module = name if name.startswith("talon_relay") and not name.startswith(CONTEXT) else None
            if module is not None and module != self._relay_below():
                if module in self._left and self.path[-1] != module and module not in {self.adapter, *ADAPTER_PARTS}:
                    self.returns.append(f"{self._relay_below()} -> {module} (left before)")
                if not self.path or self.path[-1] != module:
                    self.path.append(module)
                self._entered_by.append((module, len(self._stack)))
            self._stack.append(module)
        elif event == "return" and self._stack:
            self._stack.pop()
            while self._entered_by and self._entered_by[-1][1] >= len(self._stack):
                left, _ = self._entered_by.pop()
                if left not in {m for m, _ in self._entered_by}:
                    self._left.add(left)


def traced(adapter: str, call: Callable[[], Any]) -> tuple[Any, PathTrace]:
    trace = PathTrace(adapter)
    sys.setprofile(trace)
    try:
        result = call()
    finally:
        sys.setprofile(None)
    return result, trace


def test_an_api_request_enters_every_module_once(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a warm function (its first call made: secrets read, checkers built) and Talon.One answering
    folder = "update_customer_session_v2"
    answer_every_route(httpserver)
    handler = load_handler(folder)
    assert handler(api_event(folder, params={"customerSessionId": "s-1"}), LambdaContext())["statusCode"] == 200
    # When a signed request goes through it, traced
    event = api_event(folder, params={"customerSessionId": "s-1"})
    response, trace = traced("talon_relay.adapters.api", lambda: handler(event, LambdaContext()))
    # Then it was served, passing each module once, downward, back to no module it had left
    assert response["statusCode"] == 200, response
    assert trace.returns == [], "\n".join([*trace.returns, "path:", *trace.path])
    assert trace.path[:3] == ["talon_relay.entry", "talon_relay.adapters.api", "talon_relay.adapters.gateway"]
    for step in ("talon_relay.callers.signatures", "talon_relay.core.request", "talon_relay.talon.client"):
        assert step in trace.path


def test_an_sqs_record_enters_every_module_once(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a warm function and Talon.One answering
    folder = "update_customer_session_v2"
    body = json.loads(load_event(folder, "sqs")["Records"][0]["body"])
    answer_every_route(httpserver)
    handler = load_handler(folder)
    assert handler(sqs_event(folder, [body]), LambdaContext()) == {"batchItemFailures": []}
    # When the next record goes through it, traced
    event = sqs_event(folder, [{**body, "idempotencyKey": "s-1-cart-4"}])
    event["Records"][0]["messageId"] = "msg-traced"
    result, trace = traced("talon_relay.adapters.sqs", lambda: handler(event, LambdaContext()))
    # Then it was applied, passing each module once
    assert result == {"batchItemFailures": []}
    assert trace.returns == [], "\n".join([*trace.returns, "path:", *trace.path])
    assert trace.path[:2] == ["talon_relay.entry", "talon_relay.adapters.sqs"]
    for step in ("talon_relay.core.messages", "talon_relay.core.service", "talon_relay.talon.client"):
        assert step in trace.path
