"""Today's API (v2, May 2026 spec): the three operations, their query semantics and answer shapes."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import Emulator
from tests.emulator.helpers import Answer, Client, OpenApiCheck

CAMERA = {"sku": "SKU-CAMERA", "quantity": 1, "price": 120}
EVERYTHING = ["customerSession", "customerProfile", "coupons", "triggeredCampaigns", "referral", "loyalty", "event"]


def session_body(content: list[str] | None = None, **session: Any) -> dict[str, Any]:
    """An IntegrationRequest: `session` as customerSession, `content` as responseContent."""
    body: dict[str, Any] = {"customerSession": session}
    if content is not None:
        body["responseContent"] = content
    return body


def effect_types(answer: Answer) -> list[str]:
    return [effect["effectType"] for effect in answer.body["effects"]]


def sources(answer: Answer) -> list[dict[str, str]]:
    return [error["source"] for error in answer.body["errors"]]


# --- updateCustomerSessionV2 ------------------------------------------------------------------


def test_session_v2_creates_session_and_profile_and_answers_integration_state_v2(
    client: Client, emulator: Emulator, conforms_v2: OpenApiCheck
):
    # Given nothing
    # When a session of a new profile is put with a cart, asking for every entity
    answer = client.session_v2("s-1", session_body(EVERYTHING, profileId="p-1", cartItems=[CAMERA]))
    # Then 200 with an IntegrationStateV2 of the spec, holding the new session and profile
    assert answer.status == 200, answer.body
    conforms_v2("IntegrationStateV2", answer.body)
    session, profile = answer.body["customerSession"], answer.body["customerProfile"]
    assert (session["integrationId"], session["profileId"], session["state"]) == ("s-1", "p-1", "open")
    assert session["total"] == session["cartItemTotal"] == 120 and session["updateCount"] == 1
    assert profile["integrationId"] == "p-1"
    assert answer.body["event"]["type"] == "talon_session_updated"
    # And both are stored
    state = emulator.state()
    assert "s-1" in state["sessions"] and "p-1" in state["profiles"]


def test_session_v2_answers_only_effects_unless_response_content_asks(client: Client):
    answer = client.session_v2("s-1", session_body(profileId="p-1"))
    assert answer.status == 200
    assert answer.body == {"effects": [], "createdCoupons": [], "createdReferrals": []}


def test_v2_effects_are_the_v1_effects_typed(client: Client):
    # Given the default rules, and the same cart and coupon sent once to v1 and once to v2
    v1 = client.session("s-v1", {"profileId": "p-1", "coupon": "SAVE5", "cartItems": [{**CAMERA, "name": "Camera"}]})
    v2 = client.session_v2("s-v2", session_body(profileId="p-2", couponCodes=["SAVE5"], cartItems=[CAMERA]))
    # Then v2 has the same effects, typed, with the rule's name and props
    tuples = v1.body["event"]["effects"]
    assert [(e["campaignId"], e["rulesetId"], e["ruleIndex"], e["effectType"]) for e in v2.body["effects"]] == [
        (c, r, i, body[0]) for c, r, i, body in tuples
    ]
    assert v2.body["effects"] == [
        {"campaignId": 1, "rulesetId": 11, "ruleIndex": 0, "ruleName": "Coupons", "effectType": "acceptCoupon",
         "props": {"value": "SAVE5"}},
        {"campaignId": 1, "rulesetId": 11, "ruleIndex": 0, "ruleName": "Coupons", "effectType": "setDiscount",
         "props": {"name": "Save 5", "value": 5.0}},
        {"campaignId": 2, "rulesetId": 12, "ruleIndex": 0, "ruleName": "Big cart", "effectType": "setDiscount",
         "props": {"name": "Big cart", "value": 15.0}},
        {"campaignId": 5, "rulesetId": 15, "ruleIndex": 0, "ruleName": "Free strap with a camera",
         "effectType": "addFreeItem", "props": {"sku": "SKU-STRAP", "name": "Camera strap"}},
    ]  # fmt: skip


def test_several_coupon_codes_are_each_evaluated(client: Client, conforms_v2: OpenApiCheck):
    answer = client.session_v2("s-1", session_body(["coupons"], profileId="p", couponCodes=["SAVE5", "NOPE"]))
    assert effect_types(answer) == ["acceptCoupon", "setDiscount", "rejectCoupon"]
    assert answer.body["effects"][2]["props"] == {"value": "NOPE", "rejectionReason": "CouponNotFound"}
    conforms_v2("IntegrationStateV2", answer.body)
    assert [c["value"] for c in answer.body["coupons"]] == ["SAVE5"]


def test_closing_a_v2_session_counts_the_sale_and_uses_the_coupon(client: Client, emulator: Emulator):
    client.session_v2("s-1", session_body(profileId="p-1", couponCodes=["WELCOME10"], cartItems=[CAMERA]))
    answer = client.session_v2("s-1", session_body(["customerProfile", "coupons"], state="closed"))
    assert answer.status == 200
    assert answer.body["customerProfile"]["closedSessions"] == 1
    assert answer.body["customerProfile"]["totalSales"] == 120
    assert answer.body["coupons"][0]["usageCounter"] == 1
    assert emulator.state()["couponUsage"] == {"WELCOME10": 1}


def test_partially_returned_is_not_reachable_through_an_update(client: Client):
    client.session_v2("s-1", session_body(profileId="p-1", state="closed"))
    answer = client.session_v2("s-1", session_body(state="partially_returned"))
    assert answer.status == 400
    assert sources(answer) == [{"pointer": "/customerSession/state"}]


def test_a_v2_session_of_another_profile_is_refused(client: Client):
    client.session_v2("s-1", session_body(profileId="A"))
    answer = client.session_v2("s-1", session_body(profileId="B"))
    assert answer.status == 400
    assert sources(answer) == [{"pointer": "/customerSession/profileId"}]


def test_dry_session_update_answers_but_changes_nothing(client: Client, emulator: Emulator):
    # Given an open session of a profile
    client.session_v2("s-1", session_body(profileId="p-1", couponCodes=["WELCOME10"]))
    before = emulator.state()
    # When it is closed with a cart, dry
    answer = client.session_v2(
        "s-1", session_body(["customerSession", "customerProfile"], state="closed", cartItems=[CAMERA]), "dry=true"
    )
    # Then the answer shows the closed session and its effects
    assert answer.status == 200
    assert answer.body["customerSession"]["state"] == "closed"
    assert answer.body["customerProfile"]["closedSessions"] == 1
    assert "acceptCoupon" in effect_types(answer)
    # And nothing was kept: no state change, no event, no coupon usage
    assert emulator.state() == before


def test_now_evaluates_a_dry_request_at_a_future_moment(client: Client):
    # Given a referral code valid only from 2099 on
    code = client.referral(
        {"campaignId": 3, "advocateProfileIntegrationId": "adv", "startDate": "2099-01-01T00:00:00Z"}
    ).body["code"]
    # When a friend enters it now, and dry at a moment in 2099
    today = client.session_v2("s-1", session_body(profileId="friend", referralCode=code), "dry=true")
    later = client.session_v2(
        "s-1", session_body(profileId="friend", referralCode=code), "dry=true&now=2099-06-01T00:00:00Z"
    )
    # Then it starts in the future today, and is accepted then
    assert today.body["effects"][0]["props"] == {"value": code, "rejectionReason": "ReferralStartDateInFuture"}
    assert effect_types(later) == ["acceptReferral", "setDiscount"]


def test_evaluable_campaign_ids_choose_the_campaigns_of_a_dry_request(client: Client):
    body = session_body(profileId="p", couponCodes=["SAVE5"], cartItems=[CAMERA], evaluableCampaignIds=[5])
    assert effect_types(client.session_v2("s-1", body, "dry=true")) == ["addFreeItem"]
    # not dry: every campaign runs
    assert effect_types(client.session_v2("s-1", body)) == ["acceptCoupon", "setDiscount", "setDiscount", "addFreeItem"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("dry=yes", "dry"),
        ("dry=1", "dry"),
        ("dry=True", "dry"),
        ("dry=", "dry"),
        ("now=2099-01-01T00:00:00Z", "now"),  # needs dry=true
        ("dry=true&now=2001-01-01T00:00:00Z", "now"),  # must be in the future
        ("dry=true&now=2099-01-01", "now"),
        ("dry=true&now=2099-01-01T00:00:00", "now"),  # no offset
        ("dry=true&now=1893456000", "now"),
    ],
)
def test_invalid_session_query_parameters_are_400s_naming_them(
    client: Client, emulator: Emulator, query: str, parameter: str
):
    answer = client.session_v2("s-1", session_body(profileId="p"), query)
    assert answer.status == 400, answer.body
    assert sources(answer) == [{"parameter": parameter}]
    assert emulator.state()["sessions"] == {}


def test_unknown_query_parameters_are_ignored(client: Client):
    assert client.session_v2("s-1", session_body(), "foo=bar&dry=false").status == 200


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/customerSession"),
        ({"customerSession": None}, "/customerSession"),
        ({"customerSession": []}, "/customerSession"),
        (session_body(cartItems=[{"sku": "a", "quantity": "1"}]), "/customerSession/cartItems/0/quantity"),
        (session_body(cartItems=[{"sku": "a", "quantity": 1.0}]), "/customerSession/cartItems/0/quantity"),
        (session_body(cartItems=[{"sku": "a", "quantity": 0}]), "/customerSession/cartItems/0/quantity"),
        (session_body(cartItems=[{"sku": "a", "quantity": 2**63}]), "/customerSession/cartItems/0/quantity"),
        (session_body(cartItems=[{"sku": "a", "quantity": 1, "price": "9"}]), "/customerSession/cartItems/0/price"),
        (session_body(cartItems=[{"sku": "a", "quantity": 1, "price": True}]), "/customerSession/cartItems/0/price"),
        (session_body(cartItems=[{"quantity": 1}]), "/customerSession/cartItems/0/sku"),
        (session_body(couponCodes="SAVE5"), "/customerSession/couponCodes"),
        (session_body(couponCodes=["X" * 101]), "/customerSession/couponCodes/0"),
        (session_body(identifiers=["1", "2", "3", "4", "5", "6"]), "/customerSession/identifiers"),
        (session_body(state="paid"), "/customerSession/state"),
        (session_body(profileId=7), "/customerSession/profileId"),
        (session_body(additionalCosts={"shipping": {"price": "5"}}), "/customerSession/additionalCosts/shipping/price"),
        (session_body(["everything"]), "/responseContent/0"),
    ],
)
def test_invalid_session_bodies_are_400s_naming_the_field(
    client: Client, emulator: Emulator, conforms_v2: OpenApiCheck, body: dict[str, Any], pointer: str
):
    answer = client.session_v2("s-1", body)
    assert answer.status == 400, answer.body
    conforms_v2("ErrorResponse", answer.body)
    assert {"pointer": pointer} in sources(answer)
    assert emulator.state()["sessions"] == {}


def test_an_empty_v2_body_is_a_400(client: Client):
    answer = client.request("PUT", "/v2/customer_sessions/s-1", raw=b"")
    assert answer.status == 400
    assert sources(answer) == [{"pointer": ""}]


def test_v2_bodies_are_open_to_unknown_properties(client: Client):
    body = {"customerSession": {"profileId": "p", "futureField": 1}, "futureTopLevel": True}
    assert client.session_v2("s-1", body).status == 200


# --- updateCustomerProfileV2 ------------------------------------------------------------------


def test_profile_v2_without_the_rule_engine_only_merges_attributes(client: Client, emulator: Emulator):
    # Given a profile with an attribute and a known last activity
    client.profile_v2("p-1", {"attributes": {"tier": "silver"}})
    before = emulator.state()["profiles"]["p-1"]
    # When it is updated without runRuleEngine (the default)
    answer = client.profile_v2("p-1", {"attributes": {"city": "Berlin"}})
    # Then no effects, no event, the attributes merged, lastActivity untouched
    assert answer.status == 200
    assert answer.body == {"effects": [], "createdCoupons": [], "createdReferrals": []}
    state = emulator.state()
    assert state["events"] == []
    assert state["profiles"]["p-1"]["attributes"] == {"tier": "silver", "city": "Berlin"}
    assert state["profiles"]["p-1"]["lastActivity"] == before["lastActivity"]


def test_profile_v2_with_the_rule_engine_records_an_event(client: Client, emulator: Emulator, conforms_v2):
    answer = client.profile_v2(
        "p-1", {"attributes": {"a": 1}, "responseContent": ["customerProfile", "event"]}, "runRuleEngine=true"
    )
    assert answer.status == 200
    conforms_v2("CustomerProfileIntegrationResponseV2", answer.body)
    assert answer.body["customerProfile"]["attributes"] == {"a": 1}
    assert answer.body["event"]["type"] == "talon_profile_updated"
    assert [e["type"] for e in emulator.state()["events"]] == ["talon_profile_updated"]


def test_dry_profile_v2_changes_nothing(client: Client, emulator: Emulator):
    client.profile_v2("p-1", {"attributes": {"a": 1}})
    before = emulator.state()
    answer = client.profile_v2(
        "p-1", {"attributes": {"a": 2}, "responseContent": ["customerProfile"]}, "runRuleEngine=true&dry=true"
    )
    assert answer.body["customerProfile"]["attributes"] == {"a": 2}
    assert emulator.state() == before


@pytest.mark.parametrize(
    ("query", "body", "source"),
    [
        ("dry=true", {}, {"parameter": "dry"}),
        ("runRuleEngine=false&dry=true", {}, {"parameter": "dry"}),
        ("runRuleEngine=yes", {}, {"parameter": "runRuleEngine"}),
        ("", {"responseContent": ["customerProfile"]}, {"pointer": "/responseContent"}),
        ("runRuleEngine=true", {"responseContent": ["coupons"]}, {"pointer": "/responseContent/0"}),
        ("", {"attributes": []}, {"pointer": "/attributes"}),
        ("", {"audiencesChanges": {"adds": [1]}}, {"pointer": "/audiencesChanges/deletes"}),
    ],
)
def test_invalid_profile_v2_requests_are_400s(client: Client, emulator: Emulator, query: str, body, source):
    answer = client.profile_v2("p-1", body, query)
    assert answer.status == 400, answer.body
    assert source in sources(answer)
    assert emulator.state()["profiles"] == {}


# --- trackEventV2 -----------------------------------------------------------------------------


def test_event_v2_is_silent_by_default(client: Client, emulator: Emulator):
    # Given the loyalty rule (10 points per purchase)
    # When a purchase is tracked without `silent` (the spec's default is "yes")
    answer = client.event_v2({"profileId": "p-1", "type": "purchase", "attributes": {"sku": "x"}})
    # Then 204 with no body, and the event and its points are recorded
    assert answer.status == 204 and answer.raw == b""
    state = emulator.state()
    assert [(e["type"], e["profileId"], e["sessionId"]) for e in state["events"]] == [("purchase", "p-1", "")]
    assert state["profiles"]["p-1"]["balances"] == {"1": 10.0}
    assert emulator.requests()[-1]["effects"] == ["addLoyaltyPoints"]


@pytest.mark.parametrize(("silent", "status"), [("yes", 204), ("no", 200), ("true", 204), ("false", 200)])
def test_silent_yes_no(client: Client, silent: str, status: int):
    assert client.event_v2({"type": "viewed"}, f"silent={silent}").status == status


def test_event_v2_answer_has_typed_points_and_ledgers(client: Client, conforms_v2: OpenApiCheck):
    body = {"profileId": "p-1", "type": "purchase", "responseContent": ["customerProfile", "loyalty", "event"]}
    answer = client.event_v2(body, "silent=no")
    assert answer.status == 200
    conforms_v2("IntegrationEventV2Response", answer.body)
    (effect,) = answer.body["effects"]
    assert effect["effectType"] == "addLoyaltyPoints" and effect["ruleName"] == "Loyalty"
    conforms_v2("AddLoyaltyPointsEffectProps", effect["props"])
    assert effect["props"]["value"] == 10 and effect["props"]["recipientIntegrationId"] == "p-1"
    program = answer.body["loyalty"]["programs"]["1"]
    assert program["ledger"]["currentBalance"] == 10
    assert "sessionId" not in answer.body["event"]


def test_dry_event_changes_nothing(client: Client, emulator: Emulator):
    client.profile_v2("p-1", {})
    before = emulator.state()
    answer = client.event_v2({"profileId": "p-1", "type": "purchase"}, "silent=no&dry=true")
    assert effect_types(answer) == ["addLoyaltyPoints"]
    assert emulator.state() == before


@pytest.mark.parametrize(
    ("query", "status"),
    [("forceCompleteEvaluation=true", 400), ("forceCompleteEvaluation=true&dry=true", 204), ("silent=maybe", 400)],
)
def test_event_v2_query_rules(client: Client, query: str, status: int):
    answer = client.event_v2({"type": "viewed"}, query)
    assert answer.status == status
    if status == 400:
        assert sources(answer) == [{"parameter": query.split("=")[0]}]


def test_an_anonymous_v2_event_earns_no_points(client: Client, emulator: Emulator):
    answer = client.event_v2({"type": "purchase"}, "silent=no")
    assert answer.body["effects"] == []
    assert emulator.state()["profiles"] == {}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/type"),
        ({"type": ""}, "/type"),
        ({"type": "talon_session_closed"}, "/type"),
        ({"type": "x", "attributes": "y"}, "/attributes"),
        ({"type": "x", "loyaltyCards": ["a", "b"]}, "/loyaltyCards"),
        ({"type": "x", "evaluableCampaignIds": [1.5]}, "/evaluableCampaignIds/0"),
    ],
)
def test_invalid_events_v2_are_400s(client: Client, emulator: Emulator, body: dict[str, Any], pointer: str):
    answer = client.event_v2(body)
    assert answer.status == 400, answer.body
    assert {"pointer": pointer} in sources(answer)
    assert emulator.state()["events"] == []
