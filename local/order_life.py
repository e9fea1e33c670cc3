"""`make demo`'s walk of one order through its whole life, by Shopify's signed webhooks: a cart, the order
paid, an edit, a partial refund, the cancellation, with the points and discounts going back at each
step (the emulator's rollbacks: local/emulator/lifecycle.py, after_order.py).

The order is one Talon.One session: the cart's. Its refunds and edits name only the order, so the
relay finds the session and the lines' positions in its record of the order, kept when it was paid
(docs/lifecycle.md). Talon.One's state machine sets the order of the walk: a session partially
returned cannot be reopened, so the edit comes before the refund (an edit after one is dead-lettered
with Talon.One's reason).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import urllib3

from local.shopify import WEBHOOK_PATH, webhook_headers, webhook_secret

#: Bound for the webhook queue's poller to map and apply what was sent (it long-polls 1 s).
APPLY_TIMEOUT = 15.0


class OrderLifeFailed(RuntimeError):
    pass


class _Walk:
    def __init__(self, info: dict[str, Any], http: urllib3.PoolManager, secret: str, customer: str) -> None:
        self.info, self.http, self.secret, self.customer = info, http, secret, customer

    def _get(self, path: str) -> Any:
        return json.loads(self.http.request("GET", self.info["emulator_url"] + path, timeout=10).data)

    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self._get("/_emulator/requests")["requests"] if r["path"].startswith("/v")]

    def send(self, topic: str, payload: dict[str, Any], calls: int) -> list[dict[str, Any]]:
        """Post a signed webhook; the Talon.One calls it became, once `calls` of them arrived."""
        before = len(self.requests())
        body = json.dumps(payload).encode()
        headers = webhook_headers(topic, body, self.secret, webhook_id=str(uuid.uuid4()))
        response = self.http.request("POST", self.info["api_url"] + WEBHOOK_PATH, body=body, headers=headers)
        print(f"   POST {WEBHOOK_PATH} ({topic}) -> {response.status}")
        if response.status != 200:
            raise OrderLifeFailed(f"{topic}: expected 200, got {response.status}")
        deadline = time.monotonic() + APPLY_TIMEOUT
        while len(seen := self.requests()[before:]) < calls:
            if time.monotonic() > deadline:
                raise OrderLifeFailed(f"{topic}: Talon.One got {len(seen)} of {calls} calls in {APPLY_TIMEOUT} s")
            time.sleep(0.2)
        for request in seen:
            effects = ", ".join(request.get("effects") or []) or "(none)"
            print(f"   Talon.One {request['method']} {request['path']} -> {request['status']}\n     effects: {effects}")
            if request["status"] != 200:
                raise OrderLifeFailed(f"{topic}: Talon.One answered {request['status']}")
        return seen

    def show(self, session_id: str) -> tuple[float, dict[str, float]]:
        """The customer's points and the session's state, discounts and total, as Talon.One holds them."""
        state = self._get("/_emulator/state")
        points = float(state["profiles"].get(self.customer, {}).get("balances", {}).get("1", 0.0))
        session = state["sessions"].get(session_id, {})
        discounts: dict[str, float] = session.get("discounts") or {}
        shown = {name: round(value, 2) for name, value in discounts.items()}
        print(
            f"   -> points {points:.2f}; session {session.get('state')}, total {session.get('total')}, "
            f"discounts {json.dumps(shown)}\n"
        )
        return points, discounts


def run_order_life(info: dict[str, Any], http: urllib3.PoolManager, step: int) -> int:
    """The walk (see the module docstring); returns the last step number. Raises OrderLifeFailed."""
    secret = webhook_secret(info)
    if not secret:
        raise OrderLifeFailed("the local stack has no ShopifyWebhookSecret")
    run = uuid.uuid4().hex[:6]
    customer = 7_000_000 + int(time.time() * 1000) % 1_000_000
    walk = _Walk(info, http, secret, str(customer))
    cart, order_id = f"life{run}", 830_000_000_000 + customer
    camera = {"id": 11, "variant_id": 4401, "sku": "SKU-CAMERA", "title": "Camera", "quantity": 1, "price": "120.00"}
    film = {"id": 12, "variant_id": 4402, "sku": "SKU-FILM", "title": "Film", "quantity": 3, "price": "8.50"}
    save5 = [{"title": "SAVE5", "amount": "5.00"}]
    print("One order's whole life, by Shopify's webhooks (docs/lifecycle.md): the money going back\n")

    step += 1
    print(f"{step}. carts/update: a camera and three films, the coupon SAVE5")
    lines = [{**line, "discounts": save5} for line in (camera, film)]
    walk.send("carts/update", {"id": cart, "token": cart, "line_items": lines}, 1)
    walk.show(cart)

    step += 1
    print(f"{step}. orders/paid: the session closed (the coupon used), the purchase earns its points")
    order = {
        "id": order_id,
        "cart_token": cart,
        "currency": "EUR",
        "total_price": "140.50",
        "customer": {"id": customer},
        "discount_codes": [{"code": "SAVE5", "amount": "5.00", "type": "fixed_amount"}],
        "line_items": [camera, film],
    }
    walk.send("orders/paid", order, 2)
    earned, _ = walk.show(cart)

    step += 1
    print(f"{step}. orders/edited: one film taken off -> reopened (everything rolled back), updated, closed")
    print("   again (counted again)")
    removed = [{"id": film["id"], "delta": 1}]
    edit = {"order_edit": {"id": 1, "order_id": order_id, "line_items": {"additions": [], "removals": removed}}}
    walk.send("orders/edited", edit, 3)
    walk.show(cart)

    step += 1
    print(f"{step}. refunds/create: one film refunded -> a return of it: its share of the points taken back")
    refund = {"id": 9_000 + customer, "order_id": order_id, "refund_line_items": [{"line_item_id": 12, "quantity": 1}]}
    walk.send("refunds/create", refund, 1)
    after_refund, _ = walk.show(cart)

    step += 1
    print(f"{step}. orders/cancelled: the session cancelled -> what is left of points and discounts goes back")
    walk.send("orders/cancelled", order, 1)
    final, discounts = walk.show(cart)
    if not earned > after_refund > final == 0 or discounts:
        raise OrderLifeFailed(f"points {earned} -> {after_refund} -> {final}, discounts left {discounts}")
    return step
