"""Shopify's session webhooks keep their session's order across a redrive (webhooks/session_order.py), through
the webhook function and its FIFO queue (moto: SQS on an injected clock, DynamoDB, Secrets Manager; a local
Talon.One stand-in): a carts/update dead-lettered while Talon.One was down and redriven after a newer update of
the same session was applied is superseded, not applied over it, its other steps sent; one with nothing newer
is applied; a paid order's close is the state machine's, never superseded; and in order, a webhook costs one
read more.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.redrive import redrive
from talon_relay.operations import OPERATION_ATTRIBUTE
from tests.functions.test_applications import TwoApps, two, us_server
from tests.functions.test_shopify_webhook import FOLDER, Handler, Shop, payload, shop
from tests.support import ROOT, FakeClock, LogCapture, integration_state_v2, reset_handlers

__all__ = ["shop", "two", "us_server"]  # the fixtures, shared with the function's and the applications' tests

CART = payload("carts/update")
SESSION = CART["token"]
ORDER = {**payload("orders/paid"), "cart_token": SESSION}
SESSION_PATH = f"/v2/customer_sessions/{SESSION}"
MAPPINGS = ROOT / "layers/talon_relay/talon_relay/webhooks/shopify/topics"


def cart(quantity: int) -> dict[str, Any]:
    """The sample cart with its first line at `quantity`."""
    changed = copy.deepcopy(CART)
    changed["line_items"][0]["quantity"] = quantity
    return changed


class TalonOne:
    """Talon.One's session and event routes: down (503) while `down`, else applying, each session PUT's body kept."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.down = False
        self.sessions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        httpserver.expect_request(re.compile(r"^/v2/customer_sessions/.+"), method="PUT").respond_with_handler(
            lambda request: self.answer(request, self.sessions)
        )
        httpserver.expect_request("/v3/events", method="POST").respond_with_handler(
            lambda request: self.answer(request, self.events)
        )

    def answer(self, request: Request, applied: list[dict[str, Any]]) -> Response:
        if self.down:
            return Response(json.dumps({"message": "unavailable"}), status=503, content_type="application/json")
        applied.append(json.loads(request.get_data()))
        return Response(json.dumps(integration_state_v2()), status=200, content_type="application/json")

    def quantities(self) -> list[int]:
        """The first line's quantity of each session update applied, in order."""
        return [body["customerSession"]["cartItems"][0]["quantity"] for body in self.sessions]


@pytest.fixture
def talon(httpserver: HTTPServer) -> TalonOne:
    return TalonOne(httpserver)


@dataclass
class Sessions(Shop):
    """The sessions queue as deployed: Shopify's webhooks posted to the receiver's function, which queues a
    session's on it, and consumed by the queue's consumer (updateCustomerSessionV2's function), with the API's."""

    receiver: Handler | None = None

    def post(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        assert self.receiver is not None
        return Shop.post(replace(self, handler=self.receiver), *args, **kwargs)


@pytest.fixture
def outage(shop: Shop, monkeypatch: pytest.MonkeyPatch, load_handler: Callable[[str], Handler]) -> Sessions:
    """Given the sessions queue's consumer told its queue's maxReceiveCount is 2: a webhook still failing on its
    second receive is dead-lettered by the function, with its reason and its place (`relayOrder`)."""
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "2")
    reset_handlers()
    return Sessions(
        **{**vars(shop), "handler": load_handler("update_customer_session_v2")}, receiver=load_handler(FOLDER)
    )


def ordering_holes(shop: Shop) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=shop.stack.table)["Items"]
    return [
        hole
        for item in items
        if item["id"]["S"].startswith("ordering#")
        for hole in item.get("holes", {}).get("SS", [])
    ]


def dead_lettered_while_down(shop: Shop, talon: TalonOne, topic: str, body: dict[str, Any], webhook_id: str) -> str:
    """Given Talon.One down past the webhook's retries: it is dead-lettered on its last receive, and its session's
    ordering record holds its place as a hole. Returns that place."""
    talon.down = True
    shop.post(topic, body, webhook_id=webhook_id)
    assert shop.consume()["batchItemFailures"]  # first receive: back later
    assert shop.consume() == {"batchItemFailures": []}  # last receive: dead-lettered
    (letter,) = shop.stack.sqs.receive_message(
        QueueUrl=shop.dlq_url, MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    assert letter["MessageAttributes"]["failureReason"]["StringValue"].startswith("still failing on its last receive")
    place: str = letter["MessageAttributes"]["relayOrder"]["StringValue"]
    assert {hole.partition("@")[0] for hole in ordering_holes(shop)} == {place}  # (its last receive marked it too)
    talon.down = False
    return place


def redriven(shop: Shop, sqs_clock: FakeClock) -> dict[str, Any]:
    """When the dead letter is redriven (a second later on SQS's clock, as `make redrive` does) and delivered."""
    sqs_clock.advance(1)
    assert (
        redrive(shop.stack.sqs, dlq_url=shop.dlq_url, queue_url=shop.queue_url, wait_seconds=0, now=sqs_clock()).moved
        == 1
    )
    return shop.consume()


def superseded_steps(logs: LogCapture) -> list[tuple[str, str]]:
    return [(r["topic"], r["target"]) for r in logs.records() if r["message"] == "step superseded"]


def test_a_cart_update_redriven_after_a_newer_one_was_applied_is_superseded(
    outage: Sessions, talon: TalonOne, logs: LogCapture, sqs_clock: FakeClock
) -> None:
    # Given a carts/update (quantity 1) dead-lettered while Talon.One was down
    dead_lettered_while_down(outage, talon, "carts/update", cart(1), "wh-cart-1")
    # And, Talon.One back, a newer carts/update of the same cart (quantity 3) applied while it is away
    outage.post("carts/update", cart(3), webhook_id="wh-cart-3")
    assert outage.consume() == {"batchItemFailures": []}
    assert talon.quantities() == [3]

    # When the old one is redriven and delivered
    result = redriven(outage, sqs_clock)

    # Then it is acknowledged as superseded: not applied over the newer cart, not retried, not dead-lettered again
    assert result == {"batchItemFailures": []}
    assert talon.quantities() == [3]
    assert superseded_steps(logs) == [("carts/update", "updateCustomerSessionV2")]
    assert outage.dead_letters() == []
    # And its hole is out of its session's record
    assert ordering_holes(outage) == []


def test_a_cart_update_redriven_after_an_api_queued_update_of_its_session_is_superseded(
    outage: Sessions, talon: TalonOne, logs: LogCapture, sqs_clock: FakeClock
) -> None:
    # Given a carts/update dead-lettered while Talon.One was down
    dead_lettered_while_down(outage, talon, "carts/update", cart(1), "wh-cart-1")
    # And an API caller's queued update of the same session (Prefer: respond-async) applied while it is away
    queued = {"customerSessionId": SESSION, "body": {"customerSession": {"cartItems": [{"sku": "X", "quantity": 5}]}}}
    outage.stack.sqs.send_message(
        QueueUrl=outage.queue_url,
        MessageBody=json.dumps(queued),
        MessageGroupId=SESSION,
        MessageDeduplicationId="api-1",
        MessageAttributes={OPERATION_ATTRIBUTE: {"DataType": "String", "StringValue": "updateCustomerSessionV2"}},
    )
    assert outage.consume() == {"batchItemFailures": []}
    assert talon.quantities() == [5]

    # When the webhook is redriven and delivered
    assert redriven(outage, sqs_clock) == {"batchItemFailures": []}

    # Then it is superseded by the API's newer update of the session (one order across both)
    assert talon.quantities() == [5]
    assert superseded_steps(logs) == [("carts/update", "updateCustomerSessionV2")]
    assert ordering_holes(outage) == []


def test_an_api_queued_update_redriven_after_a_newer_cart_webhook_is_superseded(
    outage: Sessions, talon: TalonOne, logs: LogCapture, sqs_clock: FakeClock
) -> None:
    # Given an API caller's queued update of the cart's session dead-lettered while Talon.One was down
    talon.down = True
    queued = {"customerSessionId": SESSION, "body": {"customerSession": {"cartItems": [{"sku": "X", "quantity": 1}]}}}
    outage.stack.sqs.send_message(
        QueueUrl=outage.queue_url,
        MessageBody=json.dumps(queued),
        MessageGroupId=SESSION,
        MessageDeduplicationId="api-1",
        MessageAttributes={OPERATION_ATTRIBUTE: {"DataType": "String", "StringValue": "updateCustomerSessionV2"}},
    )
    outage.consume()
    assert outage.consume() == {"batchItemFailures": []}  # its last receive: dead-lettered
    talon.down = False
    # And Shopify's newer carts/update of the session applied while it is away (it records its place)
    outage.post("carts/update", cart(3), webhook_id="wh-cart-3")
    assert outage.consume() == {"batchItemFailures": []}

    # When the API's update is redriven and delivered
    assert redriven(outage, sqs_clock) == {"batchItemFailures": []}

    # Then it is superseded by the webhook's newer cart
    assert talon.quantities() == [3]
    assert [r["message"] for r in logs.records() if r["message"].startswith("superseded")] == [
        "superseded: a newer update of this customer was applied; acknowledged, not applied"
    ]
    assert ordering_holes(outage) == []


def test_an_applications_cart_update_marks_and_is_compared_with_its_own_sessions_record(
    outage: Sessions, two: TwoApps, us_server: HTTPServer, logs: LogCapture, sqs_clock: FakeClock
) -> None:
    # Given two applications on one shop, by currency: a USD cart is application `us`'s (group `us/<cart token>`)
    talon = TalonOne(us_server)

    def usd(quantity: int) -> dict[str, Any]:
        return {**cart(quantity), "currency": "USD"}

    # And its carts/update dead-lettered while us's Talon.One was down: the mark is on us's record of the session
    dead_lettered_while_down(outage, talon, "carts/update", usd(1), "wh-cart-1")
    items = boto3.client("dynamodb").scan(TableName=outage.stack.table)["Items"]
    assert [item["id"]["S"] for item in items if item.get("holes")] == [f"ordering#sessions#@us#{SESSION}"]
    # And a newer one applied while it is away
    outage.post("carts/update", usd(3), webhook_id="wh-cart-3")
    assert outage.consume() == {"batchItemFailures": []}

    # When the old one is redriven and delivered
    assert redriven(outage, sqs_clock) == {"batchItemFailures": []}

    # Then it is superseded: its steps compared with the record it marked
    assert talon.quantities() == [3]
    assert superseded_steps(logs) == [("carts/update", "updateCustomerSessionV2")]
    assert ordering_holes(outage) == []


def test_a_cart_update_redriven_with_nothing_newer_applied_is_applied(
    outage: Sessions, talon: TalonOne, logs: LogCapture, sqs_clock: FakeClock
) -> None:
    # Given a carts/update dead-lettered while Talon.One was down, and nothing newer for its session since
    dead_lettered_while_down(outage, talon, "carts/update", cart(1), "wh-cart-1")

    # When it is redriven and delivered
    assert redriven(outage, sqs_clock) == {"batchItemFailures": []}

    # Then it is applied (it is the latest the session has), its hole out
    assert talon.quantities() == [1]
    assert superseded_steps(logs) == []
    assert ordering_holes(outage) == []


def test_a_cart_update_of_several_steps_redriven_after_a_newer_one_keeps_its_other_steps(
    outage: Sessions,
    talon: TalonOne,
    logs: LogCapture,
    sqs_clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an operator's carts/update mapping of two steps: the session's cart, then a v3 event of the cart
    mapping = json.loads((MAPPINGS / "carts_update.json").read_text())
    del mapping["$schema"]
    mapping["steps"].append(
        {"operation": "trackEventV3", "body": {"profileId": "'p-1'", "type": "'cart_viewed'", "integrationId": "token"}}
    )
    (tmp_path / "shopify").mkdir()
    (tmp_path / "shopify" / "carts_update.json").write_text(json.dumps(mapping))
    monkeypatch.setenv("WEBHOOK_MAPPINGS_DIR", str(tmp_path))
    reset_handlers()
    # And one such webhook (quantity 1) dead-lettered while Talon.One was down, a newer one (3) applied meanwhile
    dead_lettered_while_down(outage, talon, "carts/update", cart(1), "wh-cart-1")
    outage.post("carts/update", cart(3), webhook_id="wh-cart-3")
    assert outage.consume() == {"batchItemFailures": []}
    talon.events.clear()

    # When the old one is redriven and delivered
    assert redriven(outage, sqs_clock) == {"batchItemFailures": []}

    # Then its cart step is superseded, and its other step (the event) is sent
    assert talon.quantities() == [3]
    assert superseded_steps(logs) == [("carts/update", "updateCustomerSessionV2")]
    assert [event["type"] for event in talon.events] == ["cart_viewed"]
    assert ordering_holes(outage) == []


def test_a_paid_order_redriven_after_a_newer_cart_update_still_closes_its_session(
    outage: Sessions, talon: TalonOne, logs: LogCapture, sqs_clock: FakeClock
) -> None:
    # Given orders/paid (close the session, then track the purchase) dead-lettered while Talon.One was down
    talon.down = True
    outage.post("orders/paid", ORDER, webhook_id="wh-paid")
    outage.consume()
    assert outage.consume() == {"batchItemFailures": []}  # its last receive: dead-lettered
    talon.down = False
    # And a later carts/update of its session applied while it is away (in order, it would have come too late)
    outage.post("carts/update", cart(3), webhook_id="wh-cart-3")
    assert outage.consume() == {"batchItemFailures": []}

    # When the paid order is redriven and delivered
    assert redriven(outage, sqs_clock) == {"batchItemFailures": []}

    # Then its close is applied, not superseded: a move of the session is the state machine's (the session ends
    # closed with the order's cart, as in order), and the purchase is tracked
    assert [body["customerSession"].get("state") for body in talon.sessions] == [None, "closed"]
    assert superseded_steps(logs) == []
    assert [event["integrationId"] for event in talon.events] == [f"order-{ORDER['id']}"]
    # And it left no hole: a webhook none of whose steps is compared marks nothing
    assert ordering_holes(outage) == []


def test_a_session_webhook_in_order_reads_its_sessions_record_once_and_writes_nothing_more(
    shop: Shop, talon: TalonOne, dynamodb_calls: Any
) -> None:
    # Given no message of the cart's session away from its queue
    shop.post("carts/update", cart(2), webhook_id="wh-cart-2")
    before = len(dynamodb_calls())

    # When its carts/update is delivered
    assert shop.consume() == {"batchItemFailures": []}

    # Then it cost the session record's one consistent read, and the step's idempotency record's two writes
    assert dynamodb_calls()[before:] == ["GetItem", "UpdateItem", "UpdateItem"]
    assert talon.quantities() == [2]
    assert ordering_holes(shop) == []


def test_a_refund_dead_lettered_leaves_no_hole(outage: Sessions, talon: TalonOne) -> None:
    # Given a refunds/create (planned on the order's record: never superseded) before its paid order
    refund = payload("refunds/create")

    # When it is dead-lettered ("no record of the order")
    outage.post("refunds/create", refund, webhook_id="wh-refund")
    assert outage.consume() == {"batchItemFailures": []}
    assert len(outage.dead_letters()) == 1

    # Then it marked no session record: nothing would take such a hole out
    assert ordering_holes(outage) == []
