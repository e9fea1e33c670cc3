"""An order's later life through the Shopify webhook function (moto: SQS, DynamoDB, Secrets Manager; a
local Talon.One stand-in): the order's record kept when it is paid, refunds/create as a return of the
refunded lines, orders/edited as reopen, update, close, and what cannot be mapped dead-lettered with
the reason, nothing sent. The same against the emulator: tests/e2e/test_shopify_lifecycle.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from pytest_httpserver import HTTPServer

from talon_relay.webhooks.errors import AWAITS_ORDER
from tests.functions.test_applications import TwoApps, two, us_server
from tests.functions.test_shopify_webhook import Shop, answer_v2, calls, payload, shop
from tests.support import answer_every_route, integration_state_v2

__all__ = ["shop", "two", "us_server"]  # the fixtures, shared with the function's and the applications' tests

ORDER = payload("orders/paid")
SESSION = ORDER["cart_token"]


def answer_lifecycle(httpserver: HTTPServer) -> None:
    """Talon.One accepting sessions, events, returns and reopens."""
    answer_v2(httpserver)
    httpserver.expect_request(re.compile(r"^/v2/customer_sessions/.+/returns$"), method="POST").respond_with_json(
        integration_state_v2()
    )


def paid(shop: Shop, httpserver: HTTPServer) -> None:
    """Given the sample order paid and applied (session closed, purchase tracked)."""
    shop.post("orders/paid", ORDER, webhook_id="wh-paid")
    assert shop.consume() == {"batchItemFailures": []}
    httpserver.log.clear()


def order_items(shop: Shop) -> list[dict[str, Any]]:
    table = shop.stack.table
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [item for item in items if ".order#" in item["id"]["S"]]


def reason_of(shop: Shop, *, awaits_order: bool = True) -> str:
    """The one dead letter's reason; whether it is marked as waiting for its order's record (`make redrive`
    moves such letters after their group's others: a later edit or paid order may make them apply) is checked."""
    [letter] = shop.dead_letters()
    assert (AWAITS_ORDER in letter["MessageAttributes"]) is awaits_order
    reason: str = letter["MessageAttributes"]["failureReason"]["StringValue"]
    return reason


def test_a_paid_order_is_remembered_in_one_item_with_its_session_and_lines(shop: Shop, httpserver: HTTPServer) -> None:
    # Given Talon.One accepting
    answer_lifecycle(httpserver)

    # When the sample order is paid, and the same webhook is replayed under another webhook id
    paid(shop, httpserver)
    shop.post("orders/paid", ORDER, webhook_id="wh-paid-again")
    shop.consume()

    # Then the relay's table holds one record of it under the order prefix: its session, its lines at
    # their positions in the session, and the application it went to
    [item] = order_items(shop)
    assert item["id"]["S"].endswith(f".order#relay-demo.myshopify.com#{ORDER['id']}")
    record = json.loads(item["record"]["S"])
    assert record["session"] == SESSION and record["application"] == "default"
    assert [(line["id"], line["position"], line["quantity"]) for line in record["lines"]] == [
        (str(ORDER["line_items"][0]["id"]), 0, 2),
        (str(ORDER["line_items"][1]["id"]), 1, 1),
    ]
    assert int(item["expiration"]["N"]) > 0


def test_a_refund_returns_the_refunded_lines_once_keyed_by_the_refund(shop: Shop, httpserver: HTTPServer) -> None:
    # Given the order paid, and Shopify's refunds/create of one of its two bags of beans
    answer_lifecycle(httpserver)
    paid(shop, httpserver)
    refund = payload("refunds/create")

    # When it is delivered, then replayed under another webhook id and another event id
    shop.post("refunds/create", refund, webhook_id="wh-refund", headers={"X-Shopify-Event-Id": "ev-1"})
    assert shop.consume() == {"batchItemFailures": []}
    shop.post("refunds/create", refund, webhook_id="wh-refund-2", headers={"X-Shopify-Event-Id": "ev-2"})
    assert shop.consume() == {"batchItemFailures": []}

    # Then Talon.One got one return, on the order's session, of line 0, quantity 1, with the refund's key
    assert calls(httpserver) == [("POST", f"/v2/customer_sessions/{SESSION}/returns")]
    [(request, _)] = httpserver.log
    assert json.loads(request.get_data())["return"] == {"returnedCartItems": [{"position": 0, "quantity": 1}]}
    assert request.headers["Idempotency-Key"] == f"refund-{refund['id']}#1"
    assert shop.dead_letters() == []


def test_a_refund_of_no_line_sends_nothing(shop: Shop, httpserver: HTTPServer) -> None:
    # Given the order paid, and a refund of its shipping only
    answer_lifecycle(httpserver)
    paid(shop, httpserver)
    refund = {**payload("refunds/create"), "refund_line_items": []}

    # When it is delivered
    assert shop.post("refunds/create", refund)["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}

    # Then nothing reached Talon.One, and nothing was dead-lettered
    assert httpserver.log == []
    assert shop.dead_letters() == []


def test_a_refund_of_an_order_the_relay_never_saw_is_dead_lettered_and_holds_nothing_back(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given no order paid through the relay
    answer_lifecycle(httpserver)
    refund = {**payload("refunds/create"), "order_id": 777}

    # When its refund is delivered, and then another order's webhook of the same group
    shop.post("refunds/create", refund, webhook_id="wh-unknown")
    result = shop.consume()

    # Then it is dead-lettered at once with the reason (never retried), and nothing was sent
    assert result == {"batchItemFailures": []}
    assert "no record of the order" in reason_of(shop)
    assert httpserver.log == []
    assert shop.queued() == []


def test_a_refund_of_more_than_was_bought_is_dead_lettered_with_the_reason(shop: Shop, httpserver: HTTPServer) -> None:
    # Given the order paid (2 bags of beans), and a refund of 3
    answer_lifecycle(httpserver)
    paid(shop, httpserver)
    refund = payload("refunds/create")
    refund["refund_line_items"][0]["quantity"] = 3

    # When it is delivered
    shop.post("refunds/create", refund)
    assert shop.consume() == {"batchItemFailures": []}

    # Then it is dead-lettered with the reason; Talon.One saw nothing
    assert "larger quantity than was bought" in reason_of(shop)
    assert httpserver.log == []


def test_an_edit_reopens_updates_and_closes_the_session_and_updates_the_record(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given the order paid, and Shopify's orders/edited adding a bag of beans and removing the frother
    answer_lifecycle(httpserver)
    paid(shop, httpserver)
    httpserver.expect_request(re.compile(r"^/v2/customer_sessions/.+/reopen$"), method="PUT").respond_with_json(
        {"effects": []}
    )
    edit = payload("orders/edited")

    # When it is delivered
    shop.post("orders/edited", edit, webhook_id="wh-edit")
    assert shop.consume() == {"batchItemFailures": []}

    # Then the session was reopened, given the edited cart, and closed, in that order
    path = f"/v2/customer_sessions/{SESSION}"
    assert calls(httpserver) == [("PUT", f"{path}/reopen"), ("PUT", path), ("PUT", path)]
    update, close = (json.loads(request.get_data()) for request, _ in httpserver.log[1:])
    assert update["customerSession"]["cartItems"] == [
        {"sku": "BEANS-ESP-1KG", "name": "Espresso beans", "price": 18.5, "quantity": 3}
    ]
    assert close["customerSession"] == {"state": "closed"}
    # And the record now holds the edited lines, where the session has them
    [item] = order_items(shop)
    lines = json.loads(item["record"]["S"])["lines"]
    assert [(line["sku"], line["position"], line["quantity"]) for line in lines] == [("BEANS-ESP-1KG", 0, 3)]
    assert shop.dead_letters() == []

    # When the paid order's webhook is replayed later (another webhook id), and a refund of a bag follows
    shop.post("orders/paid", ORDER, webhook_id="wh-paid-replayed")
    shop.consume()
    httpserver.log.clear()
    shop.post("refunds/create", payload("refunds/create"))
    shop.consume()

    # Then the replay did not take the record back to the order as first paid: the edited record holds
    [item] = order_items(shop)
    assert [line["quantity"] for line in json.loads(item["record"]["S"])["lines"]] == [3]
    [(request, _)] = httpserver.log
    assert json.loads(request.get_data())["return"] == {"returnedCartItems": [{"position": 0, "quantity": 1}]}


def test_an_edit_adding_a_line_the_order_did_not_have_is_dead_lettered(shop: Shop, httpserver: HTTPServer) -> None:
    # Given the order paid, and an edit adding a product (Shopify names the new line by its id only)
    answer_lifecycle(httpserver)
    paid(shop, httpserver)
    edit = payload("orders/edited")
    edit["order_edit"]["line_items"]["additions"] = [{"id": 99, "delta": 1}]

    # When it is delivered
    shop.post("orders/edited", edit)
    shop.consume()

    # Then it is dead-lettered with the reason, nothing sent
    assert "adds a line the order did not have" in reason_of(shop)
    assert httpserver.log == []


def test_a_refund_goes_to_the_application_its_order_was_paid_in(two: TwoApps, shop: Shop) -> None:
    # Given a shop bound to two applications by currency (EUR: default, USD: us), and an order paid in USD
    answer_every_route(two.eu)
    answer_every_route(two.us)
    shop.post("orders/paid", {**ORDER, "currency": "USD", "presentment_currency": "USD"})
    assert shop.consume() == {"batchItemFailures": []}

    # When its refund arrives (a refund names no currency of its order)
    shop.post("refunds/create", payload("refunds/create"))
    assert shop.consume() == {"batchItemFailures": []}

    # Then the return went to the order's application, `us`, as recorded when it was paid
    returns = f"/v2/customer_sessions/{SESSION}/returns"
    assert [r.path for r, _ in two.us.log if r.method == "POST"][-1] == returns
    assert all(r.path != returns for r, _ in two.eu.log)
    assert shop.dead_letters() == []


def groups_queued(shop: Shop) -> list[str]:
    return [message["Attributes"]["MessageGroupId"] for message in shop.queued()]


def test_a_refund_and_an_edit_queue_in_the_session_group_of_their_paid_order(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given Talon.One accepting, and the sample order paid (queued, not yet applied)
    answer_lifecycle(httpserver)
    httpserver.expect_request(re.compile(r"^/v2/customer_sessions/.+/reopen$"), method="PUT").respond_with_json(
        {"effects": []}
    )
    shop.post("orders/paid", ORDER, webhook_id="wh-paid")

    # When its edit and its refund are received before the paid order was applied
    shop.post("orders/edited", payload("orders/edited"), webhook_id="wh-edit")
    shop.post("refunds/create", payload("refunds/create"), webhook_id="wh-refund")

    # Then all three wait in one FIFO group, the session's (the cart's), as an API caller's queued change does
    assert groups_queued(shop) == [SESSION, SESSION, SESSION]
    # And the receiver kept the order's group in one item under its own prefix
    items = boto3.client("dynamodb").scan(TableName=shop.stack.table)["Items"]
    [kept] = [item for item in items if ".ordergroup#" in item["id"]["S"]]
    assert kept["id"]["S"].endswith(f".ordergroup#relay-demo.myshopify.com#{ORDER['id']}")
    assert json.loads(kept["record"]["S"]) == {"group": SESSION}

    # When they are consumed
    while shop.queued():
        assert shop.consume() == {"batchItemFailures": []}

    # Then Talon.One got them in the order they were received: close, purchase, edit (reopen, update,
    # close), then the return; nothing was dead-lettered
    path = f"/v2/customer_sessions/{SESSION}"
    assert calls(httpserver) == [
        ("PUT", path),
        ("POST", "/v3/events"),
        ("PUT", f"{path}/reopen"),
        ("PUT", path),
        ("PUT", path),
        ("POST", f"{path}/returns"),
    ]
    assert shop.dead_letters() == []


def test_a_refund_received_before_its_paid_order_waits_in_the_orders_group(shop: Shop, httpserver: HTTPServer) -> None:
    # Given a refund Shopify delivers before the paid order it refunds (delivery order is not guaranteed)
    answer_lifecycle(httpserver)
    refund = payload("refunds/create")

    # When it is received, then the paid order
    shop.post("refunds/create", refund, webhook_id="wh-refund")
    shop.post("orders/paid", ORDER, webhook_id="wh-paid")

    # Then the refund is in its order's group (no paid order seen yet), the paid order in its session's
    assert sorted(groups_queued(shop)) == sorted([f"order-{refund['order_id']}", SESSION])
    # And a replay of the refund received after the paid order goes to the session's group
    shop.post("refunds/create", refund, webhook_id="wh-refund-again")
    assert groups_queued(shop).count(SESSION) == 2


def test_an_edit_received_again_after_it_was_applied_sends_nothing_and_keeps_the_record(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given the order paid and its edit applied (the record now holds 3 bags of beans)
    answer_lifecycle(httpserver)
    paid(shop, httpserver)
    httpserver.expect_request(re.compile(r"^/v2/customer_sessions/.+/reopen$"), method="PUT").respond_with_json(
        {"effects": []}
    )
    edit = payload("orders/edited")
    shop.post("orders/edited", edit, webhook_id="wh-edit", headers={"X-Shopify-Event-Id": "ev-edit"})
    assert shop.consume() == {"batchItemFailures": []}
    httpserver.log.clear()

    # When the same edit (Shopify's event) comes again under another webhook id, past SQS's deduplication
    shop.post("orders/edited", edit, webhook_id="wh-edit-again", headers={"X-Shopify-Event-Id": "ev-edit"})
    assert shop.consume() == {"batchItemFailures": []}

    # Then nothing reached Talon.One, nothing was dead-lettered (its steps, planned on the edited record,
    # differ from what their keys ran: a repeat, not a key reused), and the record was not edited twice
    assert httpserver.log == []
    assert shop.dead_letters() == []
    [item] = order_items(shop)
    assert [line["quantity"] for line in json.loads(item["record"]["S"])["lines"]] == [3]
