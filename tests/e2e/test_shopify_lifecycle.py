"""An order's later life through the whole local stack: Shopify's signed refunds/create and orders/edited,
the webhook queue and its poller, the order's record in the relay's table, and the emulator's session
state machine with its rollbacks (points and discounts going back).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import Queues, attribute, wait_until
from tests.e2e.test_shopify import (
    APPLY_TIMEOUT,
    DLQ,
    QUEUE,
    Shopify,
    applied,
    integration_calls,
    payload,
    session_path,
    shopify,
)

__all__ = ["shopify"]  # the fixture, shared with tests/e2e/test_shopify.py

pytestmark = pytest.mark.e2e

#: The sample order's lines: 2 bags of beans at 18.50 (position 0), a frother at 39.00 (position 1).
TOTAL = 76.0


def new_order() -> dict[str, Any]:
    """The sample paid order under fresh ids (the relay's table outlives each test's emulator reset)."""
    order = copy.deepcopy(payload("orders/paid"))
    order["id"] = uuid.uuid4().int % 10**13
    order["cart_token"] = f"cart-{uuid.uuid4().hex[:12]}"
    return order


def refund_of(order: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    refund = copy.deepcopy(payload("refunds/create"))
    refund["id"], refund["order_id"] = uuid.uuid4().int % 10**13, order["id"]
    refund["refund_line_items"][0]["quantity"] = quantity
    return refund


def edit_of(order: dict[str, Any]) -> dict[str, Any]:
    edit = copy.deepcopy(payload("orders/edited"))
    edit["order_edit"]["order_id"] = order["id"]
    return edit


def points(stack: LocalStack, order: dict[str, Any]) -> float:
    profile = stack.emulator.state()["profiles"][str(order["customer"]["id"])]
    return float(profile["balances"].get("1", 0.0))


def session_of(stack: LocalStack, order: dict[str, Any]) -> dict[str, Any]:
    session: dict[str, Any] = stack.emulator.state()["sessions"][order["cart_token"]]
    return session


def dead_letter_reason(queues: Queues) -> str:
    wait_until(lambda: queues.depth(DLQ) == 1, timeout=APPLY_TIMEOUT, what="the dead letter")
    [letter] = queues.take_all(DLQ)
    return attribute(letter, "failureReason") or ""


def pay(stack: LocalStack, queues: Queues, shopify: Shopify, order: dict[str, Any]) -> None:
    assert shopify.post("orders/paid", order).status == 200
    applied(stack, queues, 2)
    assert points(stack, order) == 10.0  # the emulator's purchase rule


def test_a_partial_refund_returns_its_lines_and_takes_back_their_share_of_the_points_once(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given an order paid through the relay (10 points for the purchase)
    order = new_order()
    pay(stack, queues, shopify, order)

    # When Shopify refunds one of its two bags of beans, and the refund is posted again under another
    # webhook id (a replay)
    refund = refund_of(order)
    for _ in range(2):
        assert shopify.post("refunds/create", refund, webhook_id=str(uuid.uuid4())).status == 200
    queues.wait_empty(QUEUE, timeout=APPLY_TIMEOUT)

    # Then Talon.One got one return on the order's session, and took back the bag's share of the points
    returns = [call for call in applied(stack, queues, 3) if call[1].endswith("/returns")]
    assert returns == [("POST", session_path(order["cart_token"]) + "/returns", 200)]
    assert session_of(stack, order)["state"] == "partially_returned"
    assert points(stack, order) == pytest.approx(10.0 - 10.0 * 18.5 / TOTAL)
    assert queues.depth(DLQ) == 0

    # When a second refund asks for two more bags (one remains): Talon.One refuses it
    assert shopify.post("refunds/create", refund_of(order, quantity=2)).status == 200

    # Then it is dead-lettered with Talon.One's reason, not retried, and nothing changed
    assert "Cannot return 2 of cart item 0: 1 remain" in dead_letter_reason(queues)
    assert points(stack, order) == pytest.approx(10.0 - 10.0 * 18.5 / TOTAL)


def test_a_refund_of_an_order_the_relay_never_saw_is_dead_lettered_and_the_order_goes_through_after(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given an order the relay has not seen yet (no cart: its session and group are `order-<id>`)
    order = {key: value for key, value in new_order().items() if key not in ("cart_token", "checkout_token")}

    # When its refund arrives first
    assert shopify.post("refunds/create", refund_of(order)).status == 200

    # Then it is dead-lettered with the reason, nothing sent
    assert "no record of the order" in dead_letter_reason(queues)
    assert integration_calls(stack) == []

    # And the order's own webhook, in the same FIFO group, is not held behind it
    assert shopify.post("orders/paid", order).status == 200
    assert [call[0] for call in applied(stack, queues, 2)] == ["PUT", "POST"]
    assert stack.emulator.state()["sessions"][f"order-{order['id']}"]["state"] == "closed"


def test_an_edit_reopens_the_session_counts_the_edited_cart_and_a_cancelled_orders_edit_is_refused(
    stack: LocalStack, queues: Queues, shopify: Shopify
) -> None:
    # Given an order paid through the relay
    order = new_order()
    pay(stack, queues, shopify, order)

    # When Shopify's orders/edited adds a bag of beans and removes the frother
    assert shopify.post("orders/edited", edit_of(order)).status == 200

    # Then the session was reopened (its points rolled back), updated, closed again (counted again)
    path = session_path(order["cart_token"])
    assert applied(stack, queues, 5)[2:] == [("PUT", f"{path}/reopen", 200), ("PUT", path, 200), ("PUT", path, 200)]
    session = session_of(stack, order)
    assert (session["state"], session["total"]) == ("closed", 3 * 18.5)
    assert points(stack, order) == 10.0

    # When the order is cancelled, and then edited again
    assert shopify.post("orders/cancelled", order).status == 200
    applied(stack, queues, 6)
    assert points(stack, order) == 0.0
    assert shopify.post("orders/edited", edit_of(order)).status == 200

    # Then the edit is dead-lettered with Talon.One's reason (a cancelled session cannot be reopened)
    assert "Cannot move session to state open from state cancelled" in dead_letter_reason(queues)
    assert session_of(stack, order)["state"] == "cancelled"
