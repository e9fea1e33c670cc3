"""The Lambda entry point: one handler per operation, choosing the adapter of the event's trigger.

Each adapter (`api`, `sqs`, `schedule`; `webhook` for a webhook receiver's API events) is imported
when its first event arrives, so an API cold start does not pay for batch processing, nor an SQS one
for API Gateway's event classes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from talon_relay import snapstart, telemetry
from talon_relay.config.settings import settings
from talon_relay.errors import SettingsError
from talon_relay.observability import logger, tracer
from talon_relay.operations import OPERATIONS

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


def lambda_handler(name: str) -> Handler:
    """The Lambda handler of the operation `name` (an operationId of the table), for all its triggers."""
    operation = OPERATIONS[name]

    def handler(event: dict[str, Any], context: Any) -> Any:
        logger.append_keys(operation=operation.name)
        try:
            cfg = settings()
        except SettingsError as exc:
            if _is_api(event):
                from talon_relay.adapters import api

                return api.error_response(exc, None)
            raise
        telemetry.begin()
        try:
            return dispatch(event, context, cfg.api_timeout_seconds)
        finally:
            telemetry.flush(operation.name)

    def dispatch(event: dict[str, Any], context: Any, api_timeout: float | None) -> Any:
        if isinstance(event, dict) and "Records" in event:
            from talon_relay.adapters import sqs

            return sqs.handle(operation, event, context)
        if _is_api(event) and operation.webhook:
            from talon_relay.adapters import webhook

            return webhook.handle(operation, event, context)
        if _is_api(event):
            from talon_relay.adapters import api

            return api.handle(operation, event, ApiDeadline(context, api_timeout) if api_timeout else context)
        if operation.schedule and isinstance(event, dict):
            from talon_relay.adapters import schedule

            return schedule.handle(operation, event, context)
        raise ValueError(f"{operation.name}: unsupported event (expected API Gateway or SQS)")

    snapstart.register(operation)  # only when Lambda initialises for a SnapStart snapshot
    active_tracer = tracer()
    if active_tracer is not None:
        handler = active_tracer.capture_lambda_handler(capture_response=False)(handler)
    return logger.inject_lambda_context(clear_state=True)(handler)
