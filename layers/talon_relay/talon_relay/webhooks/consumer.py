"""One queued webhook: its topic's mapping, then the mapped operations in order, each exactly once.

Called by the SQS adapter for a webhook receiver's records (the batch, its FIFO groups and the
dispositions are the adapter's). Every request is made and checked before the first is sent: a
webhook that does not map is dead-lettered whole, with the reason. Then step N runs with the
idempotency key `<webhook id>#<N>`, so a platform's retry of the same webhook, or SQS delivering the
message again after step 1 went through and step 2 failed, replays what was done and sends only
what was not: nothing reaches Talon.One twice.

A step whose operation the table marks `schedule` (deleteCustomerData) is not run now: it is queued,
in the message format of docs/api.md ("Queue message formats"), on the erasure queue the off-peak schedule drains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from talon_relay.aws import queues
from talon_relay.aws.idempotency import run_once
from talon_relay.core import messages, service
from talon_relay.core.request import Request
from talon_relay.errors import InvalidRequest, RelayError, SettingsError
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.webhooks import mappings, metrics
from talon_relay.webhooks.envelope import QueuedWebhook
from talon_relay.webhooks.errors import StepFailed

if TYPE_CHECKING:
    from talon_relay.container import Container


def step_key(webhook_id: str, step: int) -> str:
    """The idempotency key of a webhook's step: stable across the platform's retries."""
    return f"{webhook_id}#{step}"


def _queue_for_schedule(container: Container, request: Request, key: str, context: Any) -> str | None:
    """A scheduled operation's request, queued once for its schedule (the erasure run)."""
    queue_url = container.settings().erasure_queue_url
    if not queue_url:
        raise SettingsError(f"ERASURE_QUEUE_URL must be set to queue {request.operation.name} for its schedule")

    def send() -> str:
        return queues.enqueue(
            container,
            queue_url,
            messages.encode(request, None),
            group_id=request.group_id,
            deduplication_key=f"{request.operation.name}#{key}",
        )

    scope = f"{request.operation.name}.queued"
    return run_once(container, key, scope=scope, payload=request.payload, call=send, context=context)


def process(container: Container, operation: Operation, body: str, *, context: Any) -> int:
    """Map and apply one queued webhook; returns how many operations it became.

    Raises a RelayError whose `dead_letter` says what the adapter does with the message.
    """
    message = QueuedWebhook.decode(body)
    platform = operation.webhook or ""
    logged = {"topic": message.topic, "webhook_id": message.webhook_id, "shop_domain": message.shop_domain}
    if message.platform != platform:
        raise InvalidRequest.single(
            "Invalid message", f"a {message.platform} webhook on the {platform} receiver's queue", pointer="/platform"
        )
    if platform == "talon_one":  # Talon.One's notifications: published on the bus, then written back
        from talon_relay.webhooks.talon_one import notifications

        return notifications.process(container, operation, message, context=context)
    mapping = mappings.for_topic(container, platform, message.topic)
    if mapping is None:  # its mapping was removed since it was queued
        logger.info("webhook topic has no mapping; nothing sent", extra=logged)
        metrics.count(metrics.UNMAPPED, operation=operation.name, topic=message.topic)
        return 0
    planned = mappings.apply(mapping, message.payload())
    for step, request in enumerate(planned, start=1):
        # (X-Shopify-Event-Id, topic) when the platform sends it: a replay under a new webhook id is the same
        key = step_key(message.dedup_key, step)
        try:
            if request.operation.schedule:
                _queue_for_schedule(container, request, key, context)
                logger.info("queued for its schedule", extra={**logged, "step": step, "target": request.operation.name})
            else:
                service.execute(
                    container, request, context=context, correlation_id=message.webhook_id, idempotency_key=key
                )
        except RelayError as exc:
            raise StepFailed(step, request.operation.name, exc) from exc
    logger.info("webhook applied", extra={**logged, "steps": len(planned)})
    metrics.count(metrics.APPLIED, operation=operation.name, topic=message.topic)
    return len(planned)
