"""The Lambda entry point: one handler per operation, choosing the adapter of the event's trigger.

`lambda_handler(name)` is what a function module calls once, at import: it builds the container
(`container.Container`: everything the function keeps between invocations) and hands it, with each
event, to the adapter of the event's trigger (`api`, `sqs`, `schedule`; `webhook` for a webhook
receiver's API events). Each adapter is imported when its first event arrives, so an API cold start
does not pay for batch processing, nor an SQS one for the API's.

A new trigger is a new adapter module under `adapters/` and one branch in `dispatch` below.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from talon_relay import snapstart, telemetry
from talon_relay.container import Container
from talon_relay.errors import SettingsError
from talon_relay.observability import logger, tracer
from talon_relay.operations import OPERATIONS, Operation

Handler = Callable[[dict[str, Any], Any], Any]


def _is_api(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


class ApiDeadline:
    """The Lambda context of an API request in a function whose own timeout is longer than the API's
    (the erasure function: its scheduled run takes minutes, API Gateway waits 29 s at most): the
    remaining time is what is left of `seconds`, so every call's time budget ends with the API's."""

    def __init__(self, context: Any, seconds: float) -> None:
        self._context = context
        self._ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        own = max(int((self._ends - time.monotonic()) * 1000), 0)
        getter = getattr(self._context, "get_remaining_time_in_millis", None)
        return min(own, int(getter())) if getter is not None else own

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def dispatch(container: Container, operation: Operation, event: Any, context: Any) -> Any:
    """The event to the adapter of its trigger."""
    if isinstance(event, dict) and "Records" in event and operation.queued:  # a GET has no queue
        from talon_relay.adapters import sqs

        return sqs.handle(container, operation, event, context)
    if _is_api(event) and operation.webhook:
        from talon_relay.adapters import webhook

        return webhook.handle(container, operation, event, context)
    if _is_api(event):
        from talon_relay.adapters import api

        api_timeout = container.settings().api_timeout_seconds
        return api.handle(container, operation, event, ApiDeadline(context, api_timeout) if api_timeout else context)
    if operation.schedule and isinstance(event, dict):
        from talon_relay.adapters import scheduled

        return scheduled.handle(container, operation, event, context)
    expected = "API Gateway or SQS" if operation.queued else "API Gateway: it has no queue"
    raise ValueError(f"{operation.name}: unsupported event (expected {expected})")


def lambda_handler(name: str, container: Container | None = None) -> Handler:
    """The Lambda handler of the operation `name` (an operationId of the table), for all its triggers.

    The handler's container is its `container` attribute (a new one unless given).
    """
    operation = OPERATIONS[name]
    own = container or Container()

    def handler(event: dict[str, Any], context: Any) -> Any:
        logger.append_keys(operation=operation.name)
        try:
            own.settings()
            own.applications()  # TALON_APPLICATIONS too: a bad document refuses every event, naming the setting
        except SettingsError as exc:
            if _is_api(event):
                from talon_relay.adapters.gateway import error_answer

                return error_answer(exc, None)
            raise
        own.counts.take()  # nothing an earlier invocation left uncounted is this one's
        try:
            return dispatch(own, operation, event, context)
        finally:
            telemetry.flush(own.counts, operation.name, enabled=own.once("metrics-enabled", telemetry.metrics_enabled))

    snapstart.register(operation, own)  # only when Lambda initialises for a SnapStart snapshot
    active_tracer = tracer()
    if active_tracer is not None:
        handler = active_tracer.capture_lambda_handler(capture_response=False)(handler)
    wrapped = logger.inject_lambda_context(clear_state=True)(handler)
    wrapped.container = own  # type: ignore[attr-defined]
    return wrapped
