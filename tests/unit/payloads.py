"""Wire-form (camelCase JSON) bodies as Talon.One sends them, for the unit tests to answer with."""

from __future__ import annotations

from typing import Any

CREATED = "2019-05-20T10:15:30Z"


def customer_session(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "integrationId": "s-1",
        "created": CREATED,
        "applicationId": 7,
        "profileId": "p-1",
        "coupon": "",
        "referral": "",
        "state": "open",
        "cartItems": [{"name": "Shoe", "sku": "SKU-1", "quantity": 1, "price": 12.5}],
        "total": 12.5,
        "attributes": {},
        "firstSession": True,
        "discounts": {},
    }
    body.update(overrides)
    return body


def customer_profile(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "integrationId": "p-1",
        "created": CREATED,
        "attributes": {},
        "accountId": 3,
        "closedSessions": 0,
        "totalSales": 0.0,
        "loyaltyMemberships": None,
        "lastActivity": CREATED,
    }
    body.update(overrides)
    return body


def event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 101,
        "created": CREATED,
        "applicationId": 7,
        "profileId": "p-1",
        "sessionId": "s-1",
        "type": "talon_session_updated",
        "attributes": {},
        "effects": [],
        "ledgerEntries": [],
    }
    body.update(overrides)
    return body


def integration_state(
    effects: list[Any] | None = None,
    *,
    session: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
    event_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ev = event_body if event_body is not None else event()
    if effects is not None:
        ev = {**ev, "effects": effects}
    return {
        "session": session if session is not None else customer_session(),
        "profile": profile if profile is not None else customer_profile(),
        "event": ev,
    }


def referral(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 55,
        "created": CREATED,
        "campaignId": 12,
        "advocateProfileIntegrationId": "p-1",
        "code": "REF-ABCD",
        "usageCounter": 0,
        "usageLimit": 1,
    }
    body.update(overrides)
    return body
