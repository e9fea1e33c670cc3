"""Campaign rules -> v1 effects, every rule type of the default rules file, and custom rules files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from local.emulator import DEFAULT_RULES_FILE, Emulator, load_rules
from talon_relay.wire.models import IntegrationState
from tests.emulator.helpers import Client, SpecCheck, effect_names, effects_of

CAMERA = [{"name": "Camera", "sku": "SKU-CAMERA", "quantity": 1, "price": 80}]


# --- coupons ----------------------------------------------------------------------------------


def test_known_coupon_is_accepted_with_its_discount(client: Client, conforms: SpecCheck):
    # Given the default coupon SAVE5 (campaign 1, ruleset 11, rule 0)
    # When a session enters it
    answer = client.session("s-1", {"profileId": "p-1", "coupon": "SAVE5"})
    # Then acceptCoupon and setDiscount, in the v1 tuple form, and the session's discounts
    conforms("IntegrationState", answer.body)
    assert answer.body["event"]["effects"] == [
        [1, 11, 0, ["acceptCoupon", "SAVE5"]],
        [1, 11, 0, ["setDiscount", "Save 5", 5.0]],
    ]
    assert answer.body["session"]["discounts"] == {"Save 5": 5.0}
    # And the layer's models read them as named effects
    state = IntegrationState.model_validate(answer.body)
    assert state.event.effects[0].props["value"] == "SAVE5"
    assert state.event.effects[1].props == {"name": "Save 5", "value": 5.0}


def test_unknown_coupon_is_rejected_with_a_reason(client: Client, conforms: SpecCheck):
    answer = client.session("s-1", {"coupon": "NOPE"})
    conforms("IntegrationState", answer.body)
    assert effects_of(answer) == [["rejectCoupon", "NOPE", "CouponNotFound"]]
    assert answer.body["event"]["meta"]["couponRejectionReason"]["reason"] == "CouponNotFound"
    assert answer.body["session"]["discounts"] == {}


def test_coupon_of_an_inactive_campaign_is_rejected(client: Client):
    answer = client.session("s-1", {"coupon": "OLD2018"})
    assert effects_of(answer) == [["rejectCoupon", "OLD2018", "CouponPartOfNotRunningCampaign"]]


def test_coupon_usage_is_counted_when_the_session_closes(client: Client, emulator: Emulator):
    # Given WELCOME10 may be used once, and two open sessions that both entered it
    a = client.session("a", {"profileId": "p-1", "coupon": "WELCOME10"})
    b = client.session("b", {"profileId": "p-2", "coupon": "WELCOME10"})
    # Then both are accepted while open (usage counts on close)
    assert "acceptCoupon" in effect_names(a) and "acceptCoupon" in effect_names(b)
    # When session a closes
    closed = client.session("a", {"state": "closed"})
    assert "acceptCoupon" in effect_names(closed)
    assert emulator.state()["couponUsage"] == {"WELCOME10": 1}
    # Then b's next evaluation rejects the exhausted code, with a reason in meta
    again = client.session("b", {"total": 5})
    assert effects_of(again) == [["rejectCoupon", "WELCOME10", "CouponLimitReached"]]
    reason = again.body["event"]["meta"]["couponRejectionReason"]
    assert reason["campaignId"] == 1 and reason["reason"] == "CouponLimitReached"
    assert again.body["session"]["discounts"] == {}
    # And b cannot close with it either, while a keeps its accepted coupon
    assert "rejectCoupon" in effect_names(client.session("b", {"state": "closed"}))
    after = client.event({"sessionId": "a", "type": "review", "attributes": {}})
    assert "acceptCoupon" in effect_names(after)
    assert emulator.state()["couponUsage"] == {"WELCOME10": 1}


def test_unlimited_coupon_never_runs_out(client: Client):
    for i in range(3):
        client.session(f"s-{i}", {"coupon": "SAVE5", "state": "closed"})
    assert "acceptCoupon" in effect_names(client.session("s-9", {"coupon": "SAVE5"}))


# --- cart total -------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "discounted"), [(99.99, False), (100, True), (250, True)])
def test_cart_total_threshold(client: Client, total: float, discounted: bool):
    # Given the "Big cart" rule: 15 off from 100
    # When the session total is below, at or above the threshold
    answer = client.session("s-1", {"total": total})
    # Then setDiscount only from the threshold on
    expected = [[2, 12, 0, ["setDiscount", "Big cart", 15.0]]] if discounted else []
    assert answer.body["event"]["effects"] == expected
    assert answer.body["session"]["discounts"] == ({"Big cart": 15.0} if discounted else {})


def test_discounts_of_several_rules_add_up_in_the_session(client: Client):
    answer = client.session("s-1", {"coupon": "SAVE5", "total": 120})
    assert answer.body["session"]["discounts"] == {"Save 5": 5.0, "Big cart": 15.0}


# --- referrals --------------------------------------------------------------------------------


def _code(client: Client, advocate: str = "adv", **extra) -> str:
    body = {"campaignId": 3, "advocateProfileIntegrationId": advocate, **extra}
    answer = client.referral(body)
    assert answer.status == 201, answer.body
    return str(answer.body["code"])


def test_referral_code_is_accepted_for_a_friend(client: Client, conforms: SpecCheck):
    # Given a code of advocate "adv"
    code = _code(client)
    # When a friend's session enters it
    answer = client.session("s-1", {"profileId": "friend", "referral": code})
    # Then acceptReferral and the campaign's discount
    conforms("IntegrationState", answer.body)
    assert answer.body["event"]["effects"] == [
        [3, 13, 0, ["acceptReferral", code]],
        [3, 13, 0, ["setDiscount", "Referral", 5.0]],
    ]
    state = IntegrationState.model_validate(answer.body)
    assert state.event.effects[0].props == {"value": code}


def test_unknown_referral_code_is_rejected(client: Client):
    answer = client.session("s-1", {"profileId": "friend", "referral": "ZZZZZZZZ"})
    assert effects_of(answer) == [["rejectReferral", "ZZZZZZZZ", "ReferralNotFound"]]


def test_advocate_cannot_use_their_own_code(client: Client):
    code = _code(client)
    answer = client.session("s-1", {"profileId": "adv", "referral": code})
    assert effects_of(answer) == [["rejectReferral", code, "ReferralRecipientIdSameAsAdvocate"]]


def test_referral_for_a_named_friend_rejects_anyone_else(client: Client):
    code = _code(client, friendProfileIntegrationId="bob")
    assert effect_names(client.session("s-1", {"profileId": "bob", "referral": code})) == [
        "acceptReferral",
        "setDiscount",
    ]
    answer = client.session("s-2", {"profileId": "eve", "referral": code})
    assert effects_of(answer) == [["rejectReferral", code, "ReferralRecipientDoesNotMatch"]]


def test_expired_referral_is_rejected(client: Client):
    code = _code(client, expiryDate="2001-01-01T00:00:00Z")
    answer = client.session("s-1", {"profileId": "f", "referral": code})
    assert effects_of(answer) == [["rejectReferral", code, "ReferralExpired"]]


def test_referral_usage_limit_counts_closed_sessions(client: Client, emulator: Emulator):
    # Given a code usable once
    code = _code(client)
    # When one friend's session closes with it
    client.session("s-1", {"profileId": "f1", "referral": code, "state": "closed"})
    # Then its usage counter is 1 and a second friend is refused
    assert emulator.state()["referrals"][0]["usageCounter"] == 1
    answer = client.session("s-2", {"profileId": "f2", "referral": code})
    assert effects_of(answer) == [["rejectReferral", code, "ReferralLimitReached"]]


# --- events, loyalty --------------------------------------------------------------------------


def test_event_rule_adds_loyalty_points_with_ledger_entries(client: Client, emulator: Emulator, conforms: SpecCheck):
    # Given the loyalty rule: 10 points of program 1 per "purchase" event, and the May 2019 answer shapes
    emulator.era = "2019"
    # When a profile tracks two purchases and one other event
    first = client.event({"profileId": "p-1", "sessionId": "s-1", "type": "purchase", "attributes": {}})
    other = client.event({"profileId": "p-1", "sessionId": "s-1", "type": "viewed", "attributes": {}})
    second = client.event({"profileId": "p-1", "sessionId": "s-1", "type": "purchase", "attributes": {}})
    # Then each purchase has the effect and a ledger entry, and the balance adds up
    conforms("IntegrationState", second.body)
    assert first.body["event"]["effects"] == [[4, 14, 0, ["addLoyaltyPoints", 1, 10, "Purchase points"]]]
    assert other.body["event"]["effects"] == []
    entry = second.body["event"]["ledgerEntries"][0]
    assert entry["amount"] == 10 and entry["loyaltyProgramId"] == 1
    assert entry["eventId"] == second.body["event"]["id"] and entry["profileId"] == "p-1"
    assert second.body["loyalty"] == {"programs": {"1": {"currentBalance": 20}}}
    memberships = second.body["profile"]["loyaltyMemberships"]
    assert [m["loyaltyProgramId"] for m in memberships] == [1]
    points = IntegrationState.model_validate(second.body).event.effects[0].props
    assert points["value"] == 10 and points["programId"] == 1


def test_anonymous_events_earn_no_points(client: Client):
    answer = client.event({"profileId": "", "sessionId": "s-1", "type": "purchase", "attributes": {}})
    assert answer.body["event"]["effects"] == []
    assert answer.body["event"]["ledgerEntries"] == []


def test_free_item_rule(client: Client, conforms: SpecCheck):
    # Given the gift rule: a strap with every camera
    # When the cart holds a camera
    answer = client.session("s-1", {"cartItems": CAMERA})
    # Then addFreeItem [sku, name]
    conforms("IntegrationState", answer.body)
    assert answer.body["event"]["effects"] == [[5, 15, 0, ["addFreeItem", "SKU-STRAP", "Camera strap"]]]
    free = IntegrationState.model_validate(answer.body).event.effects[0].props
    assert free["sku"] == "SKU-STRAP"
    # And not without one
    other = client.session("s-2", {"cartItems": [{"name": "Mug", "sku": "M", "quantity": 1, "price": 1}]})
    assert other.body["event"]["effects"] == []


# --- rules files ------------------------------------------------------------------------------


def test_default_rules_file_has_every_rule_type():
    rules = load_rules(DEFAULT_RULES_FILE)
    kinds = {rule.type for campaign in rules.campaigns for rule in campaign.rules}
    assert kinds == {"coupon", "cartTotal", "referral", "event", "freeItem"}


def test_custom_rules_file_in_yaml(tmp_path: Path):
    # Given a YAML rules file with one cart rule
    path = tmp_path / "rules.yaml"
    path.write_text(
        "accountId: 7\ncampaigns:\n"
        "  - {id: 9, rulesetId: 90, rules: [{type: cartTotal, threshold: 1, label: Any, discount: 2}]}\n"
    )
    emu = Emulator(rules=path, api_keys={"k"})
    base = emu.start()
    try:
        import urllib3

        # When a session has a total over the threshold
        response = urllib3.request(
            "PUT",
            base + "/v1/customer_sessions/s",
            json={"profileId": "p", "total": 5},
            headers={"Authorization": "ApiKey-v1 k"},
            retries=False,
        )
    finally:
        emu.stop()
    # Then that file's campaign gives the effect, and its accountId is used
    body = response.json()
    assert body["event"]["effects"] == [[9, 90, 0, ["setDiscount", "Any", 2.0]]]
    assert body["profile"]["accountId"] == 7


@pytest.mark.parametrize(
    "rules",
    [
        {"campaigns": [{"id": 1, "rulesetId": 1, "rules": [{"type": "teleport"}]}]},
        {"campaigns": [{"id": 1, "rulesetId": 1}, {"id": 1, "rulesetId": 2}]},
        {"campaigns": [{"id": 1, "rulesetId": 1, "rules": [{"type": "cartTotal", "label": "x"}]}]},
        {"campaign": []},
    ],
)
def test_invalid_rules_are_refused_at_load(rules):
    with pytest.raises(ValidationError):
        load_rules(rules)


def test_rules_can_be_replaced_at_runtime(client: Client):
    # Given the default rules
    assert client.session("s-1", {"total": 5}).body["event"]["effects"] == []
    # When rules with a 1-from threshold are put through the admin interface
    rules = {"campaigns": [{"id": 8, "rulesetId": 80, "rules": [
        {"type": "cartTotal", "threshold": 1, "label": "Tiny", "discount": 1}]}]}  # fmt: skip
    answer = client.admin("PUT", "rules", rules)
    assert answer.status == 200 and answer.body == {"campaigns": [8]}
    # Then the next evaluation uses them
    assert effect_names(client.session("s-1", {"total": 5})) == ["setDiscount"]
    # And a broken rules body is a 400 naming the field
    broken = client.admin("PUT", "rules", {"campaigns": [{"id": "x", "rulesetId": 1}]})
    assert broken.status == 400
    assert broken.body["errors"][0]["source"]["pointer"] == "/campaigns/0/id"


def test_rules_file_round_trips_as_json(tmp_path: Path):
    rules = load_rules(DEFAULT_RULES_FILE)
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(rules.model_dump(mode="json", by_alias=True)))
    assert load_rules(path) == rules
