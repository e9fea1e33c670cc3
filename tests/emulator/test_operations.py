"""The five Integration API operations: success shapes and the documented semantics."""

from __future__ import annotations

import pytest

from local.emulator import Emulator
from talon_relay.wire.models import ErrorResponse, IntegrationState, Referral
from tests.emulator.helpers import APP_ID, Client, SpecCheck

CART = [{"name": "Mug", "sku": "SKU-MUG", "quantity": 2, "price": 7.5}]


def assert_error(answer, status: int, *, pointer: str | None = None, parameter: str | None = None):
    """The answer is an ErrorResponse with this status, naming the pointer/parameter at fault."""
    assert answer.status == status, answer.body
    error = ErrorResponse.model_validate(answer.body)
    assert error.message
    sources = [(e.source.pointer, e.source.parameter) for e in error.errors or []]
    if pointer is not None:
        assert (pointer, None) in sources, sources
    if parameter is not None:
        assert (None, parameter) in sources, sources
    return error


# --- success shapes --------------------------------------------------------------------------


def test_update_customer_profile_answers_a_valid_integration_state(client: Client, conforms: SpecCheck):
    # Given no profile "p-1"
    # When it is updated with attributes
    answer = client.profile("p-1", {"attributes": {"tier": "gold"}})
    # Then it exists, with a profile-update event, in the spec's shape
    assert answer.status == 200
    conforms("IntegrationState", answer.body)
    state = IntegrationState.model_validate(answer.body)
    assert state.profile.integration_id == "p-1"
    assert state.profile.attributes == {"tier": "gold"}
    assert state.event.type == "talon_profile_updated"
    assert state.event.profile_id == "p-1"
    assert state.session.profile_id == "p-1"


def test_update_customer_session_answers_a_valid_integration_state(client: Client, conforms: SpecCheck):
    # Given nothing
    # When a session is updated for a new profile
    answer = client.session("s-1", {"profileId": "p-1", "cartItems": CART, "total": 15, "attributes": {"a": 1}})
    # Then session and profile are created and returned in the spec's shape
    assert answer.status == 200
    conforms("IntegrationState", answer.body)
    state = IntegrationState.model_validate(answer.body)
    assert state.session.integration_id == "s-1"
    assert state.session.state == "open"
    assert state.session.first_session is True
    assert state.session.total == 15
    assert state.session.cart_items[0].sku == "SKU-MUG"
    assert state.session.coupon == "" and state.session.referral == ""
    assert state.profile.integration_id == "p-1"
    assert state.event.type == "talon_session_updated"
    assert state.event.session_id == "s-1"
    assert state.loyalty is not None and state.loyalty.programs == {}


def test_track_event_answers_201_with_a_valid_integration_state(client: Client, conforms: SpecCheck):
    # Given nothing
    # When an event is tracked on a new session of a new profile
    answer = client.event({"profileId": "p-1", "sessionId": "s-1", "type": "viewed", "attributes": {"x": 1}})
    # Then it is created with both, and the event carries its type and attributes
    assert answer.status == 201
    conforms("IntegrationState", answer.body)
    state = IntegrationState.model_validate(answer.body)
    assert state.event.type == "viewed"
    assert state.event.attributes == {"x": 1}
    assert state.session.integration_id == "s-1"
    assert state.session.profile_id == "p-1"


def test_create_referral_answers_201_with_a_valid_referral(client: Client, conforms: SpecCheck):
    # Given the referral campaign 3 of the default rules
    # When an advocate asks for a code, naming a friend
    answer = client.referral(
        {
            "campaignId": 3,
            "advocateProfileIntegrationId": "adv",
            "friendProfileIntegrationId": "friend",
            "expiryDate": "2099-01-01T00:00:00Z",
        }
    )
    # Then a Referral comes back with a code tied to campaign and advocate
    assert answer.status == 201
    conforms("Referral", answer.body)
    referral = Referral.model_validate(answer.body)
    assert referral.campaign_id == 3
    assert referral.advocate_profile_integration_id == "adv"
    assert referral.friend_profile_integration_id == "friend"
    assert referral.usage_counter == 0 and referral.usage_limit == 1
    assert len(referral.code) >= 4
    assert referral.expiry_date is not None and referral.expiry_date.year == 2099


def test_delete_customer_data_answers_204_without_body(client: Client):
    # Given a profile
    client.profile("p-1", {"attributes": {"email": "a@b.c"}})
    # When its data is deleted
    answer = client.delete("p-1")
    # Then 204 and no body
    assert answer.status == 204
    assert answer.raw == b""


def test_signed_request_records_the_signer_as_application(client: Client):
    # Given application 12 signs its requests
    # When it creates a session
    answer = client.session("s-1", {"profileId": "p-1"}, auth="hmac")
    # Then the session and its event belong to application 12
    assert answer.status == 200
    assert answer.body["session"]["applicationId"] == APP_ID
    assert answer.body["event"]["applicationId"] == APP_ID


# --- profiles ---------------------------------------------------------------------------------


def test_profile_attributes_merge_on_update(client: Client):
    # Given a profile with two attributes
    client.profile("p-1", {"attributes": {"name": "Ann", "tier": "silver"}})
    # When one is changed and one added
    answer = client.profile("p-1", {"attributes": {"tier": "gold", "city": "Berlin"}})
    # Then the untouched one is kept
    assert answer.body["profile"]["attributes"] == {"name": "Ann", "tier": "gold", "city": "Berlin"}


def test_profile_update_without_body_is_allowed(client: Client):
    # Given nothing / When a profile is updated with an empty body
    answer = client.request("PUT", "/v1/customer_profiles/p-1", raw=b"")
    # Then it exists with no attributes
    assert answer.status == 200
    assert answer.body["profile"]["attributes"] == {}


def test_event_without_body_is_a_400_naming_what_it_needs(client: Client):
    # Given nothing / When an event is tracked with an empty body (optional in the 2019 spec)
    answer = client.request("POST", "/v1/events", raw=b"")
    # Then it is read as {}: a 400 naming each required property, not a dropped connection
    assert answer.status == 400
    pointers = {error["source"]["pointer"] for error in answer.body["errors"]}
    assert {"/sessionId", "/type", "/attributes"} <= pointers


def test_session_attributes_merge_too(client: Client):
    client.session("s-1", {"profileId": "p-1", "attributes": {"a": 1, "b": 2}})
    answer = client.session("s-1", {"attributes": {"b": 3}})
    assert answer.body["session"]["attributes"] == {"a": 1, "b": 3}


# --- sessions ---------------------------------------------------------------------------------


def test_second_session_of_a_profile_is_not_its_first(client: Client):
    # Given a profile with one session
    first = client.session("s-1", {"profileId": "p-1"})
    # When it opens another
    second = client.session("s-2", {"profileId": "p-1"})
    # Then only the first one is marked first
    assert first.body["session"]["firstSession"] is True
    assert second.body["session"]["firstSession"] is False


@pytest.mark.parametrize("body", [{"profileId": ""}, {}])
def test_anonymous_session_creates_no_profile(client: Client, emulator: Emulator, body, conforms):
    # Given nothing
    # When a session is updated with an empty (or no) profileId
    answer = client.session("anon-1", {**body, "cartItems": CART})
    # Then the session is anonymous, answered with a transient anonymous profile
    assert answer.status == 200
    conforms("IntegrationState", answer.body)
    assert answer.body["session"]["profileId"] == ""
    assert answer.body["session"]["firstSession"] is True
    assert answer.body["profile"]["integrationId"] == ""
    assert "loyalty" not in answer.body
    assert emulator.state()["profiles"] == {}


def test_anonymous_session_can_be_claimed_by_a_profile(client: Client):
    # Given an anonymous session
    client.session("s-1", {"profileId": ""})
    # When the customer logs in and the session is updated with their profile
    answer = client.session("s-1", {"profileId": "p-1"})
    # Then it belongs to that profile from now on
    assert answer.status == 200
    assert answer.body["session"]["profileId"] == "p-1"
    assert answer.body["profile"]["integrationId"] == "p-1"


def test_session_of_another_profile_is_refused(client: Client, emulator: Emulator):
    # Given a session of profile A
    client.session("s-1", {"profileId": "A"})
    # When profile B updates it
    answer = client.session("s-1", {"profileId": "B", "total": 99})
    # Then 400 naming profileId, and the session is unchanged
    assert_error(answer, 400, pointer="/profileId")
    session = emulator.state()["sessions"]["s-1"]
    assert session["profileId"] == "A" and session["total"] == 0


def test_track_event_on_a_session_of_another_profile_is_refused(client: Client, emulator: Emulator):
    # Given a session of profile A
    client.session("s-1", {"profileId": "A"})
    events_before = len(emulator.state()["events"])
    # When an event for profile B names that session
    answer = client.event({"profileId": "B", "sessionId": "s-1", "type": "x", "attributes": {}})
    # Then 400 and no event is recorded
    assert_error(answer, 400, pointer="/profileId")
    assert len(emulator.state()["events"]) == events_before


def test_track_event_without_profile_id_uses_the_sessions_profile(client: Client):
    client.session("s-1", {"profileId": "A"})
    answer = client.event({"sessionId": "s-1", "type": "x", "attributes": {}})
    assert answer.status == 201
    assert answer.body["event"]["profileId"] == "A"
    assert answer.body["profile"]["integrationId"] == "A"


def test_track_event_refuses_reserved_event_types(client: Client):
    answer = client.event({"sessionId": "s-1", "type": "talon_session_closed", "attributes": {}})
    assert_error(answer, 400, pointer="/type")


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["closed"], "closed"),
        (["cancelled"], "cancelled"),
        (["closed", "cancelled"], "cancelled"),
        (["open", "open"], "open"),
        (["closed", "closed"], "closed"),
        (["cancelled", "cancelled"], "cancelled"),
    ],
)
def test_allowed_state_transitions(client: Client, path: list[str], final: str):
    # Given an open session
    client.session("s-1", {"profileId": "p-1"})
    # When it moves along an allowed path (or stays where it is)
    for state in path:
        answer = client.session("s-1", {"state": state})
        assert answer.status == 200, answer.body
    # Then it ends in the last state
    assert answer.body["session"]["state"] == final


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["closed"], "open"),
        (["cancelled"], "open"),
        (["cancelled"], "closed"),
        (["closed", "cancelled"], "closed"),
    ],
)
def test_forbidden_state_transitions(client: Client, emulator: Emulator, path, refused):
    # Given a session moved along an allowed path
    client.session("s-1", {"profileId": "p-1"})
    for state in path:
        assert client.session("s-1", {"state": state}).status == 200
    # When it is asked to go back
    answer = client.session("s-1", {"state": refused, "total": 1})
    # Then 400 naming /state, and nothing changed
    assert_error(answer, 400, pointer="/state")
    session = emulator.state()["sessions"]["s-1"]
    assert session["state"] == path[-1] and session["total"] == 0


def test_invalid_state_value_is_a_validation_error(client: Client):
    answer = client.session("s-1", {"state": "paid"})
    assert_error(answer, 400, pointer="/state")


def test_closing_counts_towards_closed_sessions_and_total_sales(client: Client):
    # Given two sessions of one profile with totals
    client.session("s-1", {"profileId": "p-1", "cartItems": CART})  # total from the cart: 15
    client.session("s-2", {"profileId": "p-1", "total": 20.25})
    client.session("s-3", {"profileId": "p-1", "total": 1000})
    # When both are closed, one of them twice, and a third is cancelled
    client.session("s-1", {"state": "closed"})
    client.session("s-1", {"state": "closed"})
    client.session("s-3", {"state": "cancelled"})
    answer = client.session("s-2", {"state": "closed"})
    # Then the profile counts two closed sessions and their totals
    profile = answer.body["profile"]
    assert profile["closedSessions"] == 2
    assert profile["totalSales"] == pytest.approx(35.25)


def test_session_total_defaults_to_the_cart_sum(client: Client):
    answer = client.session(
        "s-1",
        {"cartItems": [*CART, {"name": "Tea", "sku": "SKU-TEA", "quantity": 1, "price": 3.25}]},
    )
    assert answer.body["session"]["total"] == pytest.approx(18.25)


def test_coupon_can_be_removed_with_empty_string(client: Client):
    client.session("s-1", {"coupon": "SAVE5"})
    answer = client.session("s-1", {"coupon": ""})
    assert answer.body["session"]["coupon"] == ""
    assert answer.body["session"]["discounts"] == {}


# --- referrals --------------------------------------------------------------------------------


def test_referral_codes_are_unique_and_long_enough(client: Client):
    # Given the referral campaign / When many codes are created
    codes = [
        client.referral({"campaignId": 3, "advocateProfileIntegrationId": f"a{i}"}).body["code"] for i in range(40)
    ]
    # Then all are distinct and at least 4 characters
    assert len(set(codes)) == len(codes)
    assert all(len(code) >= 4 for code in codes)


def test_referral_code_collisions_are_retried():
    # Given a code generator that repeats itself, and one that is too short
    produced = iter(["SAME1", "SAME1", "SAME1", "AB", "OTHER2"])
    emu = Emulator(api_keys={"k"}, code_factory=lambda: next(produced))
    base = emu.start()
    try:
        import urllib3

        def create() -> str:
            response = urllib3.request(
                "POST",
                base + "/v1/referrals",
                json={"campaignId": 3, "advocateProfileIntegrationId": "a"},
                headers={"Authorization": "ApiKey-v1 k"},
                retries=False,
            )
            assert response.status == 201
            return str(response.json()["code"])

        # When two referrals are created
        first, second = create(), create()
    finally:
        emu.stop()
    # Then the second skipped the duplicates and the too-short code
    assert (first, second) == ("SAME1", "OTHER2")


def test_referral_for_unknown_campaign_is_refused(client: Client):
    answer = client.referral({"campaignId": 999, "advocateProfileIntegrationId": "a"})
    assert_error(answer, 400, pointer="/campaignId")


def test_referral_needs_an_advocate(client: Client):
    assert_error(
        client.referral({"campaignId": 3, "advocateProfileIntegrationId": ""}),
        400,
        pointer="/advocateProfileIntegrationId",
    )
    assert_error(client.referral({"campaignId": 3}), 400, pointer="/advocateProfileIntegrationId")


def test_referral_creates_the_advocate_profile(client: Client, emulator: Emulator):
    client.referral({"campaignId": 3, "advocateProfileIntegrationId": "adv"})
    assert "adv" in emulator.state()["profiles"]


# --- deleteCustomerData -----------------------------------------------------------------------


def test_delete_customer_data_wipes_profile_sessions_and_events(client: Client, emulator: Emulator):
    # Given a profile with attributes, a session and events carrying attributes (one tracked
    # while the session was still anonymous), and another customer
    client.profile("p-1", {"attributes": {"email": "ann@example.com"}})
    client.event({"profileId": "", "sessionId": "s-1", "type": "x", "attributes": {"ua": "x"}})
    client.session("s-1", {"profileId": "p-1", "attributes": {"address": "Main St 1"}})
    client.event({"profileId": "p-1", "sessionId": "s-1", "type": "x", "attributes": {"ip": "1"}})
    client.session("s-2", {"profileId": "p-2", "attributes": {"address": "Elm St 2"}})
    client.event({"profileId": "p-2", "sessionId": "s-2", "type": "x", "attributes": {"ip": "2"}})
    # When p-1's data is deleted
    assert client.delete("p-1").status == 204
    # Then nothing of p-1 keeps attributes; p-2 keeps all
    state = emulator.state()
    assert state["profiles"]["p-1"]["attributes"] == {}
    assert state["sessions"]["s-1"]["attributes"] == {}
    p1_events = [e for e in state["events"] if e["profileId"] == "p-1" or e["sessionId"] == "s-1"]
    assert len(p1_events) == 4
    assert all(e["attributes"] == {} for e in p1_events)
    assert state["sessions"]["s-2"]["attributes"] == {"address": "Elm St 2"}
    p2_events = [e for e in state["events"] if e["profileId"] == "p-2"]
    assert {"ip": "2"} in [e["attributes"] for e in p2_events]
    # And the profile keeps its history (it still exists)
    assert state["profiles"]["p-1"]["integrationId"] == "p-1"


def test_delete_customer_data_of_unknown_profile_is_404(client: Client):
    assert_error(client.delete("nobody"), 404, parameter="integrationId")


def test_delete_customer_data_twice_is_still_204(client: Client):
    client.profile("p-1", {"attributes": {"a": 1}})
    assert client.delete("p-1").status == 204
    assert client.delete("p-1").status == 204
