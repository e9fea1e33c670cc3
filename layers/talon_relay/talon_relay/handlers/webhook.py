"""API Gateway adapter of a webhook receiver: the platform's signature checked, the webhook queued, 200.

Storage-first, like `Prefer: respond-async`: nothing here calls Talon.One, so the platform has its
answer in milliseconds. A verified webhook goes on the receiver's FIFO queue (raw body, topic, webhook
id, shop), in the group its topic's mapping names (the customer's cart or profile), deduplicated on
the webhook id; its SQS consumer (`talon_relay.webhooks.consumer`) maps and applies it. A topic with
no mapping, or whose mapping sends nothing (shop/redact), is acknowledged, counted and logged.

Unsigned, badly signed or stale: 401 with the reason, before anything is read or queued. The 200
means "queued": a webhook that then cannot be mapped is dead-lettered with the reason (README).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from talon_relay import limits, queues
from talon_relay.errors import InvalidRequest, RelayError, SettingsError
from talon_relay.handlers.api import error_response
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.settings import settings
from talon_relay.webhooks import mappings, metrics, shopify
from talon_relay.webhooks.envelope import Delivery, QueuedWebhook

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

#: Each platform's verification: headers, raw body and settings in, a Delivery (or a 401) out.
VERIFIERS: dict[str, Callable[..., Delivery]] = {"shopify": shopify.verify}

#: What SQS takes as a message group id; anything else (long, or other characters) is hashed.
_GROUP = re.compile(r"^[\x21-\x7e]{1,128}$")


def _response(status: int, body: Mapping[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    text = json.dumps(body, separators=(",", ":"))
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})}, "body": text}


def _raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The body bytes as the platform sent them (what its signature covers)."""
    if not event.body:
        return b""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(event.body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest.single("Invalid body", "body is not valid base64", pointer="") from None
    return event.body.encode("utf-8")


def fifo_group(value: str) -> str:
    return value if _GROUP.match(value) else hashlib.sha256(value.encode()).hexdigest()


def _payload(raw: bytes) -> Any:
    """The verified body through the relay's limits (limits.py), to read its group; None past them. Such a
    body is queued all the same (retrying the same bytes cannot help): its consumer dead-letters it with the
    reason, and the sender is told it was stored."""
    try:
        return limits.parse_json(raw, what="webhook body")
    except InvalidRequest:
        return None


def _receive(operation: Operation, event: APIGatewayProxyEvent) -> dict[str, Any]:
    cfg = settings()
    platform = operation.webhook or ""
    verify = VERIFIERS.get(platform)
    if verify is None or not cfg.webhook_secret_arn:
        raise SettingsError(f"the {platform} receiver needs WEBHOOK_SECRET_ARN and a known platform")
    raw = _raw_body(event)
    delivery = verify(
        event.headers,
        raw,
        secret_arn=cfg.webhook_secret_arn,
        max_age=cfg.webhook_max_age,
        secret_max_age=cfg.secret_max_age,
    )
    logged = {"topic": delivery.topic, "webhook_id": delivery.webhook_id, "shop_domain": delivery.shop_domain}
    if delivery.triggered_at is None:
        logger.warning("webhook without a trigger time: its age cannot be checked", extra=logged)
    mapping = mappings.for_topic(platform, delivery.topic)
    if mapping is None or not mapping.steps:
        name = metrics.UNMAPPED if mapping is None else metrics.NOTHING_TO_SEND
        logger.info("webhook acknowledged; nothing to send", extra={**logged, "reason": name})
        metrics.count(name, operation=operation.name, topic=delivery.topic)
        status = "ignored" if mapping is None else "acknowledged"
        return _response(200, {"status": status, "topic": delivery.topic})
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set: a webhook is queued before it is mapped")
    limits.check_body_size(raw, what="webhook body")  # a 413 naming the size: SQS could not keep it
    group = mappings.group_of(mapping, _payload(raw)) or delivery.webhook_id
    message_id = queues.enqueue(
        cfg.queue_url,
        QueuedWebhook.of(platform, delivery, raw).encode(),
        group_id=fifo_group(group),
        deduplication_key=f"{operation.name}#{delivery.webhook_id}",
    )
    logger.info("webhook queued", extra={**logged, "message_id": message_id})
    metrics.count(metrics.QUEUED, operation=operation.name, topic=delivery.topic)
    return _response(200, {"status": "queued", "messageId": message_id})


def handle(operation: Operation, raw_event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    event = APIGatewayProxyEvent(raw_event)
    request_id = event.request_context.request_id
    logger.set_correlation_id(request_id)
    try:
        return _receive(operation, event)
    except RelayError as exc:
        return error_response(exc, request_id)
    except Exception:
        logger.exception("unexpected error")  # the trace goes to the log, never to the sender
        return _response(500, {"message": "Internal error in the relay; see its logs"}, {"X-Request-Id": request_id})
