"""Talon.One's notifications: the secret header, the X-UUID, the type.

Talon.One signs nothing; what it offers is custom headers on each notification (Talon.One's Campaign
Manager: the notification's webhook, "Headers"). The operator adds `X-Relay-Notification-Secret:
<value>` there, the value kept in Secrets Manager as `{"current": ..., "previous": ...}` (the stack's
TalonOneWebhookSecret), so it can be rotated: both values are accepted meanwhile, each compared in
constant time, whichever matches. A notification without it, or with another value: 401.

Every notification has an `X-UUID` header, the same on each of Talon.One's retries: its id, what the
queue and the idempotency store deduplicate on. Its type is the body's `NotificationType`, read once the
header is known good, through the relay's one JSON reader (`core.limits`): a body that is not JSON, or
nests too deep, is a 400 naming the fault (Talon.One does not retry a 4xx: nothing would come of it).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from talon_relay.core import input_limits as limits
from talon_relay.core.bus import notification_facts
from talon_relay.errors import InvalidRequest, Unauthenticated
from talon_relay.webhooks.envelope import Delivery
from talon_relay.webhooks.shopify.signature import signing_secrets

if TYPE_CHECKING:
    from talon_relay.container import Container

SECRET_HEADER = "X-Relay-Notification-Secret"  # noqa: S105 - a header name, not a secret
UUID_HEADER = "X-UUID"
_PRINTABLE = re.compile(r"^[\x21-\x7e]{1,255}$")
#: Every NotificationType of the June 2026 notifications spec (its 24 notifications; the six campaign
#: ones share CampaignNotification). Another type is taken all the same: queued and published as it
#: came, counted under the topic "unknown" (a metric dimension stays bounded).
KNOWN_TYPES = frozenset(
    {
        "CampaignNotification",
        "CampaignEvaluationTreeChanged",
        "StrikethroughPrice",
        "CouponCreated",
        "CouponUpdated",
        "CouponDeleted",
        "AsyncCouponsCreated",
        "CouponsUpdated",
        "CouponsDeleted",
        "CouponCodeExpiring",
        "LoyaltyPointsExpiring",
        "LoyaltyCardPointsExpiring",
        "LoyaltyPointsAdded",
        "LoyaltyPointsDeducted",
        "LoyaltyAddedDeductedPointsBalances",
        "LoyaltyCardPointsAdded",
        "LoyaltyCardPointsDeducted",
        "LoyaltyCardAddedDeductedPointsBalances",
        "LoyaltyPointsPendingToActive",
        "TierUpgrade",
        "TierDowngrade",
        "TierWillDowngrade",
    }
)
UNKNOWN_TOPIC = "unknown"


def check_secret(value: str | None, *, secrets: list[str]) -> None:
    """Raise Unauthenticated unless `value` is one of the secrets (constant time, every one tried)."""
    if value is None or not value.strip():
        raise Unauthenticated(
            f"missing {SECRET_HEADER} header: add it to the notification's headers in Talon.One", header=SECRET_HEADER
        )
    offered = value.strip().encode("utf-8", "backslashreplace")
    valid = False
    for secret in secrets:
        valid |= hmac.compare_digest(secret.encode("utf-8"), offered)
    if not valid:
        raise Unauthenticated(f"{SECRET_HEADER} is not the notification secret", header=SECRET_HEADER)


def notification_id(headers: Mapping[str, str]) -> str:
    value = headers.get(UUID_HEADER.lower())
    if value is None or not value.strip():
        raise InvalidRequest.single("Missing header", f"{UUID_HEADER} is required", parameter=UUID_HEADER)
    if not _PRINTABLE.match(value.strip()):
        raise InvalidRequest.single(
            "Invalid header", f"{UUID_HEADER} must be 1 to 255 printable ASCII characters", parameter=UUID_HEADER
        )
    return value.strip()


def group_of(body: Any, uuid: str) -> str:
    """The FIFO group: the customer profile it is about (its balance and tier stay in order), else itself."""
    profile = notification_facts(body).get("profileId")
    return str(profile) if profile not in (None, "") else uuid


def verify(
    container: Container,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret_arn: str,
    max_age: int,
    secret_max_age: int,
    now: float | None = None,
) -> Delivery:
    """A notification's delivery, once its secret header is checked (401) and its body read (400)."""
    del max_age  # Talon.One sends no time of its own: nothing to judge an age by
    secrets = signing_secrets(container, secret_arn, max_age=secret_max_age, platform="Talon.One")
    check_secret(headers.get(SECRET_HEADER.lower()), secrets=secrets)
    uuid = notification_id(headers)
    limits.check_body_size(body, what="notification")
    parsed = limits.parse_json(body, what="notification")
    kind = parsed.get("NotificationType") if isinstance(parsed, dict) else None  # any JSON value, a list too
    received = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return Delivery(
        topic=kind if isinstance(kind, str) and kind in KNOWN_TYPES else UNKNOWN_TOPIC,
        webhook_id=uuid,
        # when the relay received it: the order of balances Talon.One sends without a time of their own
        triggered_at=received.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        mapped=False,
        group=group_of(parsed, uuid),
    )
