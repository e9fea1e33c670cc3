"""The handlers of the five v1 operations (May 2019): request body -> `Backend` -> answer in the 2019 shapes.

Answers are `IntegrationState {session, profile, event, loyalty}` (loyalty only for an identified
profile, its shape chosen by the era), `Referral`, or nothing (204). Effects are v1 tuples.
"""

from __future__ import annotations

from typing import Any

from local.emulator.loyalty import Era, loyalty
from local.emulator.model import Outcome, Result, SessionChange
from local.emulator.routes import Call
from local.emulator.rules import RulesConfig
from local.emulator.store import Profile, Session

#: The properties of the 2019 definitions, in the spec's order (the store keeps more).
PROFILE_FIELDS = (
    "integrationId",
    "created",
    "attributes",
    "accountId",
    "closedSessions",
    "totalSales",
    "loyaltyMemberships",
    "lastActivity",
)
SESSION_FIELDS = (
    "integrationId",
    "created",
    "applicationId",
    "profileId",
    "coupon",
    "referral",
    "state",
    "cartItems",
    "total",
    "attributes",
    "firstSession",
    "discounts",
)


def profile_wire(profile: Profile) -> dict[str, Any]:
    dump = profile.dump()
    return {name: dump[name] for name in PROFILE_FIELDS}


def session_wire(session: Session) -> dict[str, Any]:
    dump = session.dump()
    return {name: dump[name] for name in SESSION_FIELDS}


def integration_state(result: Result, rules: RulesConfig, era: Era) -> dict[str, Any]:
    assert result.session is not None and result.profile is not None and result.event is not None
    body: dict[str, Any] = {
        "session": session_wire(result.session),
        "profile": profile_wire(result.profile),
        "event": result.event.dump(),
    }
    if result.profile.integration_id:
        body["loyalty"] = loyalty(result.profile, rules, era)
    return body


def session_change(body: dict[str, Any]) -> SessionChange:
    coupon = body.get("coupon")
    return SessionChange(
        profile_id=body.get("profileId"),
        coupons=None if coupon is None else ([coupon] if coupon else []),
        referral=body.get("referral"),
        state=body.get("state"),
        cart_items=body.get("cartItems"),
        total=body.get("total"),
        attributes=body.get("attributes"),
    )


def _state(call: Call, result: Result) -> Outcome:
    return Outcome(result.status, integration_state(result, call.backend.rules, call.era), result.effect_names)


def create_referral(call: Call) -> Outcome:
    referral = call.backend.create_referral(call.body, call.application_id).referral
    assert referral is not None
    return Outcome(201, referral.dump())


def delete_customer_data(call: Call) -> Outcome:
    call.backend.delete_customer_data(call.params["integrationId"])
    return Outcome(204, None)


def update_customer_profile(call: Call) -> Outcome:
    return _state(
        call,
        call.backend.update_profile(call.params["integrationId"], call.body.get("attributes"), call.application_id),
    )


def update_customer_session(call: Call) -> Outcome:
    change = session_change(call.body)
    return _state(call, call.backend.update_session(call.params["customerSessionId"], change, call.application_id))


def track_event(call: Call) -> Outcome:
    body = call.body
    result = call.backend.track_event(
        body["type"], body["sessionId"], body.get("profileId"), body["attributes"], call.application_id
    )
    return _state(call, result)
