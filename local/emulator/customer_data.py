"""createReferral and deleteCustomerData: referral codes, and the erasure of a customer's data."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.emulator.errors import ApiError
from local.emulator.rules import ReferralRule, RulesConfig
from local.emulator.store import ReferralRecord, Store

#: Referral codes: no 0/O/1/I, so a code read aloud or typed survives.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def random_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.upper().replace("Z", "+00:00"))


def new_referral(
    store: Store, rules: RulesConfig, body: dict[str, Any], now: datetime, code_factory: Callable[[], str]
) -> ReferralRecord:
    """A referral code of the campaign for the advocate (a 400 for an unknown campaign), stored."""
    campaign_id: int = body["campaignId"]
    campaign = rules.campaign(campaign_id)
    if campaign is None:
        raise ApiError(400, f"Campaign {campaign_id} does not exist", title="Unknown campaign", pointer="/campaignId")
    advocate: str = body["advocateProfileIntegrationId"]
    if not advocate:
        raise ApiError(
            400,
            "advocateProfileIntegrationId must not be empty",
            title="Invalid value",
            pointer="/advocateProfileIntegrationId",
        )
    limits = [rule.usage_limit for rule in campaign.rules if isinstance(rule, ReferralRule)]
    record = ReferralRecord(
        id=store.next_referral_id,
        created=now,
        campaign_id=campaign_id,
        advocate=advocate,
        code=_new_code(store, code_factory),
        usage_limit=limits[0] if limits else 1,
        friend=body.get("friendProfileIntegrationId") or None,
        start_date=_moment(body.get("startDate")),
        expiry_date=_moment(body.get("expiryDate")),
    )
    store.next_referral_id += 1
    store.referrals[record.code] = record
    return record


def _new_code(store: Store, code_factory: Callable[[], str]) -> str:
    for _ in range(1000):
        code = code_factory()
        if len(code) >= 4 and code not in store.referrals:
            return code
    raise ApiError(500, "Could not generate a unique referral code", title="Internal error")


def erase(store: Store, integration_id: str) -> None:
    """Empty the attributes of the profile, its sessions and their events, and take the profile out of its
    audiences and coupon reservations (404 if unknown)."""
    profile = store.profiles.get(integration_id)
    if profile is None:
        raise ApiError(
            404, f"Customer profile {integration_id!r} not found", title="Not found", parameter="integrationId"
        )
    profile.attributes = {}
    store.segments.forget(integration_id)
    session_ids = set()
    for session in store.sessions.values():
        if session.profile_id == integration_id:
            session.attributes = {}
            session_ids.add(session.integration_id)
    for event in store.events:
        if event.profile_id == integration_id or (event.session_id in session_ids and not event.profile_id):
            event.attributes = {}
