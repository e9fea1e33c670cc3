"""One queued Talon.One notification: published on the bus once, then written back to the shop.

Called by the webhook consumer for the Talon.One receiver's records. Two steps, in order:

1. Publish: one event on the bus (`core.bus`), once per X-UUID (the idempotency store: a notification
   Talon.One sends again after the queue's five-minute deduplication window is not published twice).
   A bus that refuses it is a BusUnavailable: the message comes back from the queue with its backoff,
   and is dead-lettered with the reason on its last receive.
2. Write back: a loyalty balance or tier to the Shopify customer's metafields (`writeback`), in order
   per customer, once per X-UUID too; Shopify down or throttling: the message comes back later (step 1 is
   not repeated).

A body that is not JSON, or too deep (`core.limits`), is an InvalidRequest: dead-lettered with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from talon_relay.aws.idempotency import run_once
from talon_relay.core import bus
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.webhooks import metrics
from talon_relay.webhooks.envelope import QueuedWebhook
from talon_relay.webhooks.talon_one import writeback
from talon_relay.webhooks.talon_one.signature import KNOWN_TYPES

if TYPE_CHECKING:
    from talon_relay.container import Container

#: A notification published on the bus.
PUBLISHED = "NotificationPublished"
#: A notification of a type the June 2026 spec does not name: published all the same.
UNKNOWN_TYPE = "NotificationTypeUnknown"
#: Metafields written back to Shopify.
WRITTEN_BACK = "NotificationWrittenBack"


def process(container: Container, operation: Operation, message: QueuedWebhook, *, context: Any) -> int:
    """Publish and write back one notification; returns how many steps it took (1 or 2)."""
    body = message.payload()
    uuid = message.webhook_id
    logged = {"topic": message.topic, "webhook_id": uuid}

    def once(step: str, call: Callable[[], str]) -> str | None:
        """`call` once per X-UUID and step: Talon.One's retries, and SQS's second deliveries, do nothing again."""
        scope, payload = f"{operation.name}.{step}", {"topic": message.topic}
        return run_once(container, uuid, scope=scope, payload=payload, call=call, context=context)

    def publish() -> str:
        return bus.publish_notification(container, body, uuid=uuid, received_at=message.triggered_at)

    event_id = once("published", publish)
    metrics.count(PUBLISHED, operation=operation.name, topic=message.topic)
    if message.topic not in KNOWN_TYPES:
        metrics.count(UNKNOWN_TYPE, operation=operation.name, topic=message.topic)
        logger.warning("notification of a type the relay does not know: published as it came", extra=logged)
    logger.info("notification published", extra={**logged, "event_id": event_id})

    def write_back() -> str:  # (what the idempotency record keeps is text: the count of metafields set)
        return str(writeback.apply(container, body, received_at=message.triggered_at, message_id=uuid))

    # once per X-UUID as well: a balance carries no time but its arrival, so Talon.One's retry of an old one,
    # queued again after the five-minute deduplication window, would be "newer" than the balance after it
    written = int(once("written", write_back) or 0)
    if written:
        metrics.count(WRITTEN_BACK, operation=operation.name, topic=message.topic)
        return 2
    return 1
