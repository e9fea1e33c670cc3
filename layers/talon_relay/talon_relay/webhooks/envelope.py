"""A verified webhook as it waits on its receiver's queue: the raw body and what the headers said.

The receiver queues it (storage-first) before anything is mapped or sent, so a webhook the platform
was told we have is never lost: the consumer maps it, or dead-letters it with the reason.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from talon_relay.core import input_limits
from talon_relay.errors import InvalidRequest, problems


@dataclass(frozen=True)
class Delivery:
    """What a verified webhook's headers say (they are not signed: read only once the body is)."""

    topic: str
    #: The platform's id of this webhook, the same on each of its retries: the idempotency key.
    webhook_id: str
    shop_domain: str | None = None
    triggered_at: str | None = None
    #: Whether its topic's mapping file decides what it becomes (Shopify's). False: every delivery is
    #: queued whole, in the FIFO group `group` (Talon.One's notifications, published as they are).
    mapped: bool = True
    group: str | None = None
    #: The platform's id of the merchant's action (Shopify's `X-Shopify-Event-Id`), shared by every delivery
    #: and topic it caused; with the topic, what finds a duplicate sent under another webhook id.
    event_id: str | None = None

    @property
    def dedup_key(self) -> str:
        """What makes two deliveries the same webhook: (event id, topic), else the webhook id."""
        return f"{self.event_id}#{self.topic}" if self.event_id else self.webhook_id


class QueuedWebhook(BaseModel):
    """The message on a webhook receiver's queue (`bodyBase64` only for a body that is not UTF-8)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

    platform: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    webhook_id: str = Field(alias="webhookId", min_length=1)
    shop_domain: str | None = Field(default=None, alias="shopDomain")
    triggered_at: str | None = Field(default=None, alias="triggeredAt")
    event_id: str | None = Field(default=None, alias="eventId")
    body: str | None = None
    body_base64: str | None = Field(default=None, alias="bodyBase64")
    #: A continuation of the webhook (1, 2, ...), queued by its consumer: its steps ran; it only forgets
    #: what the one before it could not (webhooks/forgetting.py).
    continuation: int | None = Field(default=None, ge=1)

    @classmethod
    def of(cls, platform: str, delivery: Delivery, raw: bytes) -> QueuedWebhook:
        try:
            text: dict[str, str] = {"body": raw.decode("utf-8")}
        except UnicodeDecodeError:  # kept byte for byte; its consumer dead-letters it (not JSON)
            text = {"bodyBase64": base64.b64encode(raw).decode("ascii")}
        return cls.model_validate(
            {
                "platform": platform,
                "topic": delivery.topic,
                "webhookId": delivery.webhook_id,
                "shopDomain": delivery.shop_domain,
                "triggeredAt": delivery.triggered_at,
                "eventId": delivery.event_id,
                **text,
            }
        )

    @property
    def dedup_key(self) -> str:
        """(event id, topic), else the webhook id: the base of its steps' idempotency keys."""
        return f"{self.event_id}#{self.topic}" if self.event_id else self.webhook_id

    def encode(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def decode(cls, text: str) -> QueuedWebhook:
        """A queued message; InvalidRequest (a dead letter) when it is not one, naming the fields."""
        try:
            return cls.model_validate(input_limits.parse_json(text, what="message body"))
        except ValidationError as exc:
            raise _invalid(exc) from None

    def payload(self) -> Any:
        """The webhook's JSON payload; InvalidRequest when its body is not JSON."""
        raw: bytes | str = self.body or ""
        if self.body is None:
            try:
                raw = base64.b64decode(self.body_base64 or "", validate=True)
            except (binascii.Error, ValueError):
                problem = "bodyBase64 is not base64"
                raise InvalidRequest.single("Invalid message", problem, pointer="/bodyBase64") from None
        input_limits.check_body_size(raw.encode() if isinstance(raw, str) else raw, what="webhook body")
        return input_limits.parse_json(raw, what="webhook body")


def _invalid(exc: ValidationError) -> InvalidRequest:
    return InvalidRequest.single(
        "Invalid message", f"not a queued webhook: {problems(exc, whole='message')}", pointer=""
    )
