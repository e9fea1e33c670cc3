"""A property over whole order lifecycles (issue 19, item 7): generated orders (carts, payment, edits,
partial and full refunds, cancellations) of a few customers, delivered as Shopify delivers them
(shuffled by up to four hours of lateness, duplicated) through the Shopify webhook route (signed, as API
Gateway hands it to the function) and the FIFO queue to the Talon.One emulator, which fails now and then
(before it applies a request, or after, the answer lost), on moto's SQS with its clock injected (no
sleeps). What holds:

- Talon.One never answers 200 to a move its state machine refuses (its request log), and is asked for a
  refused move only as often as the reference model says: a late change is tried once, never looped on;
- no event counts twice: one purchase event per paid order, one return per refund;
- every customer's final loyalty balance (the ledger the SDK reads, and the profile's) equals the
  reference model of the same deliveries; what stays dead-lettered is what the model leaves.

The reference model is the relay's documented behaviour (docs/lifecycle.md) over Talon.One's state machine,
written here independently of both: changes of one order are applied in the order the relay received them,
a repeat (the same Shopify event, or the same refund) changes nothing, a late cart update is superseded, a
refused move is a dead letter, and a refund or edit received before its paid order is a dead letter ("no
record of the order") that the operator's one redrive (`local.redrive`) brings back after everything else.
The consumer catches up before each paid webhook is received (so such a refund is consumed before it), and
at random points otherwise; each delivery is over five minutes after the one before on SQS's clock, so
SQS's deduplication window never hides a repeat from the relay.

Examples: LIFECYCLE_EXAMPLES (default 20, about fifteen seconds); LIFECYCLE_SHRINK=1 shrinks a failure
(docs/testing.md).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from local.emulator import Emulator
from local.gateway import sqs_record
from local.redrive import redrive
from tests.functions.test_shopify_webhook import Shop, shop
from tests.support import FakeClock, LambdaContext, reset_handlers

__all__ = ["shop"]  # the fixture

EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "20"))
API_KEY = "lifecycle-property-talon-key"
POINTS_PER_PURCHASE = 10.0  # local/emulator/default_rules.json: 10 points per purchase event
PRICES = (10.0, 25.0, 40.0, 12.5)
HOUR = 3600.0
#: ids unique across examples (the table and the emulator's profiles outlive an example)
_IDS = itertools.count(random.SystemRandom().randrange(10**9, 2 * 10**9) * 1000)

# --- the generated history ---------------------------------------------------------------------------


@dataclass
class Webhook:
    """One merchant action as Shopify sends it: its topic, body and event id (shared by its deliveries)."""

    order: int
    topic: str
    body: dict[str, Any]
    event_id: str
    at: float  # seconds after the history began

    @property
    def key(self) -> str:
        """What makes a repeat a repeat for the relay: the refund's id, else the event and topic."""
        if self.topic == "refunds/create":
            return f"refund-{self.body['id']}"
        return f"{self.event_id}#{self.topic}"


@dataclass
class Delivery:
    webhook: Webhook
    webhook_id: str
    arrives: float
    lateness: float


@dataclass
class Plan:
    webhooks: list[Webhook]
    deliveries: list[Delivery]  # in the order the relay receives them
    drains: set[int]  # after which deliveries the consumer catches up
    faults: dict[int, tuple[int, bool]]  # before which drain Talon.One fails that many requests (after applying them?)
    customers: dict[int, str]  # order -> customer


def _line_items(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": line["id"],
            "variant_id": line["id"] + 1,
            "sku": line["sku"],
            "title": line["sku"],
            "quantity": line["quantity"],
            "price": f"{line['price']:.2f}",
            "discounts": [],
        }
        for line in lines
    ]


@st.composite
def orders(draw: st.DrawFn, order_id: int, customer: str, start: float) -> list[Webhook]:
    """One order's life in time order: carts, paid, then edits (before any refund: Talon.One cannot reopen a
    returned session), refunds of what remains, and perhaps a cancellation, which ends it."""
    token = f"cart-{order_id}"
    lines: list[dict[str, Any]] = [
        {
            "id": order_id * 10 + n,
            "sku": f"SKU-{n}",
            "price": draw(st.sampled_from(PRICES)),
            "quantity": draw(st.integers(1, 3)),
        }
        for n in range(draw(st.integers(1, 3)))
    ]
    clock = [start]

    def later() -> float:
        clock[0] += draw(st.floats(60.0, 2 * HOUR))
        return clock[0]

    out: list[Webhook] = []

    def add(topic: str, body: dict[str, Any]) -> None:
        out.append(Webhook(order_id, topic, body, str(uuid.uuid4()), later()))

    for _ in range(draw(st.integers(0, 2))):
        cart = [{**line, "quantity": draw(st.integers(1, line["quantity"]))} for line in lines]
        add("carts/update", {"id": token, "token": token, "line_items": _line_items(cart)})
    paid = {
        "id": order_id,
        "cart_token": token,
        "customer": {"id": int(customer)},
        "line_items": _line_items(lines),
        "discount_codes": [],
        "total_price": f"{sum(line['price'] * line['quantity'] for line in lines):.2f}",
        "currency": "EUR",
    }
    add("orders/paid", paid)
    current: dict[int, int] = {line["id"]: line["quantity"] for line in lines}
    refunded = False
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(("edit", "refund", "refund", "cancel")))
        alive = [line_id for line_id, quantity in current.items() if quantity > 0]
        if kind == "edit" and not refunded:
            line_id = draw(st.sampled_from(sorted(current)))
            delta = draw(st.sampled_from((-2, -1, 1, 2)))
            if delta < 0 and (current[line_id] + delta < 0 or sum(current.values()) + delta <= 0):
                delta = 1
            current[line_id] += delta
            changes: dict[str, list[dict[str, int]]] = {"additions": [], "removals": []}
            changes["additions" if delta > 0 else "removals"].append({"id": line_id, "delta": abs(delta)})
            body = {"order_edit": {"id": next(_IDS), "order_id": order_id, "line_items": changes}}
            add("orders/edited", body)
        elif kind == "refund" and alive:
            chosen = draw(st.lists(st.sampled_from(alive), min_size=1, max_size=len(alive), unique=True))
            items = []
            for line_id in chosen:
                quantity = draw(st.integers(1, current[line_id]))
                current[line_id] -= quantity
                items.append({"line_item_id": line_id, "quantity": quantity})
            add("refunds/create", {"id": next(_IDS), "order_id": order_id, "refund_line_items": items})
            refunded = True
        elif kind == "cancel":
            add("orders/cancelled", {**paid, "cancelled_at": "2026-06-12T10:15:00Z"})
            break
    return out


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    people = [str(next(_IDS)) for _ in range(draw(st.integers(1, 2)))]
    webhooks: list[Webhook] = []
    customers: dict[int, str] = {}
    for _ in range(draw(st.integers(1, 3))):
        order_id = next(_IDS)
        customers[order_id] = draw(st.sampled_from(people))
        webhooks += draw(orders(order_id, customers[order_id], draw(st.floats(0.0, 3 * HOUR))))
    deliveries: list[Delivery] = []
    for webhook in webhooks:
        for copy in range(1 + draw(st.integers(0, 2) if draw(st.booleans()) else st.just(0))):
            lateness = draw(st.sampled_from((0.0, 4 * HOUR)) | st.floats(0.0, 4 * HOUR))
            same = copy == 0 or draw(st.booleans())  # Shopify's retry keeps the webhook id; a resend does not
            webhook_id = f"wh-{webhook.event_id}" if same else str(uuid.uuid4())
            deliveries.append(Delivery(webhook, webhook_id, webhook.at + lateness, lateness))
    deliveries.sort(key=lambda d: d.arrives)
    drains = {n for n in range(len(deliveries)) if draw(st.booleans())}
    faults = {n: (draw(st.integers(1, 2)), draw(st.booleans())) for n in sorted(drains) if draw(st.integers(0, 3)) == 0}
    return Plan(webhooks, deliveries, drains, faults, customers)


# --- the reference model -------------------------------------------------------------------------------


@dataclass
class OrderModel:
    """One order as Talon.One and the relay's record of it should be."""

    state: str = "none"  # the session's: none, open, closed, partially_returned, cancelled
    record: list[dict[str, Any]] | None = None  # the relay's record: lines (id, price, quantity) by position
    lines: list[dict[str, Any]] = field(default_factory=list)  # the session's: price, quantity, returned
    total: float = 0.0  # what the session still holds
    points: float = 0.0
    purchases: int = 0
    returns: int = 0


@dataclass
class Model:
    orders: dict[int, OrderModel] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    refused: int = 0  # moves Talon.One refuses that the relay tries (each once per message)

    def apply(self, webhook: Webhook) -> bool:
        """One received webhook of the relay's; False: dead-lettered."""
        order = self.orders.setdefault(webhook.order, OrderModel())
        if webhook.key in self.applied:
            return True  # a repeat: answered from the relay's records, nothing sent
        done: str = getattr(self, "_" + webhook.topic.replace("/", "_"))(order, webhook.body)
        if done == "applied":
            self.applied.add(webhook.key)
        return done != "dead"

    def _refuse(self) -> str:
        self.refused += 1
        return "dead"

    def _carts_update(self, order: OrderModel, body: dict[str, Any]) -> str:
        if order.state in ("none", "open"):
            order.state = "open"  # (its cart is replaced by the paid order's)
            return "applied"
        self.refused += 1  # a late cart update: refused once, acknowledged as superseded (and no record of it)
        return "superseded"

    def _orders_paid(self, order: OrderModel, body: dict[str, Any]) -> str:
        if order.state in ("partially_returned", "cancelled"):
            return self._refuse()
        if order.state != "closed":
            order.state = "closed"
            order.lines = [
                {"price": float(item["price"]), "quantity": item["quantity"], "returned": 0}
                for item in body["line_items"]
            ]
            order.total = sum(line["price"] * line["quantity"] for line in order.lines)
        if order.purchases == 0:
            order.purchases = 1
            order.points += POINTS_PER_PURCHASE
        if order.record is None:
            order.record = [
                {"id": item["id"], "price": float(item["price"]), "quantity": item["quantity"]}
                for item in body["line_items"]
            ]
        return "applied"

    def _orders_cancelled(self, order: OrderModel, body: dict[str, Any]) -> str:
        if order.state in ("closed", "partially_returned"):
            order.points = 0.0
        order.state = "cancelled"
        return "applied"

    def _refunds_create(self, order: OrderModel, body: dict[str, Any]) -> str:
        if order.record is None:
            return "dead"  # no record of the order: nothing sent
        positions = {line["id"]: n for n, line in enumerate(order.record)}
        items = body["refund_line_items"]
        if any(
            item["line_item_id"] not in positions
            or item["quantity"] > order.record[positions[item["line_item_id"]]]["quantity"]
            for item in items
        ):
            return "dead"  # the relay's own checks: nothing sent
        if order.state not in ("closed", "partially_returned"):
            return self._refuse()
        asked: dict[int, int] = {}
        for item in items:
            asked[positions[item["line_item_id"]]] = asked.get(positions[item["line_item_id"]], 0) + item["quantity"]
        if any(quantity > order.lines[n]["quantity"] - order.lines[n]["returned"] for n, quantity in asked.items()):
            self.refused += 1  # more than remains: Talon.One's 400, once
            return "dead"
        value = sum(order.lines[n]["price"] * quantity for n, quantity in asked.items())
        for n, quantity in asked.items():
            order.lines[n]["returned"] += quantity
        everything = all(line["quantity"] == line["returned"] for line in order.lines)
        order.points -= order.points if everything or order.total <= 0 else order.points * min(value / order.total, 1.0)
        order.total = max(order.total - value, 0.0)
        order.state = "partially_returned"
        order.returns += 1
        return "applied"

    def _orders_edited(self, order: OrderModel, body: dict[str, Any]) -> str:
        if order.record is None:
            return "dead"
        changes = body["order_edit"]["line_items"]
        known = {line["id"] for line in order.record}
        if any(change["id"] not in known for change in changes["additions"]):
            return "dead"
        if order.state != "closed":
            return self._refuse()  # the reopen: Talon.One cannot reopen a returned or cancelled session
        delta = {change["id"]: change["delta"] for change in changes["additions"]}
        for change in changes["removals"]:
            delta[change["id"]] = delta.get(change["id"], 0) - change["delta"]
        edited = [{**line, "quantity": line["quantity"] + delta.get(line["id"], 0)} for line in order.record]
        order.record = [line for line in edited if line["quantity"] > 0]
        order.lines = [{"price": line["price"], "quantity": line["quantity"], "returned": 0} for line in order.record]
        order.total = sum(line["price"] * line["quantity"] for line in order.record)
        return "applied"  # reopened and closed again: the points it held come back with the close

    def balances(self, customers: dict[int, str]) -> dict[str, float]:
        out: dict[str, float] = {customer: 0.0 for customer in customers.values()}
        for order_id, order in self.orders.items():
            out[customers[order_id]] += order.points
        return out


def expected(plan: Plan) -> tuple[Model, int]:
    """The model after the deliveries and the operator's one redrive; and how many dead letters remain."""
    model, dead = Model(), []
    paid_received: set[int] = set()
    early: list[Webhook] = []
    for delivery in plan.deliveries:
        webhook = delivery.webhook
        if webhook.topic in ("refunds/create", "orders/edited") and webhook.order not in paid_received:
            early.append(webhook)  # in its order's group, consumed before the paid order came: no record
            dead.append(webhook)
            continue
        if webhook.topic == "orders/paid":
            paid_received.add(webhook.order)
        if not model.apply(webhook):
            dead.append(webhook)
    remaining = [webhook for webhook in dead if not model.apply(webhook)]
    return model, len(remaining)


# --- the relay, on moto and the emulator ---------------------------------------------------------------


@dataclass
class Life:
    shop: Shop
    emulator: Emulator
    clock: FakeClock

    def deliver(self, delivery: Delivery) -> None:
        webhook = delivery.webhook
        self.clock.advance(301)  # past SQS's five-minute deduplication window: the relay must see repeats
        answer = self.shop.post(
            webhook.topic,
            webhook.body,
            webhook_id=delivery.webhook_id,
            headers={"X-Shopify-Event-Id": webhook.event_id},
            triggered_at=datetime.now(UTC) - timedelta(seconds=delivery.lateness),
        )
        assert answer["statusCode"] == 200, answer

    def drain(self, *, one_at_a_time: bool = False) -> None:
        """The consumer catching up, as Lambda's poller runs it; a backoff passes on SQS's clock."""
        sqs = self.shop.stack.sqs
        for _ in range(200):  # bounded
            messages = sqs.receive_message(
                QueueUrl=self.shop.queue_url,
                MaxNumberOfMessages=1 if one_at_a_time else 10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                counts = sqs.get_queue_attributes(
                    QueueUrl=self.shop.queue_url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                if not any(int(value) for value in counts.values()):
                    return
                self.clock.advance(HOUR)  # every backoff the relay chose has passed
                continue
            event = {"Records": [sqs_record(m, self.shop.queue_arn) for m in messages]}
            result = self.shop.handler(event, LambdaContext())
            failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
            for message in messages:  # a failed one stays hidden for the backoff the relay set
                if message["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=self.shop.queue_url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError("the queue did not drain")

    def redrive(self) -> None:
        """The operator's `make redrive` of the dead letters, once."""
        redrive(
            self.shop.stack.sqs,
            dlq_url=self.shop.dlq_url,
            queue_url=self.shop.queue_url,
            wait_seconds=0,
            clock=lambda: 0.0,
            now=self.clock() + 1,
        )

    def take_dead_letters(self) -> list[dict[str, Any]]:
        """What the dead-letter queue holds, taken off it batch by batch (the FIFO queue serves a group's next
        letter only once the one before it is deleted), so the next example starts without it."""
        sqs, letters = self.shop.stack.sqs, list[dict[str, Any]]()
        for _ in range(100):  # bounded
            batch = sqs.receive_message(
                QueueUrl=self.shop.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return letters
            for letter in batch:
                sqs.delete_message(QueueUrl=self.shop.dlq_url, ReceiptHandle=letter["ReceiptHandle"])
            letters += batch
        raise AssertionError("the dead-letter queue did not empty")

    def ledger_balance(self, customer: str) -> float:
        """getLoyaltyBalances over HTTP, as the SDK reads it: the profile's active points (0 without a profile)."""
        answer = urllib3.request(
            "GET",
            f"{self.emulator.base_url}/v1/loyalty_programs/1/profile/{customer}/balances",
            headers={"Authorization": f"ApiKey-v1 {API_KEY}"},
        )
        if answer.status == 404:
            return 0.0
        assert answer.status == 200, answer.data
        return float(answer.json()["balance"]["activePoints"])


@pytest.fixture
def life(shop: Shop, sqs_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Life]:
    """Given the Shopify webhook function (its queue, which the sessions queue is here too), with the
    emulator as Talon.One, SQS on a fake clock."""
    emulator = Emulator(api_keys={API_KEY})
    emulator.start()
    try:
        arn = shop.stack.secrets.create_secret(
            Name=f"talon-life-{uuid.uuid4().hex[:8]}",
            SecretString=json.dumps({"baseUrl": emulator.base_url, "apiKey": API_KEY}),
        )["ARN"]
        monkeypatch.setenv("TALON_SECRET_ARN", arn)
        monkeypatch.setenv("TALON_MAX_RETRIES", "0")
        reset_handlers()
        yield Life(shop, emulator, sqs_clock)
    finally:
        emulator.stop()


SESSION_CHANGES = {"updateCustomerSessionV2", "returnCartItems", "reopenCustomerSession"}
MOVES = {
    ("open", "closed"),
    ("open", "cancelled"),
    ("closed", "cancelled"),
    ("closed", "partially_returned"),
    ("partially_returned", "partially_returned"),
    ("closed", "open"),
    ("partially_returned", "cancelled"),
}


def _check_moves(requests: list[dict[str, Any]]) -> int:
    """Each session's changes Talon.One applied (answered 200, or applied and its answer lost), in order,
    move only as its state machine allows; returns how many it refused (400), but for the retry of a
    reopen whose answer was lost (the relay finds the session open: that reopen counts as done)."""
    states: dict[str, str] = {}
    refused = 0
    for entry in requests:
        fault = entry.get("fault") or {}
        if entry["operation"] not in SESSION_CHANGES or (fault and not fault.get("after")):
            continue
        session = entry["params"]["customerSessionId"]
        before = states.get(session, "open")
        if entry["status"] == 400 and not fault:
            lost_reopen = entry["operation"] == "reopenCustomerSession" and before == "open"
            refused += 0 if lost_reopen else 1
            continue
        if entry["operation"] == "returnCartItems":
            after = "partially_returned"
        elif entry["operation"] == "reopenCustomerSession":
            after = "open"
        else:
            after = (entry["body"].get("customerSession") or {}).get("state") or before
        legal = after == before or (before, after) in MOVES
        if fault:  # applied, its answer lost (when the move was legal: Talon.One refuses the others)
            states[session] = after if legal else before
            continue
        assert entry["status"] == 200, (entry["operation"], entry["path"], entry["status"], entry["body"])
        assert legal, f"{session}: {before} -> {after} answered 200"
        states[session] = after
    return refused


@pytest.mark.timeout(max(120, EXAMPLES * 3))  # a longer opt-in run takes about a second per example
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=list(Phase) if os.environ.get("LIFECYCLE_SHRINK") else [Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=plans())
def test_whole_lifecycles_delivered_late_shuffled_and_twice_end_as_the_reference_model(life: Life, plan: Plan) -> None:
    # Given the emulator with nothing of this example, and the reference model of these deliveries
    life.emulator.reset()
    life.take_dead_letters()  # (an earlier example's, had it failed)
    model, dead_letters = expected(plan)
    for delivery in plan.deliveries:
        webhook = delivery.webhook
        note(f"{webhook.topic} {webhook.order} {webhook.key} {json.dumps(webhook.body)[:300]}")

    # When Shopify delivers them in the order they arrive, the consumer catching up before each paid order
    # and at the plan's points, Talon.One failing now and then; then the operator redrives the dead letters
    for n, delivery in enumerate(plan.deliveries):
        if delivery.webhook.topic == "orders/paid":
            life.drain()
        life.deliver(delivery)
        if n in plan.drains:
            if n in plan.faults:
                count, after = plan.faults[n]  # after: Talon.One applied the request, its answer was lost
                life.emulator.inject_fault(status=503, count=count, after=after)
            life.drain()
    life.drain()
    life.emulator.clear_faults()
    life.redrive()
    life.drain(one_at_a_time=True)

    # Then Talon.One answered 200 to legal moves only, and refused as many as the model says: each late
    # change was tried once, never looped on
    requests = life.emulator.requests()
    for entry in requests:
        body = json.dumps(entry["body"])[:80] if entry["operation"] == "updateCustomerSessionV2" else ""
        note(f"{entry['status']} {entry['operation']} {entry['path']} {body} fault={entry.get('fault')}")
    assert _check_moves(requests) == model.refused
    # And no event counted twice: one purchase per paid order, one return per refund applied
    state = life.emulator.state()
    purchases = [e for e in state["events"] if e["type"] == "purchase"]
    assert len(purchases) == sum(order.purchases for order in model.orders.values())
    returns = [e for e in requests if e["operation"] == "returnCartItems" and e["status"] == 200 and not e.get("fault")]
    assert len(returns) == sum(order.returns for order in model.orders.values())
    # And every customer's balance, as the SDK reads it (the ledger) and in the profile, is the model's
    for customer, points in model.balances(plan.customers).items():
        profile = state["profiles"].get(customer, {}).get("balances", {})
        assert abs(float(profile.get("1", 0.0)) - points) < 1e-6, (customer, profile, points)
        assert abs(life.ledger_balance(customer) - points) < 1e-6, customer
    # And what is left dead-lettered is what the model leaves
    letters = life.take_dead_letters()
    reasons = [letter["MessageAttributes"]["failureReason"]["StringValue"] for letter in letters]
    assert len(letters) == dead_letters, reasons


def test_an_edit_whose_reopen_answer_was_lost_is_finished_when_retried(life: Life) -> None:
    # Given a paid order of a customer (10 points), applied
    order_id, customer = next(_IDS), str(next(_IDS))
    life.emulator.reset()
    line = {"id": order_id * 10, "sku": "SKU-0", "price": 25.0, "quantity": 2}
    paid = {"id": order_id, "cart_token": f"cart-{order_id}", "customer": {"id": int(customer)}}
    paid |= {"line_items": _line_items([line]), "discount_codes": [], "total_price": "50.00", "currency": "EUR"}
    life.deliver(Delivery(Webhook(order_id, "orders/paid", paid, str(uuid.uuid4()), 0.0), "wh-paid", 0.0, 0.0))
    life.drain()
    assert life.ledger_balance(customer) == POINTS_PER_PURCHASE

    # When its edit's reopen goes through at Talon.One but the answer is lost on the way back
    life.emulator.inject_fault(status=503, count=1, after=True, path=f"/v2/customer_sessions/cart-{order_id}/reopen")
    changes = {"additions": [], "removals": [{"id": line["id"], "delta": 1}]}
    edit: dict[str, Any] = {"order_edit": {"id": next(_IDS), "order_id": order_id, "line_items": changes}}
    edited = Webhook(order_id, "orders/edited", edit, str(uuid.uuid4()), 60.0)
    life.deliver(Delivery(edited, "wh-edit", 60.0, 0.0))
    life.drain()

    # Then the retry finds the session open, counts the reopen as done and finishes the edit: the session
    # closed with the edited cart, the points back, nothing dead-lettered
    session = life.emulator.state()["sessions"][f"cart-{order_id}"]
    assert session["state"] == "closed"
    assert [item["quantity"] for item in session["cartItems"]] == [1]
    assert life.ledger_balance(customer) == POINTS_PER_PURCHASE
    assert life.take_dead_letters() == []

    # When Shopify sends the same edit again (its event, another webhook id)
    sent = len(life.emulator.requests())
    life.deliver(Delivery(edited, "wh-edit-again", 120.0, 0.0))
    life.drain()

    # Then nothing is sent (no reopen again, which would leave the order open, its points taken back)
    assert life.emulator.requests()[sent:] == []
    assert life.emulator.state()["sessions"][f"cart-{order_id}"]["state"] == "closed"
    assert life.ledger_balance(customer) == POINTS_PER_PURCHASE
