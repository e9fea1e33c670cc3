"""One order per session across operations (docs/lifecycle.md): every change of a session, whichever operation
carries it (updates v1 and v2, close, cancel, returns, reopen) and whether an API caller queued it or a Shopify
webhook made it, goes on the one sessions queue in the session's group, so it reaches Talon.One in the order it
was sent. And the state machine as the relay knows it: a late cart update is superseded, a refused move is a
dead letter with its reason, never a retry."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local.shopify import WEBHOOK_PATH, webhook_headers, webhook_secret
from local.stack import LocalStack
from tests.e2e.helpers import Http, Queues, attribute, wait_until
from tests.support import load_event

pytestmark = pytest.mark.e2e

SESSIONS, SESSIONS_DLQ = "SessionsQueue", "SessionsDeadLetterQueue"
APPLY_TIMEOUT = 30
ASYNC = {"Prefer": "respond-async"}
CART = [
    {"sku": "mug", "name": "Mug", "quantity": 2, "price": 10.0},
    {"sku": "tea", "name": "Tea", "quantity": 1, "price": 5.0},
]


def session_path(session: str) -> str:
    return f"/v2/customer_sessions/{session}"


def update_v2(profile: str, state: str | None = None, cart: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    session: dict[str, Any] = {"profileId": profile}
    if state is not None:
        session["state"] = state
    if cart is not None:
        session["cartItems"] = cart
    return {"customerSession": session}


def queue(http: Http, method: str, path: str, body: Any = None) -> None:
    """The change queued by an API caller (`Prefer: respond-async`): 202, on the sessions queue."""
    answer = http.relay(method, path, body, ASYNC)
    assert answer.status == 202, answer.json


def calls(stack: LocalStack, session: str) -> list[tuple[str, str, int]]:
    """What Talon.One received of `session` (v1 and v2 paths), in arrival order: (operation, state asked, status)."""
    out = []
    for request in stack.emulator.requests():
        path = request["path"]
        if not (path.startswith(f"/v1/customer_sessions/{session}") or path.startswith(session_path(session))):
            continue
        body = request.get("body") or {}
        state = (body.get("customerSession") or body).get("state") if isinstance(body, dict) else None
        out.append((request["operation"], state or "", request["status"]))
    return out


def post_webhook(stack: LocalStack, http: Http, topic: str, body: dict[str, Any]) -> None:
    """Shopify posting a signed webhook: queued (200)."""
    raw = json.dumps(body).encode()
    headers = webhook_headers(topic, raw, webhook_secret(stack.describe()) or "")
    assert http.request("POST", stack.api_url + WEBHOOK_PATH, raw, headers).json["status"] == "queued"


def settled(queues: Queues) -> None:
    queues.wait_empty(SESSIONS, "ShopifyWebhookQueue", timeout=APPLY_TIMEOUT)


def test_a_sessions_changes_reach_talon_one_in_the_order_sent_whichever_operation_carries_them(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given two sessions' lives, each change queued through the operation that makes it (updates v1 and v2,
    # close, reopen, return, cancel), the two sessions' changes interleaved as they were sent
    first, second = f"so-{uuid.uuid4().hex[:8]}", f"so-{uuid.uuid4().hex[:8]}"
    life = [
        ("PUT", "{v2}", update_v2("p-so", cart=CART)),
        ("PUT", "{v2}", update_v2("p-so", state="closed")),
        ("PUT", "{v2}/reopen", None),
        ("PUT", "/v1/customer_sessions/{id}", {"profileId": "p-so", "cartItems": CART[:1]}),
        ("PUT", "{v2}", update_v2("p-so", state="closed")),
        ("POST", "{v2}/returns", {"return": {"returnedCartItems": [{"position": 0, "quantity": 1}]}}),
        ("PUT", "{v2}", update_v2("p-so", state="cancelled")),
    ]

    # When each change is queued, the first session's and the second's one after the other
    for method, template, body in life:
        for session in (first, second):
            queue(http, method, template.format(v2=session_path(session), id=session), body)
    settled(queues)

    # Then Talon.One received each session's changes in the order they were sent, every one accepted
    expected = [
        ("updateCustomerSessionV2", "", 200),
        ("updateCustomerSessionV2", "closed", 200),
        ("reopenCustomerSession", "", 200),
        ("updateCustomerSession", "", 200),
        ("updateCustomerSessionV2", "closed", 200),
        ("returnCartItems", "", 200),
        ("updateCustomerSessionV2", "cancelled", 200),
    ]
    for session in (first, second):
        assert calls(stack, session) == expected, session
        assert stack.emulator.state()["sessions"][session]["state"] == "cancelled"
    # And nothing was dead-lettered
    assert queues.depth(SESSIONS_DLQ) == 0


def test_a_poison_message_leaves_its_group_and_holds_no_other_session(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given, on the sessions queue (the SQS route), a return of session A that can never succeed (no body),
    # then a valid update of A, a valid update of B, and a message naming an operation the queue does not carry
    a, b = f"sp-{uuid.uuid4().hex[:8]}", f"sp-{uuid.uuid4().hex[:8]}"
    poison = queues.send(SESSIONS, {"customerSessionId": a}, group=a, operation="returnCartItems")
    queues.send(
        SESSIONS,
        {"customerSessionId": a, "body": update_v2("p-a", cart=CART)},
        group=a,
        operation="updateCustomerSessionV2",
    )
    queues.send(
        SESSIONS,
        {"customerSessionId": b, "body": update_v2("p-b", cart=CART)},
        group=b,
        operation="updateCustomerSessionV2",
    )
    unknown = queues.send(
        SESSIONS, {"customerSessionId": b, "body": update_v2("p-b")}, group=b, operation="updateCustomerProfileV2"
    )

    # When the sessions queue's consumer takes them
    settled(queues)
    letters = queues.take_all(SESSIONS_DLQ)  # (a dead letter is sent before its message leaves the queue)

    # Then both sessions' valid updates reached Talon.One
    assert calls(stack, a) == [("updateCustomerSessionV2", "", 200)]
    assert calls(stack, b) == [("updateCustomerSessionV2", "", 200)]
    # And the poison and the message naming a foreign operation are dead letters with their reasons, never sent
    by_id = {attribute(letter, "sourceMessageId"): letter for letter in letters}
    assert set(by_id) == {poison, unknown}
    assert attribute(by_id[poison], "operation") == "returnCartItems"
    assert attribute(by_id[poison], "relayOperation") == "returnCartItems"  # kept for a redrive
    assert "body" in (attribute(by_id[poison], "failureReason") or "")
    assert "names no operation of the sessions queue" in (attribute(by_id[unknown], "failureReason") or "")


def test_a_late_cart_update_after_the_close_is_superseded_not_retried_nor_dead_lettered(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given a session closed, then a cart update of it queued after the close (it came late)
    session = f"sl-{uuid.uuid4().hex[:8]}"
    queue(http, "PUT", session_path(session), update_v2("p-late", cart=CART))
    queue(http, "PUT", session_path(session), update_v2("p-late", state="closed"))
    queue(http, "PUT", session_path(session), update_v2("p-late", cart=CART[:1]))

    # When the queue is consumed
    settled(queues)

    # Then Talon.One refused the late update once (its 400), and the relay acknowledged it: no retry, no dead
    # letter, the session still closed with the order's cart
    assert calls(stack, session) == [
        ("updateCustomerSessionV2", "", 200),
        ("updateCustomerSessionV2", "closed", 200),
        ("updateCustomerSessionV2", "", 400),
    ]
    assert queues.depth(SESSIONS_DLQ) == 0
    assert stack.emulator.state()["sessions"][session]["state"] == "closed"

    # And an API caller who waits for the answer gets Talon.One's 400 naming the transition (never a 5xx)
    answer = http.relay("PUT", session_path(session), update_v2("p-late", cart=CART[:1]))
    assert answer.status == 400
    assert "Cannot move session to state open from state closed" in answer.json["message"]


def test_a_refused_transition_is_a_dead_letter_naming_the_move_after_one_attempt(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given an open session, and a return of it queued (returns only from closed)
    session = f"sr-{uuid.uuid4().hex[:8]}"
    queue(http, "PUT", session_path(session), update_v2("p-ref", cart=CART))
    queue(http, "POST", session_path(session) + "/returns", {"return": {"returnedCartItems": [{"position": 0}]}})

    # When the queue is consumed
    settled(queues)
    (letter,) = wait_until(lambda: queues.take_all(SESSIONS_DLQ), timeout=APPLY_TIMEOUT, what="the dead letter")

    # Then Talon.One was asked once, and the return is a dead letter whose reason names the refused move
    assert calls(stack, session) == [("updateCustomerSessionV2", "", 200), ("returnCartItems", "", 400)]
    reason = attribute(letter, "failureReason") or ""
    assert (
        f"refused transition: returnCartItems cannot move session '{session}' from open to partially_returned" in reason
    )
    assert "from open the state machine allows closed (update), cancelled (update)" in reason
    assert attribute(letter, "talonStatus") == "400"
    assert attribute(letter, "operation") == "returnCartItems"


def test_a_webhooks_close_and_an_api_callers_return_of_the_same_session_keep_their_order(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given a paid order whose cart is a new session, posted by Shopify, then a return of its first line
    # queued by an API caller at once (the return needs the session closed first)
    order: dict[str, Any] = load_event("shopify_webhook/payloads", "orders_paid")
    cart = f"cart-{uuid.uuid4().hex[:12]}"
    order |= {"cart_token": cart, "id": int(uuid.uuid4().int % 10**12)}
    post_webhook(stack, http, "orders/paid", order)
    queue(http, "POST", session_path(cart) + "/returns", {"return": {"returnedCartItems": [{"position": 0}]}})

    # When the queues are consumed
    settled(queues)

    # Then the webhook's close reached Talon.One before the API caller's return, and both were accepted
    assert calls(stack, cart) == [("updateCustomerSessionV2", "closed", 200), ("returnCartItems", "", 200)]
    assert stack.emulator.state()["sessions"][cart]["state"] == "partially_returned"
    assert queues.depth(SESSIONS_DLQ) == queues.depth("ShopifyWebhookDeadLetterQueue") == 0


def test_shopifys_cart_update_arriving_after_the_paid_order_is_superseded(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given a paid order of a new cart, then a carts/update of that cart Shopify sent after it
    order: dict[str, Any] = load_event("shopify_webhook/payloads", "orders_paid")
    cart = f"cart-{uuid.uuid4().hex[:12]}"
    order |= {"cart_token": cart, "id": int(uuid.uuid4().int % 10**12)}
    late: dict[str, Any] = load_event("shopify_webhook/payloads", "carts_update") | {"token": cart}
    post_webhook(stack, http, "orders/paid", order)
    post_webhook(stack, http, "carts/update", late)

    # When the queues are consumed
    settled(queues)

    # Then the late cart update was refused once by Talon.One and acknowledged (superseded): the order stays
    # closed, nothing is retried or dead-lettered
    assert calls(stack, cart) == [("updateCustomerSessionV2", "closed", 200), ("updateCustomerSessionV2", "", 400)]
    assert stack.emulator.state()["sessions"][cart]["state"] == "closed"
    assert queues.depth(SESSIONS_DLQ) == queues.depth("ShopifyWebhookDeadLetterQueue") == 0
