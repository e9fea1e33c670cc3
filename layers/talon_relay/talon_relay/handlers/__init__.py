"""The Lambda entry point: one handler per operation, choosing the adapter of the event's trigger.

Each adapter (`api`, `sqs`, `schedule`; `webhook` for a webhook receiver's API events) is imported
when its first event arrives, so an API cold start does not pay for batch processing, nor an SQS one
for API Gateway's event classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from talon_relay import snapstart
from talon_relay.errors import SettingsError
from talon_relay.observability import logger, tracer
from talon_relay.operations import OPERATIONS
from talon_relay.settings import refresh as refresh_settings

Handler = Callable[[dict[str, Any], Any], Any]


def _is_api(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


def lambda_handler(name: str) -> Handler:
    """The Lambda handler of the operation `name` (an operationId of the table), for all its triggers."""
    operation = OPERATIONS[name]

    def handler(event: dict[str, Any], context: Any) -> Any:
        logger.append_keys(operation=operation.name)
        try:
            refresh_settings()
        except SettingsError as exc:
            if _is_api(event):
                from talon_relay.handlers import api

                return api.error_response(exc, None)
            raise
        if isinstance(event, dict) and "Records" in event:
            from talon_relay.handlers import sqs

            return sqs.handle(operation, event, context)
        if _is_api(event) and operation.webhook:
            from talon_relay.handlers import webhook

            return webhook.handle(operation, event, context)
        if _is_api(event):
            from talon_relay.handlers import api

            return api.handle(operation, event, context)
        if operation.schedule and isinstance(event, dict):
            from talon_relay.handlers import schedule

            return schedule.handle(operation, event, context)
        raise ValueError(f"{operation.name}: unsupported event (expected API Gateway or SQS)")

    snapstart.register(operation)  # only when Lambda initialises for a SnapStart snapshot
    active_tracer = tracer()
    if active_tracer is not None:
        handler = active_tracer.capture_lambda_handler(capture_response=False)(handler)
    return logger.inject_lambda_context(clear_state=True)(handler)
