"""The one built-in write-back: a customer's loyalty balance and tier, to the Shopify customer's metafields.

From the notifications that carry them:

| NotificationType                       | what is written                        | its time                  |
| -------------------------------------- | -------------------------------------- | ------------------------- |
| `LoyaltyAddedDeductedPointsBalances`   | `CurrentPoints`                        | when the relay received it |
| `TierUpgrade`, `TierDowngrade`         | each `Data[]`: `CurrentPoints`, `CurrentTier` | `TimestampOfTierChange` |

to `talon_one.loyalty_points` (number_decimal) and `talon_one.loyalty_tier` (single_line_text_field) of
the customer `gid://shopify/Customer/<profile id>` (a Talon.One profile made from a Shopify webhook has
the Shopify customer's id as its integration id; another profile is skipped and counted).

Order per customer: each field's record in the store (`aws.store`, `<function>.writeback#...`) keeps the time of
the value written last; a value whose time is not later changes nothing, so an older balance arriving
after a newer one never overwrites it. A balance notification carries no time of its own: its order is
its arrival (its FIFO group is the profile, so notifications of one customer stay in that order on the
queue, and a retry of the same X-UUID is dropped before it gets here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from talon_relay.aws.store import store
from talon_relay.observability import logger
from talon_relay.webhooks.shopify import admin

if TYPE_CHECKING:
    from talon_relay.container import Container

NAMESPACE = "talon_one"
POINTS_KEY = "loyalty_points"
TIER_KEY = "loyalty_tier"
BALANCE_TYPES = frozenset({"LoyaltyAddedDeductedPointsBalances"})
TIER_TYPES = frozenset({"TierUpgrade", "TierDowngrade"})


@dataclass(frozen=True)
class Loyalty:
    """One customer's balance (and tier, when known) at one moment (sortable UTC text)."""

    profile_id: str
    at: str
    points: int | float | None = None
    tier: str | None = None


def moment(text: Any) -> str | None:
    """An ISO 8601 time as sortable UTC text (microseconds, Z); None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            return None
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (ValueError, OverflowError):  # (year 1 at +14:00, or 9999-12-31 at -14:00, is no year in UTC)
        return None


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def decimal_text(value: int | float) -> str:
    """A number as Shopify's number_decimal takes it: every digit Talon.One sent, never an exponent
    (`:g` made 1234567 "1.23457e+06" and 12345.67 "12345.7")."""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.removesuffix(".0")


def updates(body: Any, *, received_at: str | None) -> list[Loyalty]:
    """The balances and tiers a notification tells, oldest first (none: not a loyalty notification)."""
    if not isinstance(body, dict):
        return []
    kind = body.get("NotificationType")
    kind = kind if isinstance(kind, str) else None  # a list or an object is no type (and not hashable)
    received = moment(received_at) or moment(datetime.now(UTC).isoformat())
    found: list[Loyalty] = []
    if kind in BALANCE_TYPES:
        profile, points = body.get("ProfileIntegrationID"), _number(body.get("CurrentPoints"))
        if isinstance(profile, str) and profile and points is not None and received:
            found.append(Loyalty(profile, received, points=points))
    elif kind in TIER_TYPES:
        for item in body.get("Data") or []:
            if not isinstance(item, dict):
                continue
            profile = item.get("CustomerProfileID")
            at = moment(item.get("TimestampOfTierChange")) or received
            tier = item.get("CurrentTier") if isinstance(item.get("CurrentTier"), str) else None
            if isinstance(profile, str) and profile and at:
                found.append(Loyalty(profile, at, points=_number(item.get("CurrentPoints")), tier=tier))
    return sorted(found, key=lambda update: update.at)


def customer_gid(profile_id: str) -> str | None:
    # (ASCII digits only: str.isdigit takes full-width, superscript and Arabic-Indic digits too)
    return f"gid://shopify/Customer/{profile_id}" if profile_id.isascii() and profile_id.isdigit() else None


def _metafield(owner: str, key: str, kind: str, value: str) -> dict[str, str]:
    return {"ownerId": owner, "namespace": NAMESPACE, "key": key, "type": kind, "value": value}


def apply(container: Container, body: Any, *, received_at: str | None, message_id: str) -> int:
    """Write what the notification tells to the shop; returns how many metafields were set.

    ShopifyUnavailable (retry later) or InvalidRequest (dead letter) as `admin.metafields_set` raises.
    """
    cfg = container.settings()
    shop = cfg.shopify_shop_domain
    found = updates(body, received_at=received_at)
    if not found or not shop:
        if found:
            logger.info("write-back skipped: SHOPIFY_SHOP_DOMAIN is not set", extra={"updates": len(found)})
        return 0
    table = store(container)
    expires = int(datetime.now(UTC).timestamp()) + cfg.ordering_expiry_seconds
    written = 0
    for update in found:
        owner = customer_gid(update.profile_id)
        if owner is None:
            logger.info("write-back skipped: the profile is not a Shopify customer id")
            continue
        fields = []
        if update.points is not None:
            fields.append((POINTS_KEY, _metafield(owner, POINTS_KEY, "number_decimal", decimal_text(update.points))))
        if update.tier is not None:
            fields.append((TIER_KEY, _metafield(owner, TIER_KEY, "single_line_text_field", update.tier)))
        ids = {key: table.writeback_id(shop, key, update.profile_id) for key, _ in fields} if table else {}
        newer = [(key, field) for key, field in fields if not table or table.applied_position(ids[key]) < update.at]
        if not newer:
            logger.info("write-back superseded: a newer value was written already", extra={"at": update.at})
            continue
        admin.metafields_set(container, shop, [field for _, field in newer])
        for key, _ in newer:
            if table:
                table.record_position(ids[key], update.at, message_id=message_id, expires=expires)
        written += len(newer)
        logger.info("written back to Shopify", extra={"metafields": [key for key, _ in newer], "at": update.at})
    return written
