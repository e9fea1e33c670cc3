"""Shopify's signed webhooks through the whole local stack: the gateway's route, the function's queue and
its poller, the mappings, the emulator, and the off-peak erasure schedule for customers/redact.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.shopify import WEBHOOK_PATH, webhook_headers, webhook_secret
from local.stack import LocalStack
from tests.e2e.helpers import Answer, Http, Queues, attribute, talon_requests, wait_until
from tests.support import load_event

pytestmark = pytest.mark.e2e

QUEUE = "ShopifyWebhookQueue"
DLQ = "ShopifyWebhookDeadLetterQueue"
#: where the webhooks that change a session go, in the session's group (docs/lifecycle.md)
SESSIONS, SESSIONS_DLQ = "SessionsQueue", "SessionsDeadLetterQueue"
ERASURE_QUEUE = "DeleteCustomerDataQueue"
#: where a product webhook's sync goes, coalesced with the catalog's others by syncCatalog's function
CATALOG_QUEUE, CATALOG_DLQ = "SyncCatalogQueue", "SyncCatalogDeadLetterQueue"
FUNCTION = "ShopifyWebhookFunction"
#: Bound for a queued webhook to be polled, mapped and applied (the poller long-polls 1 s).
APPLY_TIMEOUT = 15.0


def payload(topic: str) -> dict[str, Any]:
    result: dict[str, Any] = load_event("shopify_webhook/payloads", topic.replace("/", "_"))
    return result


class Shopify:
    """Shopify posting signed webhooks to the local relay."""

    def __init__(self, stack: LocalStack, http: Http) -> None:
        self.stack, self.http = stack, http
        self.secret = webhook_secret(stack.describe())
        assert self.secret

    def post(
        self,
        topic: str,
        body: dict[str, Any],
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
        triggered_at: datetime | None = None,
    ) -> Answer:
        raw = json.dumps(body).encode()
        headers = webhook_headers(
            topic, raw, secret or self.secret or "", webhook_id=webhook_id, triggered_at=triggered_at
        )
        return self.http.request("POST", self.stack.api_url + WEBHOOK_PATH, raw, headers)


@pytest.fixture
def shopify(stack: LocalStack, http: Http) -> Shopify:
    return Shopify(stack, http)


def integration_calls(stack: LocalStack) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"], r["status"]) for r in talon_requests(stack, prefix="/v")]


def applied(stack: LocalStack, queues: Queues, count: int) -> list[tuple[str, str, int]]:
    """The Integration API calls, once `count` arrived and the webhook queue is empty."""
    wait_until(lambda: len(integration_calls(stack)) >= count, timeout=APPLY_TIMEOUT, what=f"{count} Talon.One calls")
    queues.wait_empty(QUEUE, SESSIONS, CATALOG_QUEUE, timeout=APPLY_TIMEOUT)
    return integration_calls(stack)


def session_path(session: str) -> str:
    return f"/v2/customer_sessions/{session}"


ORDER = payload("orders/paid")
CUSTOMER = str(ORDER["customer"]["id"])
CART = ORDER["cart_token"]

#: What each default topic's sample webhook becomes at Talon.One (method, path, status), in order.
DEFAULT_TOPICS: dict[str, list[tuple[str, str, int]]] = {
    "carts/update": [("PUT", session_path(CART), 200)],
    "checkouts/update": [("PUT", session_path(CART), 200)],
    "orders/create": [("PUT", session_path(CART), 200), ("POST", "/v3/events", 200)],
    "orders/paid": [("PUT", session_path(CART), 200), ("POST", "/v3/events", 200)],
    "customers/create": [("PUT", f"/v2/customer_profiles/{CUSTOMER}", 200)],
    "customers/update": [("PUT", f"/v2/customer_profiles/{CUSTOMER}", 200)],
    "products/create": [("PUT", "/v1/catalogs/1/sync", 200)],
    "products/update": [("PUT", "/v1/catalogs/1/sync", 200)],
    "products/delete": [("PUT", "/v1/catalogs/1/sync", 200)],
}


@pytest.mark.parametrize("topic", sorted(DEFAULT_TOPICS))
def test_each_default_topic_reaches_talon_one_as_its_mapping_says(
    stack: LocalStack, queues: Queues, shopify: Shopify, topic: str
) -> None:
    # Given Shopify's sample webhook for the topic
    # When Shopify posts it, signed
    answer = shopify.post(topic, payload(topic))

    # Then it is queued at once, and Talon.One receives the mapped operations, in order, each accepted
    assert answer.status == 200
    assert answer.json["status"] == "queued"
    expected = DEFAULT_TOPICS[topic]
    assert applied(stack, queues, len(expected)) == expected
    assert queues.depth(DLQ) == queues.depth(SESSIONS_DLQ) == 0


def test_a_product_created_updated_and_deleted_is_in_the_catalog_then_gone(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given a product created in the shop
    created = payload("products/create")
    assert shopify.post("products/create", created).status == 200
    applied(stack, queues, 1)
    items = stack.emulator.state()["catalogs"]["1"]["items"]
    # Then each variant is an item of catalog 1, by the SKU convention (SKU, else the variant id)
    first, second = created["variants"]
    assert set(items) == {first["sku"], str(second["id"])}
    # When its price changes, then it is deleted
    assert shopify.post("products/update", payload("products/update")).status == 200
    applied(stack, queues, 2)
    assert stack.emulator.state()["catalogs"]["1"]["items"][first["sku"]]["price"] == 8.9
    assert shopify.post("products/delete", payload("products/delete")).status == 200
    # Then its items are gone, and every sync was accepted
    assert applied(stack, queues, 3) == [("PUT", "/v1/catalogs/1/sync", 200)] * 3
    assert stack.emulator.state()["catalogs"]["1"]["items"] == {}
    assert queues.depth(DLQ) == queues.depth(CATALOG_DLQ) == 0


def test_product_webhooks_reach_talon_one_through_the_catalog_queue(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given three new products posted at once (each product's variants with their own SKUs)
    created = payload("products/create")
    products = [
        {
            **created,
            "id": 7100 + n,
            "variants": [
                {**v, "id": 71000 + n * 10 + i, "sku": f"E2E-{n}-{i}"} for i, v in enumerate(created["variants"])
            ],
        }
        for n in range(3)
    ]
    for product in products:
        assert shopify.post("products/create", product).status == 200
    # Then their syncs went through syncCatalog's queue (none was sent by the webhook function): every variant is
    # an item, in at most three syncCatalog requests (as few as the poller's batches allowed), nothing refused
    skus = {f"E2E-{n}-{i}" for n in range(3) for i in range(2)}
    wait_until(
        lambda: skus <= set(stack.emulator.state()["catalogs"]["1"]["items"]),
        timeout=APPLY_TIMEOUT,
        what="the products' items",
    )
    queues.wait_empty(QUEUE, CATALOG_QUEUE, timeout=APPLY_TIMEOUT)
    syncs = [r for r in stack.emulator.requests() if r["operation"] == "syncCatalog"]
    assert 1 <= len(syncs) <= 3 and {r["status"] for r in syncs} == {200}
    assert sum(len(r["body"]["actions"]) for r in syncs) == 6
    assert queues.depth(DLQ) == queues.depth(CATALOG_DLQ) == 0


def test_the_journey_of_a_cart_its_checkout_and_its_order_is_one_session_closed_once(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given a cart update, its checkout and its paid order, posted in that order
    for topic in ("carts/update", "checkouts/update", "orders/paid"):
        assert shopify.post(topic, payload(topic)).status == 200

    # Then the cart's session was updated twice, then closed for the customer, then the purchase tracked
    assert [call[:2] for call in applied(stack, queues, 4)] == [
        ("PUT", session_path(CART)),
        ("PUT", session_path(CART)),
        ("PUT", session_path(CART)),
        ("POST", "/v3/events"),
    ]
    session = stack.emulator.state()["sessions"][CART]
    assert (session["state"], session["profileId"]) == ("closed", CUSTOMER)


def test_orders_paid_sent_twice_and_delivered_again_later_is_one_close_and_one_purchase(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given orders/paid posted, applied, and posted again by Shopify's retry (same webhook id)
    webhook_id = str(uuid.uuid4())
    assert shopify.post("orders/paid", ORDER, webhook_id=webhook_id).status == 200
    applied(stack, queues, 2)
    assert shopify.post("orders/paid", ORDER, webhook_id=webhook_id).status == 200
    queues.wait_empty(QUEUE, SESSIONS, CATALOG_QUEUE, timeout=APPLY_TIMEOUT)
    # and the same webhook once more on the queue, as after SQS's deduplication window
    message = {
        "platform": "shopify",
        "topic": "orders/paid",
        "webhookId": webhook_id,
        # the X-Shopify-Event-Id the receiver read from Shopify's headers (local/shopify.py)
        "eventId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"shopify-event:{webhook_id}")),
        "shopDomain": "relay-demo.myshopify.com",
        "body": json.dumps(ORDER),
    }
    # on the queue the receiver put it on: the sessions queue, named as its receiver's message (each function's
    # idempotency records are its own, as in Lambda: a copy on another function's queue is not this case)
    queues.send(SESSIONS, message, group=CART, operation="shopifyWebhook")
    queues.wait_empty(SESSIONS, timeout=APPLY_TIMEOUT)

    # Then Talon.One got one session close and one purchase event
    assert integration_calls(stack) == DEFAULT_TOPICS["orders/paid"]
    assert queues.depth(DLQ) == queues.depth(SESSIONS_DLQ) == 0


def test_customers_redact_erases_the_customer_and_its_orders_guest_profiles_once_when_the_schedule_runs(
    stack: LocalStack, http: Http, queues: Queues, shopify: Shopify
) -> None:
    # Given a customer Talon.One knows, and Shopify's customers/redact for them (one order to redact),
    # posted twice (a retry)
    assert shopify.post("customers/create", payload("customers/create")).status == 200
    applied(stack, queues, 1)
    redact = payload("customers/redact")
    [order] = redact["orders_to_redact"]
    webhook_id = str(uuid.uuid4())
    for _ in range(2):
        assert shopify.post("customers/redact", redact, webhook_id=webhook_id).status == 200
    queues.wait_empty(QUEUE, timeout=APPLY_TIMEOUT)

    # Then nothing more reached Talon.One yet: the erasures wait on the erasure queue, once each
    assert len(integration_calls(stack)) == 1
    wait_until(lambda: queues.depth(ERASURE_QUEUE) == 2, timeout=5, what="the erasure requests")

    # When the off-peak schedule runs (make cleanup)
    summary = http.run_schedule("DeleteCustomerDataFunction").json

    # Then the customer's data is deleted with one DELETE, the order's guest profile asked once (this
    # order was the customer's, so Talon.One has no such profile: 404, done), and the queue is empty
    assert (summary["deleted"], summary["not_found"]) == (1, 1)
    deletes = sorted(call for call in integration_calls(stack) if call[0] == "DELETE")
    assert deletes == [
        ("DELETE", f"/v1/customer_data/{CUSTOMER}", 204),
        ("DELETE", f"/v1/customer_data/guest-order-{order}", 404),
    ]
    assert stack.emulator.state()["profiles"][CUSTOMER]["attributes"] == {}
    assert queues.depth(ERASURE_QUEUE) == 0


def test_a_guest_orders_sessions_and_events_are_erased_by_customers_redact(
    stack: LocalStack, http: Http, queues: Queues, shopify: Shopify
) -> None:
    # Given a guest's order paid (no customer: tracked for the profile guest-order-<id>)
    order = {key: value for key, value in ORDER.items() if key != "customer"}
    assert shopify.post("orders/paid", order).status == 200
    applied(stack, queues, 2)
    guest = f"guest-order-{order['id']}"
    before = stack.emulator.state()["events"]
    purchases = [event for event in before if event.get("profileId") == guest and event["type"] == "purchase"]
    assert [event["attributes"]["orderId"] for event in purchases] == [str(order["id"])]

    # When Shopify's customers/redact names the order, and the erasure schedule runs
    redact = {**payload("customers/redact"), "orders_to_redact": [order["id"]]}
    assert shopify.post("customers/redact", redact).status == 200
    queues.wait_empty(QUEUE, timeout=APPLY_TIMEOUT)
    wait_until(lambda: queues.depth(ERASURE_QUEUE) == 2, timeout=5, what="the erasure requests")
    http.run_schedule("DeleteCustomerDataFunction")

    # Then Talon.One erased the guest profile's data: its events keep no attribute (the purchase's order
    # id, total and currency are gone), its session none either
    assert ("DELETE", f"/v1/customer_data/{guest}", 204) in integration_calls(stack)
    state = stack.emulator.state()
    events = [event for event in state["events"] if event.get("profileId") == guest]
    assert events and all(event["attributes"] == {} for event in events)
    assert state["sessions"][CART]["attributes"] == {}


@pytest.mark.parametrize("topic", ["inventory_levels/update", "app/uninstalled"])
def test_unmapped_topics_are_acknowledged_and_nothing_is_sent(
    stack: LocalStack, queues: Queues, shopify: Shopify, topic: str
) -> None:
    # When Shopify posts a topic that has no mapping (shop/redact has one: tests/e2e/test_shopify_redact.py)
    status = "ignored"
    answer = shopify.post(topic, {"shop_id": 60129542, "shop_domain": "relay-demo.myshopify.com"})

    # Then it is acknowledged with 200, nothing is queued, and Talon.One hears nothing
    assert answer.status == 200
    assert answer.json == {"status": status, "topic": topic}
    assert queues.depth(QUEUE) == 0
    assert integration_calls(stack) == []


@pytest.mark.parametrize(
    ("secret", "age", "reason"),
    [
        ("not-the-shops-secret", timedelta(0), "does not match the body"),
        (None, timedelta(hours=8), "stale webhook"),
    ],
    ids=["bad signature", "stale"],
)
def test_a_webhook_not_signed_by_the_shop_or_stale_is_refused_with_401(
    stack: LocalStack, queues: Queues, shopify: Shopify, secret: str | None, age: timedelta, reason: str
) -> None:
    # When a webhook with a wrong signature, or triggered too long ago, is posted
    answer = shopify.post("orders/paid", ORDER, secret=secret, triggered_at=datetime.now(UTC) - age)

    # Then the gateway answers 401 with the reason, and nothing is queued or sent
    assert answer.status == 401
    assert reason in answer.json["errors"][0]["details"]
    assert queues.depth(QUEUE) == queues.depth(SESSIONS) == 0
    assert integration_calls(stack) == []


def test_a_webhook_a_mapping_cannot_turn_into_a_valid_request_is_dead_lettered_with_the_reason(
    stack: LocalStack,
    queues: Queues,
    shopify: Shopify,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an operator's customers/update mapping that sends a profile id Talon.One cannot take (a number)
    folder = tmp_path / "shopify"
    folder.mkdir()
    mapping = {
        "topic": "customers/update",
        "description": "a broken mapping",
        "steps": [
            {"operation": "updateCustomerProfileV2", "params": {"integrationId": "id"}, "body": {"attributes": {}}}
        ],
    }
    (folder / "customers_update.json").write_text(json.dumps(mapping))
    monkeypatch.setitem(stack.gateway.functions[FUNCTION].environment, "WEBHOOK_MAPPINGS_DIR", str(tmp_path))

    # When Shopify posts customers/update: it is told 200 (queued), then the mapping runs
    assert shopify.post("customers/update", payload("customers/update")).status == 200
    wait_until(lambda: queues.depth(DLQ) == 1, timeout=APPLY_TIMEOUT, what="the dead letter")

    # Then the webhook is in the DLQ with the reason, and nothing reached Talon.One
    [letter] = queues.take_all(DLQ)
    reason = attribute(letter, "failureReason") or ""
    assert "customers/update step 1 (updateCustomerProfileV2) does not map to a valid request" in reason
    assert "integrationId" in reason
    assert json.loads(letter["Body"])["topic"] == "customers/update"
    assert integration_calls(stack) == []
