"""API Gateway adapter of a webhook receiver: the platform's signature checked, the webhook queued, 200.

Storage-first, like `Prefer: respond-async`: nothing here calls Talon.One, so the platform has its
answer in milliseconds. A verified webhook goes on the receiver's FIFO queue (raw body, topic, webhook
id, shop), in the group its topic's mapping names (the customer's cart or profile), deduplicated on
the webhook id; its SQS consumer (`talon_relay.webhooks.consumer`) maps and applies it. A topic with
no mapping, or whose mapping neither sends nor forgets anything, is acknowledged, counted and logged.

Unsigned, badly signed or stale: 401 with the reason, before anything is read or queued. The 200
means "queued": a webhook that then cannot be mapped is dead-lettered with the reason (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import importlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from talon_relay.adapters.gateway import Event, error_answer, headers, json_answer, raw_body, unexpected_answer
from talon_relay.aws import order_records, queues
from talon_relay.aws.order_records import ORDER_GROUP
from talon_relay.aws.store import store
from talon_relay.config.applications import DEFAULT
from talon_relay.core import input_limits, messages
from talon_relay.errors import InvalidRequest, RelayError, SettingsError
from talon_relay.observability import logger
from talon_relay.operations import OPERATIONS, Operation
from talon_relay.webhooks import mappings, metrics
from talon_relay.webhooks.envelope import Delivery, QueuedWebhook

if TYPE_CHECKING:
    from talon_relay.container import Container
    from talon_relay.webhooks.mapping_model import TopicMapping

#: Each platform's verification (`verify` of the module named): headers, raw body and settings in, a
#: Delivery (or a 401) out. Imported by the receiver of that platform alone, on its first webhook.
VERIFIERS: dict[str, str] = {
    "shopify": "talon_relay.webhooks.shopify.signature",
    "talon_one": "talon_relay.webhooks.talon_one.signature",
}


def verifier(platform: str) -> Callable[..., Delivery] | None:
    module = VERIFIERS.get(platform)
    return None if module is None else importlib.import_module(module).verify


#: What SQS takes as a message group id; anything else (long, or other characters) is hashed.
_GROUP = re.compile(r"^[\x21-\x7e]{1,128}$")


def fifo_group(value: str) -> str:
    return value if _GROUP.match(value) else hashlib.sha256(value.encode()).hexdigest()


def _payload(raw: bytes) -> Any:
    """The verified body through the relay's limits (core/input_limits.py), to read its group; None past them. Such a
    body is queued all the same (retrying the same bytes cannot help): its consumer dead-letters it with the
    reason, and the sender is told it was stored."""
    try:
        return input_limits.parse_json(raw, what="webhook body")
    except InvalidRequest:
        return None


def _receive(container: Container, operation: Operation, event: Event) -> dict[str, Any]:
    cfg = container.settings()
    platform = operation.webhook or ""
    verify = verifier(platform)
    if verify is None or not cfg.webhook_secret_arn:
        raise SettingsError(f"the {platform} receiver needs WEBHOOK_SECRET_ARN and a known platform")
    raw = raw_body(event)
    delivery = verify(
        container,
        headers(event.get("headers")),
        raw,
        secret_arn=cfg.webhook_secret_arn,
        max_age=cfg.webhook_max_age,
        secret_max_age=cfg.secret_max_age,
    )
    logged = {"topic": delivery.topic, "webhook_id": delivery.webhook_id, "shop_domain": delivery.shop_domain}
    if delivery.triggered_at is None:
        logger.warning("webhook without a trigger time: its age cannot be checked", extra=logged)
    group = delivery.group or delivery.webhook_id
    mapping = None
    if delivery.mapped:  # a platform whose topics map to operations: only mapped topics are queued
        mapping = mappings.for_topic(container, platform, delivery.topic)
        if mapping is None or not (mapping.steps or (mapping.order and mapping.order.forgets)):
            name = metrics.UNMAPPED if mapping is None else metrics.NOTHING_TO_SEND
            logger.info("webhook acknowledged; nothing to send", extra={**logged, "reason": name})
            metrics.count(name, operation=operation.name, topic=delivery.topic)
            status = "ignored" if mapping is None else "acknowledged"
            return json_answer(200, {"status": status, "topic": delivery.topic})
    message = _message(platform, delivery, raw)  # a 413 before anything is parsed or written (the order's group)
    if mapping is not None:
        payload = _payload(raw)
        group = mappings.group_of(mapping, payload) or delivery.webhook_id
        shared = _shared(container, operation, mapping, delivery, payload)
        if shared is not None:
            url, session_group = shared
            attributes = messages.operation_attribute(operation)
            return _enqueue(container, operation, delivery, message, logged, url, session_group, attributes)
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set: a webhook is queued before it is mapped")
    if container.applications().several:  # one shop's (one application's) stuck group holds no other's
        group = f"{delivery.shop_domain or '-'}/{group}"
    return _enqueue(container, operation, delivery, message, logged, cfg.queue_url, fifo_group(group), None)


def _message(platform: str, delivery: Delivery, raw: bytes) -> str:
    """The queued webhook, once its sizes are known to fit: the body within the relay's 1 MiB, the message
    within what SQS takes (a 413 naming the size: retrying the same bytes cannot help)."""
    input_limits.check_body_size(raw, what="webhook body")
    message = QueuedWebhook.of(platform, delivery, raw).encode()
    queues.check_size(message)
    return message


def _shared(
    container: Container, operation: Operation, mapping: TopicMapping, delivery: Delivery, payload: Any
) -> tuple[str, str] | None:
    """(queue URL, group) of a webhook that changes a session: the sessions queue, in the same group as the
    API's queued changes of that session (its application's, then the session), so neither overtakes the
    other (docs/lifecycle.md). None: its receiver's own queue."""
    queue = operation.shared_queue
    session = _session_of(mapping, payload, queue) if queue else None
    if session is None:
        return None
    url = container.settings().shared_queue_url
    if not url:
        raise SettingsError(f"SHARED_QUEUE_URL must be set: a session's webhooks go to the {queue} queue")
    apps = container.applications()
    try:
        currency = mappings.order_currency(payload) if apps.by_currency(delivery.shop_domain) else None
        app = apps.for_order(delivery.shop_domain, currency).name
    except ValueError:  # no application takes it (or its currency is no code): the consumer dead-letters it
        app = DEFAULT
    group = session if app == DEFAULT else f"{app}/{session}"
    return url, _order_group(container, mapping, payload, delivery.shop_domain, group)


def _order_group(container: Container, mapping: TopicMapping, payload: Any, shop: str | None, group: str) -> str:
    """The group of an order's later webhooks: the one its paid webhook went to. A webhook that keeps the
    order's record (orders/paid, orders/create) records its group, once, under this receiver's own prefix
    (one write); one that reads the record (refunds/create, orders/edited) goes to that group (one read),
    so it is applied after the paid order and in order with every change of its session. Received before
    the paid webhook: its mapping's group (the order), and the consumer dead-letters it ("no record")."""
    table = store(container)
    spec = mapping.order
    if table is None or spec is None:
        return group
    if spec.recall is not None:
        order = mappings.recalled_order(mapping, payload)
        item_id = None if order is None else order_records.order_id(table.owner, shop, order, kind=ORDER_GROUP)
        found = None if item_id is None else order_records.get(table, item_id, now=time.time())
        recorded = (found or {}).get("group")
        return recorded if isinstance(recorded, str) and recorded else group
    order = _text(spec.remember.order, payload) if spec.remember is not None else None
    if order is not None:
        expires = int(time.time()) + container.settings().order_memory_seconds
        item_id = order_records.order_id(table.owner, shop, order, kind=ORDER_GROUP)
        order_records.put(table, item_id, {"group": group}, shop=shop, expires=expires, replace=False)
    return group


def _text(expression: str, payload: Any) -> str | None:
    """A mapping expression's value on the payload as a string (a number as its digits); None: none."""
    try:
        value = mappings.evaluate(expression, payload)
    except ValueError:  # the expression failed on this payload
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def _session_of(mapping: TopicMapping, payload: Any, queue: str) -> str | None:
    """The group on the shared queue `queue` of a webhook with a step that queue carries: the session its
    first such step names in the payload, else (a refund's or an edit's session comes from the order's
    record, which the consumer reads) the mapping's group, the order; None when no step is carried by the
    queue, or one goes on its operation's own queue (`webhook_steps_queued`: that webhook stays on its
    receiver's own queue, whose function has the URLs)."""
    steps = [OPERATIONS[step.operation] for step in mapping.steps]
    carried = [(step, op) for step, op in zip(mapping.steps, steps, strict=True) if op.shared_queue == queue]
    if payload is None or not carried or any(op.webhook_steps_queued for op in steps):
        return None
    step, op = carried[0]
    value = _text(step.params[op.group_by], payload) if op.group_by in step.params else None
    return value or mappings.group_of(mapping, payload)


def _enqueue(
    container: Container,
    operation: Operation,
    delivery: Delivery,
    message: str,
    logged: dict[str, Any],
    queue_url: str,
    group: str,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    message_id = queues.enqueue(
        container,
        queue_url,
        message,
        group_id=group,
        deduplication_key=f"{operation.name}#{delivery.dedup_key}",
        attributes=attributes,
    )
    logger.info("webhook queued", extra={**logged, "message_id": message_id})
    metrics.count(metrics.QUEUED, operation=operation.name, topic=delivery.topic)
    return json_answer(200, {"status": "queued", "messageId": message_id})


def handle(container: Container, operation: Operation, event: Event, context: Any) -> dict[str, Any]:
    request_id = event["requestContext"]["requestId"]
    logger.set_correlation_id(request_id)
    try:
        return _receive(container, operation, event)
    except RelayError as exc:
        return error_answer(exc, request_id)
    except Exception:
        return unexpected_answer(request_id)
