"""Models: names, aliases, constraints, closed/open objects and the exact bodies they produce."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from talon_relay.wire.models import (
    CartItem,
    CartItemAdjustment,
    CouponRejectionReason,
    CustomerSession,
    IntegrationState,
    NewCustomerProfile,
    NewCustomerSession,
    NewEvent,
    NewReferral,
    Referral,
    SessionState,
)
from tests.unit import payloads

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def body_of(model: Any) -> dict[str, Any]:
    """The JSON object a request model would send."""
    data = model.to_json()
    assert isinstance(data, bytes)
    parsed = json.loads(data)
    assert isinstance(parsed, dict)
    return parsed


# --- names and aliases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "camel", "snake"),
    [
        (NewCustomerSession, {"profileId": "p-1"}, {"profile_id": "p-1"}),
        (NewCustomerSession, {"cartItems": []}, {"cart_items": []}),
        (
            NewEvent,
            {"sessionId": "s", "type": "t", "attributes": {}},
            {"session_id": "s", "type": "t", "attributes": {}},
        ),
        (
            NewReferral,
            {"campaignId": 1, "advocateProfileIntegrationId": "a"},
            {"campaign_id": 1, "advocate_profile_integration_id": "a"},
        ),
        (
            CartItemAdjustment,
            {"payFromLoyaltyProgram": 1, "pointPayment": 2},
            {"pay_from_loyalty_program": 1, "point_payment": 2},
        ),
    ],
)
def test_camel_case_and_snake_case_input_give_the_same_model(
    model: type[BaseModel], camel: dict[str, Any], snake: dict[str, Any]
) -> None:
    # Given the same body spelled with the wire names and with the Python names
    # When both are validated
    from_camel, from_snake = model.model_validate(camel), model.model_validate(snake)
    # Then they are the same model, and it serialises with the camelCase wire names
    assert from_camel == from_snake
    assert set(from_camel.model_dump(by_alias=True, exclude_none=True)) == set(camel)


def test_python_keyword_arguments_use_snake_case_names() -> None:
    # Given a session built in Python with snake_case keywords
    session = NewCustomerSession(profile_id="p-1", cart_items=[], total=3.5)
    # Then its attributes read back under those names and are sent camelCase
    assert session.profile_id == "p-1"
    assert body_of(session) == {"profileId": "p-1", "cartItems": [], "total": 3.5}


# --- required and optional -------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["sessionId", "type", "attributes"])
def test_new_event_without_a_required_field_is_rejected_naming_it(missing: str) -> None:
    # Given a NewEvent body lacking one of its required fields
    body = {"sessionId": "s-1", "type": "purchase", "attributes": {}}
    del body[missing]
    # When it is validated, then validation fails and says which field is missing
    with pytest.raises(ValidationError) as exc:
        NewEvent.model_validate(body)
    assert missing in str(exc.value)


def test_new_event_profile_id_is_optional() -> None:
    event = NewEvent.model_validate({"sessionId": "s-1", "type": "purchase", "attributes": {}})
    assert event.profile_id is None
    assert "profileId" not in body_of(event)


@pytest.mark.parametrize("missing", ["campaignId", "advocateProfileIntegrationId"])
def test_new_referral_without_a_required_field_is_rejected(missing: str) -> None:
    body: dict[str, Any] = {"campaignId": 1, "advocateProfileIntegrationId": "adv"}
    del body[missing]
    with pytest.raises(ValidationError) as exc:
        NewReferral.model_validate(body)
    assert missing in str(exc.value)


def test_every_new_customer_session_field_is_optional() -> None:
    # Given an empty body, when validated, then it is a valid session update that sends {}
    assert body_of(NewCustomerSession.model_validate({})) == {}


@pytest.mark.parametrize("missing", ["name", "sku", "quantity", "price"])
def test_cart_item_requires_name_sku_quantity_and_price(missing: str) -> None:
    item: dict[str, Any] = {"name": "Shoe", "sku": "S-1", "quantity": 1, "price": 9.99}
    del item[missing]
    with pytest.raises(ValidationError):
        CartItem.model_validate(item)


# --- minLength and minimum -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (NewEvent, {"sessionId": "", "type": "t", "attributes": {}}),
        (NewEvent, {"sessionId": "s", "type": "", "attributes": {}}),
        (CartItem, {"name": "", "sku": "S", "quantity": 1, "price": 1}),
        (CartItem, {"name": "N", "sku": "", "quantity": 1, "price": 1}),
        (CartItem, {"name": "N", "sku": "S", "quantity": 0, "price": 1}),
        (CartItemAdjustment, {"payFromLoyaltyProgram": 1, "pointPayment": 0}),
        (
            CartItemAdjustment,
            {"payFromLoyaltyProgram": 1, "pointPayment": 1, "remainingPrice": -0.01},
        ),
        (Referral, payloads.referral(code="ABC")),
        (Referral, payloads.referral(usageLimit=-1)),
    ],
)
def test_values_below_min_length_or_minimum_are_rejected(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (NewEvent, {"sessionId": "s", "type": "t", "attributes": {}}),
        (CartItem, {"name": "N", "sku": "S", "quantity": 1, "price": 0}),
        (CartItemAdjustment, {"payFromLoyaltyProgram": 0, "pointPayment": 1, "remainingPrice": 0}),
        (Referral, payloads.referral(code="ABCD", usageLimit=0)),
    ],
)
def test_values_exactly_at_min_length_or_minimum_are_accepted(model: type[BaseModel], body: dict[str, Any]) -> None:
    model.model_validate(body)


# --- enums -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["open", "closed", "cancelled"])
def test_session_state_accepts_the_three_spec_values(state: str) -> None:
    session = NewCustomerSession.model_validate({"state": state})
    assert session.state == SessionState(state)
    assert body_of(session) == {"state": state}


@pytest.mark.parametrize("state", ["paused", "OPEN", "", "canceled"])
def test_session_state_rejects_anything_else_in_a_request(state: str) -> None:
    with pytest.raises(ValidationError) as exc:
        NewCustomerSession.model_validate({"state": state})
    assert "state" in str(exc.value)


def test_coupon_rejection_reason_keeps_a_reason_this_spec_does_not_know() -> None:
    # Given a newer server's reason, when parsed, then it is kept as text (a response never fails)
    known = CouponRejectionReason.model_validate({"campaignId": 1, "couponId": 2, "reason": "CouponExpired"})
    newer = CouponRejectionReason.model_validate(
        {"campaignId": 1, "couponId": 2, "reason": "CouponReservationRequired"}
    )
    assert known.reason == "CouponExpired"
    assert newer.reason == "CouponReservationRequired"


# --- closed and open objects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (NewCustomerSession, {"profileId": "p-1", "customerSessionId": "s-1"}),
        (NewCustomerSession, {"discount": 5, "identifiers": ["device-1"]}),
        (NewEvent, {"sessionId": "s", "type": "t", "attributes": {}, "effects": []}),
    ],
)
def test_request_models_let_unknown_top_level_keys_through(model: type[BaseModel], body: dict[str, Any]) -> None:
    # Given a body with a key the 2019 spec does not know (its additionalProperties: false is Talon.One's
    # to apply: later versions added fields such as identifiers)
    unknown = set(body) - {"profileId", "sessionId", "type", "attributes"}
    # When validated, then it passes and the unknown keys are kept as they were
    checked = model.model_validate(body, by_alias=True, by_name=False)
    assert {key: (checked.model_extra or {})[key] for key in unknown} == {key: body[key] for key in unknown}


def test_a_snake_case_name_is_an_unknown_field_not_the_spec_field() -> None:
    # Given profile_id (not the wire name profileId) with a value of the wrong type for profileId
    checked = NewCustomerSession.model_validate({"profile_id": 5}, by_alias=True, by_name=False)
    # Then it is not read as profileId (nothing is renamed): it stays an unknown field
    assert checked.profile_id is None
    assert checked.model_extra == {"profile_id": 5}


def test_open_request_models_forward_unknown_keys() -> None:
    # Given NewReferral and NewCustomerProfile bodies carrying keys this spec version lacks
    referral = NewReferral.model_validate(
        {"campaignId": 1, "advocateProfileIntegrationId": "adv", "futureField": {"x": 1}}
    )
    profile = NewCustomerProfile.model_validate({"attributes": {"a": 1}, "audiencesChanges": {}})
    # When serialised, then the unknown keys travel on unchanged
    assert body_of(referral) == {
        "campaignId": 1,
        "advocateProfileIntegrationId": "adv",
        "futureField": {"x": 1},
    }
    assert body_of(profile) == {"attributes": {"a": 1}, "audiencesChanges": {}}


def test_cart_items_forward_unknown_keys_inside_a_session() -> None:
    # CartItem has no additionalProperties:false in the spec, so its extras are kept.
    session = NewCustomerSession.model_validate(
        {"cartItems": [{"name": "N", "sku": "S", "quantity": 2, "price": 1.5, "returnedQty": 0}]}
    )
    assert body_of(session)["cartItems"] == [{"name": "N", "sku": "S", "quantity": 2, "price": 1.5, "returnedQty": 0}]


def test_response_models_tolerate_unknown_fields_at_every_level() -> None:
    # Given an IntegrationState from a newer server with fields this spec does not know
    body = payloads.integration_state(
        session=payloads.customer_session(updated="2020-01-01T00:00:00Z"),
        profile=payloads.customer_profile(audienceMemberships=[]),
        event_body=payloads.event(meta={"campaigns": {}, "newMetaThing": 1}),
    )
    body["coupons"] = []
    body["createdCoupons"] = []
    # When parsed, then nothing fails and the unknown fields are kept
    state = IntegrationState.model_validate(body)
    wire = state.to_wire()
    assert wire["coupons"] == [] and wire["createdCoupons"] == []
    assert wire["session"]["updated"] == "2020-01-01T00:00:00Z"
    assert wire["profile"]["audienceMemberships"] == []
    assert wire["event"]["meta"]["newMetaThing"] == 1


def test_referral_response_tolerates_unknown_fields() -> None:
    referral = Referral.model_validate(payloads.referral(importId=9, batchId="b"))
    assert referral.to_wire()["importId"] == 9
    assert referral.code == "REF-ABCD"


# --- to_json: only what was set --------------------------------------------------------------------


def test_to_json_sends_only_what_was_set_with_no_null() -> None:
    # Given a session where only two fields are set and one optional is explicitly None
    session = NewCustomerSession(profile_id="p-1", total=10, coupon=None)
    # When serialised
    data = session.to_json()
    # Then it is exactly the set fields, camelCase, with no null
    assert json.loads(data) == {"profileId": "p-1", "total": 10.0}
    assert b"null" not in data
    assert b"profile_id" not in data


def test_to_json_keeps_null_attribute_values_a_caller_sends_on_purpose() -> None:
    # Given attributes where the caller clears one with null
    profile = NewCustomerProfile(attributes={"nickname": None, "tier": "gold"})
    # Then that null is part of the data and is sent (only unset *fields* are dropped)
    assert body_of(profile) == {"attributes": {"nickname": None, "tier": "gold"}}


def test_to_json_of_a_full_session_is_camel_case_all_the_way_down() -> None:
    session = NewCustomerSession(
        profile_id="p-1",
        coupon="SUMMER",
        referral="REF-1",
        state=SessionState.CLOSED,
        cart_items=[
            CartItem(
                name="Shoe",
                sku="S-1",
                quantity=2,
                price=12.5,
                adjustment=CartItemAdjustment(pay_from_loyalty_program=1, point_payment=5),
            )
        ],
        total=25,
        attributes={"channel": "web"},
    )
    assert body_of(session) == {
        "profileId": "p-1",
        "coupon": "SUMMER",
        "referral": "REF-1",
        "state": "closed",
        "cartItems": [
            {
                "name": "Shoe",
                "sku": "S-1",
                "quantity": 2,
                "price": 12.5,
                "adjustment": {"payFromLoyaltyProgram": 1, "pointPayment": 5},
            }
        ],
        "total": 25.0,
        "attributes": {"channel": "web"},
    }


@pytest.mark.parametrize(
    "text", ["2019-05-20T10:00:00Z", "2019-05-20T12:00:00+02:00", "2019-05-20t10:00:00.123456-07:30"]
)
def test_referral_dates_are_checked_and_kept_as_the_text_sent(text: str) -> None:
    # Given a referral with an RFC 3339 start date in any of its spellings
    referral = NewReferral.model_validate({"campaignId": 1, "advocateProfileIntegrationId": "adv", "startDate": text})
    # Then it is accepted and kept exactly as sent (the relay forwards, it does not reformat)
    assert referral.start_date == text
    assert body_of(referral)["startDate"] == text


@pytest.mark.parametrize("value", [1558346400, 1558346400.5, "yesterday", "2019-05-20", True])
def test_a_referral_date_that_is_not_rfc3339_text_is_refused(value: Any) -> None:
    # Given an epoch number, a word, a bare date or a boolean where a date-time belongs
    with pytest.raises(ValidationError) as exc:
        NewReferral.model_validate({"campaignId": 1, "advocateProfileIntegrationId": "adv", "startDate": value})
    # Then it is an error naming the field (never converted into a date)
    assert "startDate" in str(exc.value)


@pytest.mark.parametrize("naive", [datetime(2019, 5, 20, 10, 0), "2019-05-20T10:00:00"])
def test_referral_rejects_a_date_without_a_time_zone(naive: Any) -> None:
    # Given a naive date-time (its instant is ambiguous), then NewReferral refuses it
    with pytest.raises(ValidationError) as exc:
        NewReferral.model_validate({"campaignId": 1, "advocateProfileIntegrationId": "adv", "startDate": naive})
    assert "startDate" in str(exc.value)


# --- session state ----------------------------------------------------------------------------------


def test_a_response_session_state_compares_to_the_enum() -> None:
    session = CustomerSession.model_validate(payloads.customer_session(state="closed"))
    assert session.state == SessionState.CLOSED
