"""Shopify's webhooks: the signature, the headers, the freshness.

Shopify signs the raw body: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the body bytes, keyed
with the app's client secret (for a webhook made in the shop's admin, the key shown under Settings >
Notifications > Webhooks). The secret lives in Secrets Manager as `{"current": ..., "previous": ...}`,
so it can be rotated: both values are accepted meanwhile, each compared in constant time.

Only the body is signed. The headers (`X-Shopify-Topic`, `X-Shopify-Webhook-Id`, stable across
Shopify's retries; `X-Shopify-Shop-Domain`; `X-Shopify-Triggered-At`, the moment the webhook was
triggered, kept by every retry) are read once the body is known to be Shopify's. A webhook triggered
longer ago than WEBHOOK_MAX_AGE (6 hours by default; Shopify retries for 4) is refused as stale; one
without the header is taken (the signature still holds), one from the future beyond 5 minutes is not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from talon_relay.aws.secret_values import read_secret
from talon_relay.errors import CredentialsError, InvalidRequest, Unauthenticated
from talon_relay.webhooks.envelope import Delivery

if TYPE_CHECKING:
    from talon_relay.container import Container

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_HEADER = "X-Shopify-Shop-Domain"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
#: One per merchant action, shared by its deliveries and topics: the key to find duplicates (Shopify's docs).
EVENT_ID_HEADER = "X-Shopify-Event-Id"
#: How far ahead of the relay's clock a trigger time may be (clock skew).
FUTURE_TOLERANCE_SECONDS = 300

#: Topics are `resource/event` (orders/paid, customers_marketing_consent/update): no room for anything
#: else in a log line or a metric dimension.
_TOPIC = re.compile(r"^[A-Za-z0-9_.-]{1,60}(/[A-Za-z0-9_.-]{1,60}){0,3}$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]{1,255}$")


def sign(secret: str, body: bytes) -> str:
    """The header value Shopify sends for `body`: base64 of its HMAC-SHA256 keyed with the secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def signing_secrets(
    container: Container, secret_arn: str, *, max_age: int, force: bool = False, platform: str = "Shopify"
) -> list[str]:
    """The secret values accepted now: current first, then previous (during a rotation). Any platform's
    webhook secret has this shape (`{"current": ..., "previous": ...}`), Talon.One's too."""
    raw = container.secret(secret_arn, max_age=max_age, force=force, read=read_secret)
    if not isinstance(raw, dict):
        raise CredentialsError(f"{platform} webhook secret must be a JSON object")
    secrets = [value for value in (raw.get("current"), raw.get("previous")) if isinstance(value, str) and value]
    if not secrets:
        raise CredentialsError(f'{platform} webhook secret needs a non-empty "current" value')
    return secrets


def verify_signature(value: str | None, *, secrets: list[str], body: bytes) -> None:
    """Raise Unauthenticated unless `value` is the body's HMAC by one of the secrets."""
    if value is None or not value.strip():
        raise Unauthenticated(f"missing {HMAC_HEADER} header: Shopify signs every webhook", header=HMAC_HEADER)
    try:
        offered = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        offered = b""
    if len(offered) != hashlib.sha256().digest_size:
        raise Unauthenticated(
            f"malformed {HMAC_HEADER} header: expected the base64 HMAC-SHA256 of the body", header=HMAC_HEADER
        )
    valid = False
    for secret in secrets:  # every secret is tried, whichever matches: the time says nothing
        valid |= hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).digest(), offered)
    if not valid:
        raise Unauthenticated(
            f"{HMAC_HEADER} does not match the body (changed in transit, or signed with another secret)",
            header=HMAC_HEADER,
        )


def triggered_at(value: str) -> float:
    """An ISO 8601 time as Shopify sends it (nanoseconds, `Z`) in Unix seconds; ValueError if not one."""
    text = value.strip()
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Python reads at most microseconds
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.timestamp()


def check_fresh(value: str | None, *, max_age: int, now: float | None = None) -> None:
    """Raise Unauthenticated when the webhook was triggered more than `max_age` seconds ago."""
    if value is None or not value.strip():
        return
    try:
        moment = triggered_at(value)
    except ValueError:
        raise Unauthenticated(
            f"malformed {TRIGGERED_AT_HEADER} header: expected an ISO 8601 time", header=TRIGGERED_AT_HEADER
        ) from None
    age = (time.time() if now is None else now) - moment
    if age > max_age:
        raise Unauthenticated(
            f"stale webhook: triggered {int(age)} s ago, more than the {max_age} s the relay accepts",
            header=TRIGGERED_AT_HEADER,
        )
    if age < -FUTURE_TOLERANCE_SECONDS:
        raise Unauthenticated(
            f"{TRIGGERED_AT_HEADER} is {int(-age)} s in the future (check the clocks)", header=TRIGGERED_AT_HEADER
        )


def _required(headers: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = headers.get(name.lower())
    if value is None or not value.strip():
        raise InvalidRequest.single("Missing header", f"{name} is required", parameter=name)
    if not pattern.match(value.strip()):
        raise InvalidRequest.single("Invalid header", f"{name} must be {what}", parameter=name)
    return value.strip()


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
    """A Shopify webhook's delivery, once its signature and age are checked (401 otherwise)."""
    secrets = signing_secrets(container, secret_arn, max_age=secret_max_age)
    verify_signature(headers.get(HMAC_HEADER.lower()), secrets=secrets, body=body)
    check_fresh(headers.get(TRIGGERED_AT_HEADER.lower()), max_age=max_age, now=now)
    shop = headers.get(SHOP_HEADER.lower())
    return Delivery(
        topic=_required(headers, TOPIC_HEADER, _TOPIC, "a topic such as orders/paid"),
        webhook_id=_required(headers, WEBHOOK_ID_HEADER, _PRINTABLE, "1 to 255 printable ASCII characters"),
        shop_domain=shop.strip()[:255] if shop and shop.strip() else None,
        triggered_at=headers.get(TRIGGERED_AT_HEADER.lower()),
        event_id=_optional(headers, EVENT_ID_HEADER),
    )


def _optional(headers: Mapping[str, str], name: str) -> str | None:
    """A header that may be missing; one that is there must be printable ASCII (400 otherwise)."""
    value = headers.get(name.lower())
    if value is None or not value.strip():
        return None
    return _required(headers, name, _PRINTABLE, "1 to 255 printable ASCII characters")
