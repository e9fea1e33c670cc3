"""Talon.One-shaped answers with every required field: the bodies a fixed-answer stand-in of Talon.One
gives (the tests' stand-ins and the bench's), as today's and 2019's Integration API answer."""

from __future__ import annotations

from typing import Any


def integration_state(
    session_id: str = "s-1",
    profile_id: str = "p-1",
    effects: list[Any] | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete IntegrationState as Talon.One returns it (every required field present)."""
    created = "2026-11-27T10:00:00Z"
    return {
        "session": {
            "integrationId": session_id,
            "created": created,
            "applicationId": 12,
            "profileId": profile_id,
            "coupon": "",
            "referral": "",
            "state": "open",
            "cartItems": [],
            "total": 0,
            "attributes": dict(attributes or {}),
            "firstSession": True,
            "discounts": {},
        },
        "profile": {
            "integrationId": profile_id,
            "created": created,
            "attributes": dict(attributes or {}),
            "accountId": 1,
            "closedSessions": 0,
            "totalSales": 0,
            "loyaltyMemberships": [],
            "lastActivity": created,
        },
        "event": {
            "id": 7,
            "created": created,
            "applicationId": 12,
            "profileId": profile_id,
            "sessionId": session_id,
            "type": "talon_session_updated",
            "attributes": dict(attributes or {}),
            "effects": effects if effects is not None else [[1, 2, 0, ["setDiscount", "Ten off", 10]]],
            "ledgerEntries": [],
        },
    }


def integration_state_v2(
    session_id: str = "s-1", profile_id: str = "p-1", effects: list[Any] | None = None
) -> dict[str, Any]:
    """An IntegrationStateV2 as today's Talon.One returns it: typed effects at the top level."""
    default = [
        {
            "campaignId": 1,
            "rulesetId": 2,
            "ruleIndex": 0,
            "ruleName": "Ten off",
            "effectType": "setDiscount",
            "props": {"name": "Ten off", "value": 10},
        }
    ]
    return {
        "customerSession": {"integrationId": session_id, "profileId": profile_id, "state": "open", "total": 0},
        "customerProfile": {"integrationId": profile_id, "attributes": {}},
        "effects": default if effects is None else effects,
        "createdCoupons": [],
        "createdReferrals": [],
    }


def referral(code: str = "REF-1234") -> dict[str, Any]:
    return {
        "id": 3,
        "created": "2026-11-27T10:00:00Z",
        "campaignId": 3,
        "advocateProfileIntegrationId": "p-1",
        "code": code,
        "usageCounter": 0,
        "usageLimit": 1,
    }
