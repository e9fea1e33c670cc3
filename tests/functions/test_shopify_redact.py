"""Shopify's privacy webhooks and the relay's own records (moto: SQS, DynamoDB, Secrets Manager; a local
Talon.One stand-in): customers/redact deletes the records of the orders it names, shop/redact every record of
the shop, found by the table's index; what one message cannot forget, its continuations do. The same through
the whole local stack, where the sessions queue's consumer keeps the records: tests/e2e/test_shopify_redact.py.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.shopify_admin import SHOP_DOMAIN
from talon_relay.aws import order_records
from talon_relay.aws.store import Store
from talon_relay.webhooks import forgetting
from tests.functions.test_shopify_order_lifecycle import answer_lifecycle
from tests.functions.test_shopify_webhook import Shop, payload, shop
from tests.support import LogCapture, reset_handlers

__all__ = ["shop"]  # the fixture, shared with the function's tests

OTHER_SHOP = "other-roastery.myshopify.com"
OWNER = "talon-relay-test-shopify-webhook"


def order_items(shop: Shop) -> dict[str, dict[str, Any]]:
    """The relay's order records and order groups in the table, by id."""
    items = boto3.client("dynamodb").scan(TableName=shop.stack.table)["Items"]
    return {
        item["id"]["S"]: item for item in items if ".order#" in item["id"]["S"] or ".ordergroup#" in item["id"]["S"]
    }


def pay(shop: Shop, order_id: int, *, domain: str = SHOP_DOMAIN) -> None:
    """Given an order of `domain` paid and applied: its record and its group kept."""
    order = copy.deepcopy(payload("orders/paid"))
    order["id"] = order_id
    order["cart_token"] = f"cart-{order_id}"
    shop.post("orders/paid", order, webhook_id=f"wh-paid-{order_id}", headers={"X-Shopify-Shop-Domain": domain})
    assert shop.consume() == {"batchItemFailures": []}


def ids_of(domain: str, order_id: int) -> set[str]:
    return {
        order_records.order_id(OWNER, domain, str(order_id)),
        order_records.order_id(OWNER, domain, str(order_id), kind=order_records.ORDER_GROUP),
    }


def forgotten_by_the_last_webhook(logs: LogCapture) -> Any:
    """How many records the last webhook applied says it forgot (its log line's `forgotten`)."""
    [line] = [r for r in logs.records() if r["message"] == "webhook applied"][-1:]
    return line["forgotten"]


def consume_all(shop: Shop) -> int:
    """Every message the queue holds, and the continuations they queue, through the function; how many."""
    for count in range(50):  # bounded: the tests' continuations are a handful
        if not shop.queued():
            return count
        assert shop.consume() == {"batchItemFailures": []}
    raise AssertionError("the queue never emptied")


def test_customers_redact_deletes_the_records_of_the_orders_it_names_and_no_other(
    shop: Shop, httpserver: HTTPServer, logs: LogCapture
) -> None:
    # Given two paid orders of the shop, both remembered with their groups
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    pay(shop, 5912348800777)
    assert set(order_items(shop)) == ids_of(SHOP_DOMAIN, 5912348800105) | ids_of(SHOP_DOMAIN, 5912348800777)
    httpserver.log.clear()

    # When Shopify's customers/redact names the first order
    redact = payload("customers/redact")
    assert redact["orders_to_redact"] == [5912348800105]
    shop.post("customers/redact", redact, webhook_id="wh-redact")
    assert shop.consume() == {"batchItemFailures": []}

    # Then that order's record and group are gone, the other order's stay, and Talon.One heard nothing now:
    # its erasures are queued for the schedule, as before
    assert set(order_items(shop)) == ids_of(SHOP_DOMAIN, 5912348800777)
    assert httpserver.log == []
    assert len(shop.erasures()) == 2
    assert forgotten_by_the_last_webhook(logs) == 2


def test_customers_redact_delivered_again_forgets_nothing_more_and_fails_nothing(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given an order paid, then forgotten by customers/redact
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    redact = payload("customers/redact")
    shop.post("customers/redact", redact, webhook_id="wh-redact")
    [queued] = shop.queued()
    shop.consume()

    # When SQS delivers the same webhook again (after its deduplication window)
    shop.requeue(queued["Body"], queued["Attributes"]["MessageGroupId"])
    result = shop.consume()

    # Then it succeeds, there is still nothing of the order, and no dead letter
    assert result == {"batchItemFailures": []}
    assert order_items(shop) == {}
    assert shop.dead_letters() == []


@pytest.mark.parametrize(
    ("orders", "problem"),
    [
        ([{"id": 1}], "item 0 is not an order id (a dict)"),
        ([5, True], "item 1 is not an order id (a bool)"),
        ("", "item 0"),
    ],
    ids=["object", "boolean", "empty text"],
)
def test_customers_redact_naming_an_order_that_is_no_id_is_dead_lettered_whole_before_anything_is_done(
    shop: Shop, httpserver: HTTPServer, orders: Any, problem: str
) -> None:
    # Given a paid order
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    before = order_items(shop)

    # When customers/redact names an order by something that is not an id
    redact = {**payload("customers/redact"), "orders_to_redact": orders}
    shop.post("customers/redact", redact, webhook_id="wh-redact-bad")
    shop.consume()

    # Then the webhook is dead-lettered with a reason naming the mapping's field and the item, no erasure is
    # queued, and the relay's records are as they were (a redrive of a fixed webhook does it all)
    [letter] = shop.dead_letters()
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert "order.forget" in reason and problem in reason
    assert shop.erasures() == []
    assert order_items(shop) == before


def test_a_customer_with_more_orders_than_one_message_forgets_is_forgotten_in_continuations(
    shop: Shop, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five paid orders, and messages that forget two orders each
    answer_lifecycle(httpserver)
    orders = [7001, 7002, 7003, 7004, 7005]
    for order_id in orders:
        pay(shop, order_id)
    monkeypatch.setattr(forgetting, "ORDERS_PER_MESSAGE", 2)

    # When customers/redact names them all, and the queue is drained
    redact = {**payload("customers/redact"), "orders_to_redact": orders}
    shop.post("customers/redact", redact, webhook_id="wh-redact-many")
    deliveries = consume_all(shop)

    # Then the webhook and its two continuations forgot every order, and the erasures were queued once (one
    # for the customer, one per order's guest profile): a continuation does nothing but forget
    assert deliveries == 3
    assert order_items(shop) == {}
    assert len(shop.erasures()) == 1 + len(orders)
    assert shop.dead_letters() == []


def test_shop_redact_deletes_every_record_of_the_shop_and_none_of_another_shop(
    shop: Shop, httpserver: HTTPServer, logs: LogCapture
) -> None:
    # Given two orders of the shop and one of another shop, paid
    answer_lifecycle(httpserver)
    pay(shop, 8001)
    pay(shop, 8002)
    pay(shop, 8003, domain=OTHER_SHOP)
    httpserver.log.clear()

    # When Shopify's shop/redact for the first shop is posted
    answer = shop.post("shop/redact", payload("shop/redact"))
    assert json.loads(answer["body"])["status"] == "queued"
    assert shop.consume() == {"batchItemFailures": []}

    # Then every record of the shop is gone, the other shop's stay, and Talon.One heard nothing
    assert set(order_items(shop)) == ids_of(OTHER_SHOP, 8003)
    assert httpserver.log == []
    assert forgotten_by_the_last_webhook(logs) == 4


def test_a_signed_shop_redact_posted_under_another_shops_header_forgets_nothing_and_is_dead_lettered(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given an order of the other shop, paid
    answer_lifecycle(httpserver)
    pay(shop, 8101, domain=OTHER_SHOP)

    # When the shop's own signed shop/redact is posted again with the other shop's header (Shopify signs the
    # body only)
    assert payload("shop/redact")["shop_domain"] == SHOP_DOMAIN
    shop.post("shop/redact", payload("shop/redact"), headers={"X-Shopify-Shop-Domain": OTHER_SHOP})
    assert shop.consume() == {"batchItemFailures": []}

    # Then the other shop's records stay, and the webhook is dead-lettered naming the mismatch
    assert set(order_items(shop)) == ids_of(OTHER_SHOP, 8101)
    [letter] = shop.dead_letters()
    assert "shop_domain is not the shop its header names" in letter["MessageAttributes"]["failureReason"]["StringValue"]


def ten_records_in_pages_of_four(
    shop: Shop, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, *, first: int
) -> None:
    """Given five paid orders of the shop from `first` on (ten records), and messages that forget four
    records each (three messages for the lot)."""
    answer_lifecycle(httpserver)
    for order_id in range(first, first + 5):
        pay(shop, order_id)
    monkeypatch.setattr(order_records, "PAGE", 4)


def test_a_shop_with_more_records_than_one_message_forgets_is_forgotten_in_continuations(
    shop: Shop, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five paid orders of the shop (ten records), and messages that forget four records each
    ten_records_in_pages_of_four(shop, httpserver, monkeypatch, first=9001)

    # When shop/redact is posted, and the queue is drained
    shop.post("shop/redact", payload("shop/redact"), webhook_id="wh-shop-redact")
    deliveries = consume_all(shop)

    # Then the webhook and its continuations forgot all ten, the last finding a page short of four
    assert deliveries == 3
    assert order_items(shop) == {}
    assert shop.dead_letters() == []


def test_a_redact_without_the_owner_of_the_orders_records_fails_naming_the_setting_and_keeps_the_message(
    shop: Shop, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    # Given a paid order, and a deployment that does not say whose items hold the orders' records
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    monkeypatch.delenv("ORDER_RECORDS_OWNER")
    reset_handlers()

    # When customers/redact is delivered
    shop.post("customers/redact", payload("customers/redact"), webhook_id="wh-redact-unset")
    [queued] = shop.queued()
    result = shop.consume()

    # Then it is not acknowledged as done (it comes back, and its last receive dead-letters it with the
    # reason): the record is kept, and the failure names the setting
    assert result == {"batchItemFailures": [{"itemIdentifier": queued["MessageId"]}]}
    assert set(order_items(shop)) == ids_of(SHOP_DOMAIN, 5912348800105)
    [line] = [r for r in logs.records() if r["message"] == "retryable failure; message comes back later"]
    assert "ORDER_RECORDS_OWNER" in line["reason"]


def test_a_signed_body_of_another_topic_posted_as_shop_redact_under_another_shops_header_forgets_nothing(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given an order of the other shop, paid
    answer_lifecycle(httpserver)
    pay(shop, 8201, domain=OTHER_SHOP)

    # When a signed body of this shop that names no shop (an orders/paid's) is posted again with the topic
    # shop/redact and the other shop's header (Shopify signs the body only: topic and shop are headers)
    body = payload("orders/paid")
    assert "shop_domain" not in body
    shop.post("shop/redact", body, webhook_id="wh-forged", headers={"X-Shopify-Shop-Domain": OTHER_SHOP})
    assert shop.consume() == {"batchItemFailures": []}

    # Then the other shop's records stay, and the webhook is dead-lettered: a webhook that forgets must name
    # its shop in the signed body
    assert set(order_items(shop)) == ids_of(OTHER_SHOP, 8201)
    [letter] = shop.dead_letters()
    assert "shop_domain" in letter["MessageAttributes"]["failureReason"]["StringValue"]


def test_a_signed_customers_redact_posted_as_shop_redact_forgets_none_of_the_shops_other_orders(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given two paid orders of the shop
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    pay(shop, 8301)

    # When the shop's signed customers/redact (naming the first order) is posted with the topic shop/redact
    shop.post("shop/redact", payload("customers/redact"), webhook_id="wh-swapped")
    assert shop.consume() == {"batchItemFailures": []}

    # Then no record is forgotten (a customer's webhook is no shop's), and it is dead-lettered with the reason
    assert set(order_items(shop)) == ids_of(SHOP_DOMAIN, 5912348800105) | ids_of(SHOP_DOMAIN, 8301)
    [letter] = shop.dead_letters()
    assert "shop/redact" in letter["MessageAttributes"]["failureReason"]["StringValue"]


class LaggingIndex:
    """The table's client while its index ByShop has not followed the deletes yet (a GSI is eventually
    consistent; moto's never lags): a query still lists, first, the items `listed` named that are gone."""

    def __init__(self, client: Any, listed: dict[str, list[str]]) -> None:
        self._client = client
        self._listed = listed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **params: Any) -> dict[str, Any]:
        key = params["ExpressionAttributeValues"][":shop"]["S"]
        whole = {name: value for name, value in params.items() if name not in {"Limit", "ExclusiveStartKey"}}
        live = [item["id"]["S"] for item in self._client.query(**whole)["Items"]]
        ids = [one for one in self._listed.get(key, []) if one not in live] + live
        if "ExclusiveStartKey" in params:
            ids = ids[ids.index(params["ExclusiveStartKey"]["id"]["S"]) + 1 :]
        page = ids[: params.get("Limit", len(ids))]
        answer: dict[str, Any] = {"Items": [{"id": {"S": one}, "shop": {"S": key}} for one in page]}
        if len(page) < len(ids):
            answer["LastEvaluatedKey"] = {"id": {"S": page[-1]}, "shop": {"S": key}}
        return answer


def test_a_shops_continuation_that_finds_a_page_the_index_still_lists_forgets_the_rest_all_the_same(
    shop: Shop, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five paid orders of the shop (ten records), messages that forget four records each, and an index
    # that still lists what was deleted (it follows the table a moment later)
    ten_records_in_pages_of_four(shop, httpserver, monkeypatch, first=9101)
    listed = {order_records.shop_key(OWNER, SHOP_DOMAIN): sorted(order_items(shop))}
    read = Store.__dict__["client"].fget
    monkeypatch.setattr(Store, "client", property(lambda table: LaggingIndex(read(table), listed)))

    # When shop/redact is posted, and the queue is drained
    shop.post("shop/redact", payload("shop/redact"), webhook_id="wh-shop-redact-lag")
    deliveries = consume_all(shop)

    # Then every record went: a continuation whose first page was all gone read on past it, not stopped
    assert order_items(shop) == {}
    assert deliveries == 3
    assert shop.dead_letters() == []


#: Shopify's customers/data_request (docs: privacy law compliance webhooks): the customer asks for a copy.
DATA_REQUEST = {
    "shop_id": 60129542,
    "shop_domain": SHOP_DOMAIN,
    "orders_requested": [5912348800105],
    "customer": {"id": 7318129459305, "email": "jane.doe@example.com", "phone": "+493012345678"},
    "data_request": {"id": 9999},
}


@pytest.mark.parametrize("body", [payload("orders/paid"), DATA_REQUEST], ids=["orders/paid", "customers/data_request"])
def test_a_signed_body_of_another_topic_posted_as_customers_redact_erases_and_forgets_nothing(
    shop: Shop, httpserver: HTTPServer, body: dict[str, Any]
) -> None:
    # Given a paid order of the customer
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    before = set(order_items(shop))

    # When a signed body of the shop that names the customer is posted again with the topic customers/redact
    # (the topic is a header; Shopify signs the body only)
    shop.post("customers/redact", body, webhook_id="wh-swapped-customer")
    assert shop.consume() == {"batchItemFailures": []}

    # Then no erasure is queued, the records stay, and it is dead-lettered
    assert shop.erasures() == []
    assert set(order_items(shop)) == before
    assert len(shop.dead_letters()) == 1


def test_an_edit_in_flight_when_its_order_is_forgotten_does_not_write_the_record_back(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given a paid order, and customers/redact forgetting its records while an edit of it is being applied (the
    # redact is consumed by the receiver, the edit by the sessions queue's consumer: they run at once)
    answer_lifecycle(httpserver)
    pay(shop, 5912348800105)
    record = order_records.order_id(OWNER, SHOP_DOMAIN, "5912348800105")

    def forgotten_meanwhile(request: Request) -> Response:
        boto3.client("dynamodb").delete_item(TableName=shop.stack.table, Key={"id": {"S": record}})
        return Response(json.dumps({"effects": []}), content_type="application/json")

    reopen = re.compile(r"^/v2/customer_sessions/.+/reopen$")
    httpserver.expect_oneshot_request(reopen, method="PUT").respond_with_handler(forgotten_meanwhile)
    edit = payload("orders/edited")
    assert edit["order_edit"]["order_id"] == 5912348800105

    # When the edit is applied
    shop.post("orders/edited", edit, webhook_id="wh-edit-redacted")
    assert shop.consume() == {"batchItemFailures": []}

    # Then the order's record stays forgotten: the edit replaces a record, it never writes one back
    assert not httpserver.oneshot_handlers  # (it was forgotten during the edit, which was applied)
    assert shop.dead_letters() == []
    assert record not in order_items(shop)
