"""Shopify's webhooks against the local stack: the local secret, signed sends, and the demo's journey.

`make run` prints the local secret (the stack's ShopifyWebhookSecret, generated in local AWS like the
other secrets) and a `curl` that signs a webhook as Shopify does; `make demo` ends with a signed
journey: a cart with a coupon, the order paid (sent twice, as Shopify's retry would), the customer's
erasure request, then the erasure schedule.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import urllib3

from local.aws import current_secret
from local.shopify_admin import SHOP_DOMAIN
from talon_relay.webhooks.shopify import signature as shopify

WEBHOOK_PATH = "/webhooks/shopify"
API_VERSION = "2026-04"
#: Bound for the webhook queue's poller to map and apply what was sent (it long-polls 1 s).
APPLY_TIMEOUT = 15.0


class JourneyFailed(RuntimeError):
    pass


def webhook_secret(info: dict[str, Any]) -> str | None:
    """The local stack's Shopify webhook secret ("current"), read from local AWS."""
    return current_secret(info, "shopify_webhook_secret_arn")


def webhook_headers(
    topic: str,
    body: bytes,
    secret: str,
    *,
    webhook_id: str | None = None,
    triggered_at: datetime | None = None,
    shop: str = SHOP_DOMAIN,
) -> dict[str, str]:
    """The headers Shopify sends with a webhook, signed with `secret`."""
    moment = (triggered_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    webhook_id = webhook_id or str(uuid.uuid4())
    return {
        "Content-Type": "application/json",
        shopify.TOPIC_HEADER: topic,
        shopify.HMAC_HEADER: shopify.sign(secret, body),
        shopify.WEBHOOK_ID_HEADER: webhook_id,
        shopify.SHOP_HEADER: shop,
        shopify.TRIGGERED_AT_HEADER: moment,
        "X-Shopify-API-Version": API_VERSION,
        # one per merchant action, the same on each of Shopify's retries of the webhook
        shopify.EVENT_ID_HEADER: str(uuid.uuid5(uuid.NAMESPACE_URL, f"shopify-event:{webhook_id}")),
    }


def banner(info: dict[str, Any]) -> str:
    """The `make run` lines about Shopify: the route, the local secret, a signed curl."""
    secret = webhook_secret(info)
    if not secret:
        return ""
    url = info["api_url"] + WEBHOOK_PATH
    return f"""
Shopify webhooks: POST {url}
  local Shopify webhook secret: {secret!r}  (ShopifyWebhookSecret; deployed, it holds the app's secret)
  sign a webhook as Shopify does (base64 HMAC-SHA256 of the raw body):

  BODY='{{"id": 1001, "email": "ada@example.com", "state": "enabled", "tags": "vip"}}'
  curl -s -X POST {url} -H 'Content-Type: application/json' \\
       -H 'X-Shopify-Topic: customers/create' -H "X-Shopify-Webhook-Id: $(uuidgen || date +%s%N)" \\
       -H 'X-Shopify-Shop-Domain: {SHOP_DOMAIN}' -H "X-Shopify-Triggered-At: $(date -u +%Y-%m-%dT%H:%M:%SZ)" \\
       -H "X-Shopify-Hmac-Sha256: $(printf '%s' "$BODY" | openssl dgst -sha256 -hmac '{secret}' -binary | base64)" \\
       -d "$BODY"
"""


# --- the demo's journey ------------------------------------------------------------------------------


class _Shop:
    def __init__(self, info: dict[str, Any], http: urllib3.PoolManager, secret: str) -> None:
        self.info, self.http, self.secret = info, http, secret

    def send(self, topic: str, payload: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        headers = webhook_headers(topic, body, self.secret, webhook_id=webhook_id)
        response = self.http.request(
            "POST", self.info["api_url"] + WEBHOOK_PATH, body=body, headers=headers, timeout=30
        )
        answer: dict[str, Any] = json.loads(response.data or b"{}")
        print(f"   POST {WEBHOOK_PATH} ({topic}, webhook {webhook_id[:8]}) -> {response.status} {answer.get('status')}")
        if response.status != 200:
            raise JourneyFailed(f"{topic}: expected 200, got {response.status}: {answer}")
        return answer

    def talon_requests(self) -> list[dict[str, Any]]:
        # the requests of this journey's application (the one emulator serves them all)
        admin = self.info.get("emulator_admin") or f"{self.info['emulator_url']}/_emulator"
        response = self.http.request("GET", f"{admin}/requests", timeout=10)
        found: list[dict[str, Any]] = json.loads(response.data)["requests"]
        return found

    def wait_for(self, count: int, since: int) -> list[dict[str, Any]]:
        """The Integration API requests after the first `since`, once `count` of them arrived."""
        deadline = time.monotonic() + APPLY_TIMEOUT
        while True:
            seen = [r for r in self.talon_requests()[since:] if r["path"].startswith("/v")]
            if len(seen) >= count:
                return seen
            if time.monotonic() > deadline:
                raise JourneyFailed(f"Talon.One got {len(seen)} of the {count} calls expected within {APPLY_TIMEOUT} s")
            time.sleep(0.2)


def _show(requests: list[dict[str, Any]]) -> None:
    for request in requests:
        effects = ", ".join(request.get("effects") or []) or "(none)"
        print(f"   Talon.One {request['method']} {request['path']} -> {request['status']}  effects: {effects}")


def run_journey(info: dict[str, Any], http: urllib3.PoolManager, step: int) -> int:
    """The Shopify part of `make demo`; returns the last step number. Raises JourneyFailed."""
    secret = webhook_secret(info)
    if not secret:
        raise JourneyFailed("the local stack has no ShopifyWebhookSecret")
    shop = _Shop(info, http, secret)
    run = uuid.uuid4().hex[:6]
    cart, customer = f"cart{run}", int(time.time()) % 10_000_000
    line = {"id": 1, "variant_id": 4401, "sku": "SKU-CAMERA", "title": "Camera", "quantity": 1, "price": "120.00"}
    coupon = [{"title": "SAVE5", "amount": "5.00"}]
    print("Shopify's signed webhooks, mapped by talon_relay/webhooks/shopify/topics/ (see docs/webhooks.md)\n")

    step += 1
    print(f"{step}. carts/update: a cart with a camera and the coupon SAVE5 -> updateCustomerSessionV2")
    before = len(shop.talon_requests())
    shop.send(
        "carts/update", {"id": cart, "token": cart, "line_items": [{**line, "discounts": coupon}]}, str(uuid.uuid4())
    )
    _show(shop.wait_for(1, before))

    step += 1
    print(f"\n{step}. orders/paid, sent twice with one webhook id (as Shopify retries) -> the session closed, then a")
    print("   purchase event, each once")
    order = {
        "id": 820982911946154508 + customer,
        "cart_token": cart,
        "currency": "EUR",
        "total_price": "115.00",
        "customer": {"id": customer, "email": "ada@example.com"},
        "discount_codes": [{"code": "SAVE5", "amount": "5.00", "type": "fixed_amount"}],
        "line_items": [line],
    }
    webhook_id = str(uuid.uuid4())
    before = len(shop.talon_requests())
    shop.send("orders/paid", order, webhook_id)
    applied = shop.wait_for(2, before)
    shop.send("orders/paid", order, webhook_id)
    time.sleep(2.5)  # the retry's turn on the queue: it must add nothing
    applied = [r for r in shop.talon_requests()[before:] if r["path"].startswith("/v")]
    _show(applied)
    if len(applied) != 2:
        raise JourneyFailed(f"orders/paid sent twice made {len(applied)} Talon.One calls, not 2")

    step += 1
    print(f"\n{step}. customers/redact -> deleteCustomerData queued for the off-peak erasure schedule")
    shop.send(
        "customers/redact",
        {"shop_domain": SHOP_DOMAIN, "customer": {"id": customer, "email": "ada@example.com"}, "orders_to_redact": []},
        str(uuid.uuid4()),
    )
    summary = _erase(info, http)
    print(f"   erasure run (make cleanup does the same): {summary}")
    deletes = [r for r in shop.talon_requests() if r["method"] == "DELETE" and r["path"].endswith(f"/{customer}")]
    _show(deletes)
    if len(deletes) != 1:
        raise JourneyFailed(f"customers/redact made {len(deletes)} DELETE calls, not 1")
    print()
    return step


def pay_order(info: dict[str, Any], http: urllib3.PoolManager, customer: int) -> None:
    """One order of `customer` paid (orders/paid): its session closed and its purchase event tracked at
    Talon.One (which gives the purchase's loyalty points). Raises JourneyFailed."""
    secret = webhook_secret(info)
    if not secret:
        raise JourneyFailed("the local stack has no ShopifyWebhookSecret")
    shop = _Shop(info, http, secret)
    cart = f"cart{uuid.uuid4().hex[:6]}"
    line = {"id": 1, "variant_id": 4402, "sku": "SKU-FILM", "title": "Film", "quantity": 2, "price": "8.50"}
    order = {
        "id": 820982911946154508 + customer,
        "cart_token": cart,
        "currency": "EUR",
        "total_price": "17.00",
        "customer": {"id": customer, "email": "grace@example.com"},
        "line_items": [line],
    }
    before = len(shop.talon_requests())
    shop.send("orders/paid", order, str(uuid.uuid4()))
    _show(shop.wait_for(2, before))


def _erase(info: dict[str, Any], http: urllib3.PoolManager) -> dict[str, Any]:
    """Run the erasure schedule until it has deleted the queued request (it is queued asynchronously)."""
    deadline = time.monotonic() + APPLY_TIMEOUT
    while True:
        response = http.request("POST", f"{info['api_url']}/_local/schedules/DeleteCustomerDataFunction", timeout=120)
        summary: dict[str, Any] = json.loads(response.data)
        if summary.get("deleted") or summary.get("not_found"):
            return summary
        if time.monotonic() > deadline:
            raise JourneyFailed(f"the erasure run found nothing to delete: {summary}")
        time.sleep(0.5)
