"""Shopify's privacy webhooks and the relay's own records through the whole local stack: an order's record is
kept by the sessions queue's consumer (UpdateCustomerSessionV2Function) and its group by the Shopify receiver,
under each function's own prefix; customers/redact and shop/redact, consumed by the receiver, delete both
(ORDER_RECORDS_OWNER names the consumer; the index ByShop finds a shop's). The function-level cases, with
continuations and bad input: tests/functions/test_shopify_redact.py.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

from local.aws import STACK_NAME
from local.shopify import WEBHOOK_PATH, webhook_headers
from local.stack import LocalStack
from tests.e2e.helpers import Http, Queues, wait_until
from tests.e2e.test_shopify import APPLY_TIMEOUT, QUEUE, SESSIONS, Shopify, payload, shopify

pytestmark = pytest.mark.e2e
__all__ = ["shopify"]  # the fixture

#: A shop of these tests alone: shop/redact forgets every record of its shop, and the stack is shared.
SHOP = "redact-e2e-roastery.myshopify.com"
OTHER_SHOP = "redact-e2e-other.myshopify.com"


def post(stack: LocalStack, http: Http, shopify: Shopify, topic: str, body: dict[str, Any], shop: str) -> None:
    raw = json.dumps(body).encode()
    headers = webhook_headers(topic, raw, shopify.secret or "", webhook_id=str(uuid.uuid4()), shop=shop)
    assert http.request("POST", stack.api_url + WEBHOOK_PATH, raw, headers).status == 200


def records(stack: LocalStack, shop: str) -> set[str]:
    """The ids of the relay's order records and groups of `shop` in the stack's table."""
    dynamodb = stack.aws.client("dynamodb")
    items = dynamodb.scan(TableName=stack.aws.table_names["IdempotencyTable"])["Items"]
    return {item["id"]["S"] for item in items if f"#{shop}#" in item["id"]["S"] and "order" in item["id"]["S"]}


def pay(stack: LocalStack, http: Http, queues: Queues, shopify: Shopify, order_id: int, shop: str) -> None:
    """Given an order of `shop` paid and applied by the sessions queue's consumer: its record and group kept."""
    order = copy.deepcopy(payload("orders/paid"))
    order["id"], order["cart_token"] = order_id, f"redact-e2e-cart-{order_id}"
    post(stack, http, shopify, "orders/paid", order, shop)
    wait_until(lambda: len(records(stack, shop) & owned(order_id, shop)) == 2, timeout=APPLY_TIMEOUT, what="records")
    queues.wait_empty(QUEUE, SESSIONS, timeout=APPLY_TIMEOUT)


def owned(order_id: int, shop: str) -> set[str]:
    """An order's two items, each under the prefix of the function that keeps it."""
    return {
        f"{STACK_NAME}-update-customer-session-v2.order#{shop}#{order_id}",
        f"{STACK_NAME}-shopify-webhook.ordergroup#{shop}#{order_id}",
    }


def test_customers_redact_deletes_the_records_its_orders_left_with_another_function(
    stack: LocalStack, http: Http, queues: Queues, shopify: Shopify
) -> None:
    # Given two paid orders, each remembered by the sessions consumer and grouped by the receiver
    redact = {**payload("customers/redact"), "shop_domain": SHOP}  # (its body names its shop, as the header does)
    [named] = redact["orders_to_redact"]
    pay(stack, http, queues, shopify, named, SHOP)
    pay(stack, http, queues, shopify, 6100000000001, SHOP)

    # When Shopify's customers/redact names the first
    post(stack, http, shopify, "customers/redact", redact, SHOP)
    queues.wait_empty(QUEUE, timeout=APPLY_TIMEOUT)

    # Then the receiver deleted both of that order's items, and the other order's stay
    wait_until(lambda: not records(stack, SHOP) & owned(named, SHOP), timeout=APPLY_TIMEOUT, what="forgotten")
    assert records(stack, SHOP) == owned(6100000000001, SHOP)


def test_shop_redact_deletes_every_record_of_the_shop_and_no_other_shops(
    stack: LocalStack, http: Http, queues: Queues, shopify: Shopify
) -> None:
    # Given two orders of the shop and one of another, paid
    pay(stack, http, queues, shopify, 6200000000001, SHOP)
    pay(stack, http, queues, shopify, 6200000000002, SHOP)
    pay(stack, http, queues, shopify, 6200000000003, OTHER_SHOP)

    # When Shopify's shop/redact for the shop is posted
    post(stack, http, shopify, "shop/redact", {**payload("shop/redact"), "shop_domain": SHOP}, SHOP)

    # Then every record of the shop goes, found by the index; the other shop's stay
    wait_until(lambda: not records(stack, SHOP), timeout=APPLY_TIMEOUT, what="the shop's records forgotten")
    assert records(stack, OTHER_SHOP) == owned(6200000000003, OTHER_SHOP)
