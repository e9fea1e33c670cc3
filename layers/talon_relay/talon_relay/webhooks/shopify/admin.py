"""Shopify's Admin GraphQL API, for one thing: `metafieldsSet` on a customer, within Shopify's rate limit.

Shopify limits GraphQL by cost: each shop has a bucket (`maximumAvailable` points) refilled at
`restoreRate` points a second; every answer tells how full it is (`extensions.cost.throttleStatus`),
and a query that costs more than is left is answered `THROTTLED` (HTTP 200, `errors[].extensions.code`).
The relay keeps the last throttle status per shop on the container and does not send a call the bucket
cannot pay for now: it raises ShopifyUnavailable with the seconds the bucket needs (the message comes
back from its queue then, nothing slept in the function). Shopify down (5xx, 429, timeouts, refused
connections) is ShopifyUnavailable too: retried from the queue, with its backoff, for hours. A refusal
of the request itself (GraphQL errors other than throttling, `userErrors`) is an InvalidRequest: a dead
letter naming Shopify's message.

The Admin API token is the secret SHOPIFY_ADMIN_TOKEN_SECRET_ARN (JSON `accessToken`), read through the
container's secret cache, sent as `X-Shopify-Access-Token`; never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay.aws.secret_values import read_secret
from talon_relay.errors import CredentialsError, InvalidRequest, SettingsError, ShopifyUnavailable

if TYPE_CHECKING:
    from talon_relay.container import Container

METAFIELDS_SET = """\
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key namespace value updatedAt }
    userErrors { field message code }
  }
}"""
#: What a metafieldsSet costs (Shopify: 10 points a mutation); what the bucket must hold before a call.
MUTATION_COST = 10.0
TIMEOUT_SECONDS = 10.0


@dataclass
class Bucket:
    """A shop's throttle status as its last answer told it, and when (the clock's seconds)."""

    maximum: float = 0.0
    available: float = 0.0
    restore_rate: float = 0.0
    at: float = 0.0
    known: bool = False

    def now_available(self, now: float) -> float:
        return min(self.maximum, self.available + self.restore_rate * max(now - self.at, 0.0))

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until the bucket holds `cost` (0: now)."""
        if not self.known:
            return 0.0
        missing = cost - self.now_available(now)
        if missing <= 0:
            return 0.0
        return missing / self.restore_rate if self.restore_rate > 0 else 60.0

    def update(self, status: Any, now: float) -> None:
        if not isinstance(status, dict):
            return
        try:
            self.maximum = float(status["maximumAvailable"])
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        self.at, self.known = now, True


def bucket(container: Container, shop: str) -> Bucket:
    return container.once(f"shopify-bucket:{shop}", Bucket)


def admin_url(shop: str, *, override: str | None, version: str) -> str:
    return override or f"https://{shop}/admin/api/{version}/graphql.json"


def _token(container: Container, secret_arn: str, *, max_age: int) -> str:
    raw = container.secret(secret_arn, max_age=max_age, read=read_secret)
    token = raw.get("accessToken") if isinstance(raw, dict) else None
    if not isinstance(token, str) or not token:
        raise CredentialsError('the Shopify Admin token secret needs a non-empty "accessToken"')
    return token


def metafields_set(
    container: Container, shop: str, metafields: list[dict[str, str]], *, clock: Callable[[], float] = time.time
) -> list[dict[str, Any]]:
    """Set `metafields` (MetafieldsSetInput objects) in `shop`; returns the metafields Shopify set."""
    cfg = container.settings()
    if not cfg.shopify_admin_token_secret_arn:
        raise SettingsError("SHOPIFY_ADMIN_TOKEN_SECRET_ARN must be set to write to Shopify")
    shop_bucket = bucket(container, shop)
    wait = shop_bucket.wait_for(MUTATION_COST, clock())
    if wait > 0:
        raise ShopifyUnavailable(f"Shopify's rate limit: the bucket refills in {wait:.1f} s", retry_after=wait)
    token = _token(container, cfg.shopify_admin_token_secret_arn, max_age=cfg.secret_max_age)
    url = admin_url(shop, override=cfg.shopify_admin_url, version=cfg.shopify_api_version)
    body = json.dumps({"query": METAFIELDS_SET, "variables": {"metafields": metafields}}).encode()
    try:
        response = container.http("shopify").request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json", "X-Shopify-Access-Token": token},
            timeout=TIMEOUT_SECONDS,
            retries=False,
        )
    except Exception as exc:  # urllib3's errors: refused, reset, timed out
        raise ShopifyUnavailable(f"Shopify Admin API unreachable: {type(exc).__name__}") from None
    status = response.status
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After")
        seconds = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        raise ShopifyUnavailable(f"Shopify Admin API answered {status}", retry_after=seconds)
    if status in (401, 403):  # the token is wrong or lacks write_customers: fixable, so retried
        raise ShopifyUnavailable(f"Shopify Admin API answered {status}: check the shop's Admin API token")
    if status != 200:
        raise InvalidRequest.single(
            "Shopify refused the write-back", f"Shopify Admin API answered {status}", pointer=""
        )
    try:
        answer = json.loads(response.data)
    except ValueError:
        raise ShopifyUnavailable("Shopify Admin API answered 200 with a body that is not JSON") from None
    if not isinstance(answer, dict):
        raise ShopifyUnavailable("Shopify Admin API answered 200 with JSON that is not a GraphQL answer (an object)")
    shop_bucket.update(_object(_object(answer.get("extensions")).get("cost")).get("throttleStatus"), clock())
    return _result(answer, shop_bucket, clock())


def _object(value: Any) -> dict[str, Any]:
    """A part of Shopify's answer read as an object; anything else as an empty one (a tolerant reader)."""
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _result(answer: dict[str, Any], shop_bucket: Bucket, now: float) -> list[dict[str, Any]]:
    errors = _items(answer.get("errors"))
    if errors:
        codes = {str(_object(error.get("extensions")).get("code")) for error in errors if isinstance(error, dict)}
        if "THROTTLED" in codes:
            wait = shop_bucket.wait_for(MUTATION_COST, now) or 1.0
            raise ShopifyUnavailable("Shopify throttled the write-back", retry_after=wait)
        messages = "; ".join(str(error.get("message")) for error in errors if isinstance(error, dict))
        raise InvalidRequest.single(
            "Shopify refused the write-back", f"Shopify Admin API: {messages[:500]}", pointer=""
        )
    result = _object(answer.get("data")).get("metafieldsSet")
    if not isinstance(result, dict):  # a 200 without errors names what it set: this one did not say
        raise ShopifyUnavailable("Shopify Admin API answered 200 without a metafieldsSet result")
    user_errors = _items(result.get("userErrors"))
    if user_errors:
        messages = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in user_errors if isinstance(e, dict))
        problem = f"Shopify Admin API userErrors: {messages[:500]}"
        raise InvalidRequest.single("Shopify refused the metafields", problem, pointer="")
    return [field for field in _items(result.get("metafields")) if isinstance(field, dict)]
