"""The emulator's order lifecycle (June 2026 split specs): the session state machine, per-line returns with
their rollbacks, reopen and re-close, cancelling, the 24-hour Idempotency-Key store, v3 event uniqueness."""

from __future__ import annotations

from typing import Any

from tests.emulator.helpers import Client

CART = [
    {"sku": "SKU-1", "name": "Beans", "quantity": 2, "price": 30.0},
    {"sku": "SKU-2", "name": "Mug", "quantity": 1, "price": 50.0},
]


def _paid(client: Client, session: str = "s-1", profile: str = "p-1", order: str = "o-1") -> Any:
    """A session closed with a big cart (discount 'Big cart'), then its purchase as a connected v3 event."""
    closed = client.session_v2(
        session, {"customerSession": {"profileId": profile, "cartItems": CART, "state": "closed"}}
    )
    assert closed.status == 200, closed.body
    event = {"profileId": profile, "type": "purchase", "integrationId": order, "connectedSessionId": session}
    tracked = client.request("POST", "/v3/events?silent=no", {**event, "responseContent": ["customerProfile"]})
    assert tracked.status == 200, tracked.body
    return tracked.body


def _balance(client: Client, profile: str = "p-1") -> float:
    state = client.admin("GET", "state").body
    return float(state["profiles"][profile]["balances"].get("1", 0.0))


def _returned(client: Client, items: list[dict[str, Any]], key: str | None = None, session: str = "s-1") -> Any:
    headers = {"Idempotency-Key": key} if key else None
    body = {"return": {"returnedCartItems": items}, "responseContent": ["customerSession"]}
    return client.request("POST", f"/v2/customer_sessions/{session}/returns", body, headers=headers)


def _effects(answer: Any) -> list[str]:
    return [effect["effectType"] for effect in answer.body["effects"]]


def test_a_purchase_event_registers_once_per_integration_id(client: Client) -> None:
    # Given a paid order whose purchase was tracked as an advanced event (10 points)
    _paid(client)
    assert _balance(client) == 10.0
    # When the same event comes again (a replay), with another body even
    again = client.request(
        "POST", "/v3/events?silent=no", {"profileId": "p-1", "type": "purchase", "integrationId": "o-1"}
    )
    # Then it is answered 200 without effects, and the points are counted once
    assert again.status == 200 and again.body["effects"] == []
    assert _balance(client) == 10.0
    # And the event is found by its integrationId, connected to its session
    found = client.request("GET", "/v3/events/o-1")
    assert found.status == 200
    assert found.body["integrationId"] == "o-1" and found.body["connectedSessionId"] == "s-1"
    assert client.request("GET", "/v3/events/o-404").status == 404


def test_a_partial_return_takes_back_its_share_of_points_and_the_rest_goes_with_the_last(client: Client) -> None:
    # Given a paid order of 110 (beans 2 x 30, mug 50) worth 10 points
    _paid(client)
    # When one bag of beans (30 of 110) is returned
    first = _returned(client, [{"position": 0, "quantity": 1}])
    # Then the session is partially returned, its line counts what came back, and 30/110 of the points went
    assert first.status == 200, first.body
    session = first.body["customerSession"]
    assert session["state"] == "partially_returned"
    assert session["cartItems"][0]["returnedQuantity"] == 1 and session["cartItems"][0]["remainingQuantity"] == 1
    assert "rollbackAddedLoyaltyPoints" in _effects(first)
    assert abs(_balance(client) - (10 - 10 * 30 / 110)) < 1e-9
    # And the discount of the big cart (total now 80 < 100) is rolled back in proportion
    assert "rollbackDiscount" in _effects(first)
    # When everything else comes back
    rest = _returned(client, [{"position": 0}, {"sku": "SKU-2"}])
    # Then no point of the order is left
    assert rest.status == 200, rest.body
    assert abs(_balance(client)) < 1e-9


def test_more_than_was_bought_is_refused_and_changes_nothing(client: Client) -> None:
    _paid(client)
    refused = _returned(client, [{"position": 1, "quantity": 2}])
    assert refused.status == 400
    assert refused.body["errors"][0]["source"]["pointer"] == "/return/returnedCartItems/0/quantity"
    assert _balance(client) == 10.0
    assert client.request("GET", "/v2/customer_sessions/s-1").body["customerSession"]["state"] == "closed"


def test_a_return_with_an_idempotency_key_is_applied_once_for_24_hours(client: Client) -> None:
    # Given a paid order
    _paid(client)
    # When the same return is sent twice under one Idempotency-Key
    first = _returned(client, [{"position": 1}], key="refund-77")
    second = _returned(client, [{"position": 1}], key="refund-77")
    # Then the second is the first's answer, and the points went back once
    assert first.status == second.status == 200
    assert second.body == first.body
    assert abs(_balance(client) - (10 - 10 * 50 / 110)) < 1e-9
    # And the key with another body is refused
    assert _returned(client, [{"position": 0}], key="refund-77").status == 400
    # And the request log shows the header Talon.One acts on
    logged = [r for r in client.admin("GET", "requests").body["requests"] if r["operation"] == "returnCartItems"]
    assert {r["headers"].get("Idempotency-Key") for r in logged} == {"refund-77"}


def test_the_state_machine_refuses_what_talon_one_refuses(client: Client) -> None:
    _paid(client)
    # a late cart update of the closed session: "Cannot move session to state open from state closed"
    late = client.session_v2("s-1", {"customerSession": {"cartItems": CART[:1]}})
    assert late.status == 400 and "from state closed" in late.body["message"]
    # partially_returned only through returns
    direct = client.session_v2("s-1", {"customerSession": {"state": "partially_returned"}})
    assert direct.status == 400
    # an open session cannot be returned
    client.session_v2("s-open", {"customerSession": {"profileId": "p-1", "cartItems": CART}})
    assert _returned(client, [{"position": 0}], session="s-open").status == 400
    # a cancelled one cannot be reopened, returned or edited
    assert client.session_v2("s-1", {"customerSession": {"state": "cancelled"}}).status == 200
    assert client.request("PUT", "/v2/customer_sessions/s-1/reopen").status == 400
    assert _returned(client, [{"position": 0}]).status == 400
    assert client.session_v2("s-1", {"customerSession": {"state": "open"}}).status == 400


def test_cancelling_rolls_back_points_discounts_and_coupon_usage(client: Client) -> None:
    # Given a paid order with a coupon of usage limit 1
    client.session_v2(
        "s-1",
        {"customerSession": {"profileId": "p-1", "cartItems": CART, "couponCodes": ["WELCOME10"], "state": "closed"}},
    )
    client.request(
        "POST",
        "/v3/events",
        {"profileId": "p-1", "type": "purchase", "integrationId": "o-1", "connectedSessionId": "s-1"},
    )
    assert client.admin("GET", "state").body["couponUsage"]["WELCOME10"] == 1
    # When it is cancelled
    cancelled = client.session_v2("s-1", {"customerSession": {"state": "cancelled"}})
    # Then its points, discounts and the coupon's use are rolled back
    assert cancelled.status == 200, cancelled.body
    assert {"rollbackAddedLoyaltyPoints", "rollbackDiscount", "rollbackCoupon"} <= set(_effects(cancelled))
    assert _balance(client) == 0.0
    state = client.admin("GET", "state").body
    assert state["couponUsage"]["WELCOME10"] == 0
    assert state["profiles"]["p-1"]["totalSales"] == 0.0 and state["profiles"]["p-1"]["closedSessions"] == 0


def test_reopen_then_close_again_counts_the_order_once(client: Client) -> None:
    # Given a paid order (10 points, sales 110)
    _paid(client)
    # When it is reopened
    reopened = client.request("PUT", "/v2/customer_sessions/s-1/reopen")
    # Then it is open, its points and sales rolled back
    assert reopened.status == 200, reopened.body
    assert client.request("GET", "/v2/customer_sessions/s-1").body["customerSession"]["state"] == "open"
    assert "rollbackAddedLoyaltyPoints" in _effects(reopened)
    assert _balance(client) == 0.0
    # When it is edited (the mug removed) and closed again
    edited = client.session_v2("s-1", {"customerSession": {"cartItems": CART[:1], "state": "closed"}})
    # Then it counts once more: its points back, its sales the edited total
    assert edited.status == 200, edited.body
    assert _balance(client) == 10.0
    profile = client.admin("GET", "state").body["profiles"]["p-1"]
    assert profile["totalSales"] == 60.0 and profile["closedSessions"] == 1
    # And a closed session cannot be reopened twice over: open -> open is refused
    client.request("PUT", "/v2/customer_sessions/s-1/reopen")
    assert client.request("PUT", "/v2/customer_sessions/s-1/reopen").status == 400


def test_get_customer_session_and_unknown_ones(client: Client) -> None:
    _paid(client)
    got = client.request("GET", "/v2/customer_sessions/s-1")
    assert got.status == 200 and got.body["customerSession"]["integrationId"] == "s-1"
    assert client.request("GET", "/v2/customer_sessions/s-404").status == 404
    assert _returned(client, [{"position": 0}], session="s-404").status == 404


def _ledger_balance(client: Client, profile: str = "p-1") -> float:
    """The balance the SDK reads (getLoyaltyBalances): the profile's ledger, not the session answers."""
    answer = client.request("GET", f"/v1/loyalty_programs/1/profile/{profile}/balances")
    assert answer.status == 200, answer.body
    return float(answer.body["balance"]["activePoints"])


def test_cancelling_a_partly_returned_session_lists_each_rollback_once(client: Client) -> None:
    # Given a paid order (10 points, the big-cart discount) with one bag of beans returned
    _paid(client)
    assert _returned(client, [{"position": 0, "quantity": 1}]).status == 200
    # When it is cancelled
    cancelled = client.session_v2("s-1", {"customerSession": {"state": "cancelled"}})
    # Then each rollback effect is listed once: what remained of the points, and of the discount
    assert cancelled.status == 200, cancelled.body
    effects = _effects(cancelled)
    assert effects.count("rollbackAddedLoyaltyPoints") == 1
    assert effects.count("rollbackDiscount") == 1
    [points] = [e for e in cancelled.body["effects"] if e["effectType"] == "rollbackAddedLoyaltyPoints"]
    assert abs(points["props"]["value"] - 10 * 80 / 110) < 1e-9
    # And the event stored for it lists them once too (stored effects: [campaign, ruleset, rule, [name, ...]])
    events = client.admin("GET", "state").body["events"]
    assert [effect[3][0] for effect in events[-1]["effects"]].count("rollbackAddedLoyaltyPoints") == 1
    assert _balance(client) == 0.0


def test_returns_reopens_and_cancels_show_in_the_profiles_ledger(client: Client) -> None:
    # Given a paid order: 10 points in the ledger the SDK reads
    _paid(client)
    assert _ledger_balance(client) == 10.0
    # When a bag of beans (30 of 110) is returned
    _returned(client, [{"position": 0, "quantity": 1}])
    # Then the ledger's balance went down as the profile's did, with a subtraction naming the session
    assert abs(_ledger_balance(client) - (10 - 10 * 30 / 110)) < 1e-9
    transactions = client.request("GET", "/v1/loyalty_programs/1/profile/p-1/transactions").body["data"]
    [taken] = [t for t in transactions if t["type"] == "subtraction"]
    assert taken["customerSessionId"] == "s-1" and abs(taken["amount"] - 10 * 30 / 110) < 1e-9
    # And no point counts as spent: a rollback is not a purchase with points
    balance = client.request("GET", "/v1/loyalty_programs/1/profile/p-1/balances").body["balance"]
    assert balance["spentPoints"] == 0.0
    # When the rest is cancelled
    client.session_v2("s-1", {"customerSession": {"state": "cancelled"}})
    # Then the ledger agrees with the profile: nothing left
    assert abs(_ledger_balance(client)) < 1e-9
    assert abs(_balance(client)) < 1e-9


def test_a_reopen_and_close_again_keep_the_ledger_with_the_profile(client: Client) -> None:
    # Given a paid order (10 points)
    _paid(client)
    # When it is reopened: the ledger loses the points; closed again: it has them back
    client.request("PUT", "/v2/customer_sessions/s-1/reopen")
    assert _ledger_balance(client) == 0.0
    client.session_v2("s-1", {"customerSession": {"cartItems": CART[:1], "state": "closed"}})
    assert _ledger_balance(client) == _balance(client) == 10.0
