"""Answers of the v2 operations (May 2026 spec): `IntegrationStateV2` and its relatives.

Every answer has `effects` (typed: `{campaignId, rulesetId, ruleIndex, ruleName, effectType, props}`),
`createdCoupons` and `createdReferrals` (always empty: no rule creates any). Everything else comes only
when `responseContent` asks for it, as with Talon.One: `customerSession`, `customerProfile` and
`loyalty` (not for an anonymous customer), `event`, `coupons` (the session's codes the rules know),
`referral`, `triggeredCampaigns` (campaigns that gave an effect other than a rejection), and
`awardedGiveaways`, `ruleFailureReasons`, `previousReturns` (always empty).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from local.emulator.accounting import additional_cost_total, cart_item_total
from local.emulator.loyalty import ledgers
from local.emulator.model import Result
from local.emulator.rules import CouponRule, EventRule, ReferralRule, RulesConfig
from local.emulator.store import EventRecord, Profile, Session, Store, rfc3339

#: Coupons and campaigns come from the rules file, which has no creation time: this one stands in.
RULES_CREATED = "2019-05-20T00:00:00Z"
_REJECTIONS = frozenset({"rejectCoupon", "rejectReferral"})


def _value(args: Sequence[Any], event: EventRecord, index: int) -> dict[str, Any]:
    return {"value": args[0]}


def _rejection(args: Sequence[Any], event: EventRecord, index: int) -> dict[str, Any]:
    return {"value": args[0], "rejectionReason": args[1]}


def _discount(args: Sequence[Any], event: EventRecord, index: int) -> dict[str, Any]:
    return {"name": args[0], "value": args[1]}


def _free_item(args: Sequence[Any], event: EventRecord, index: int) -> dict[str, Any]:
    return {"sku": args[0], "name": args[1]}


def _points(args: Sequence[Any], event: EventRecord, index: int) -> dict[str, Any]:
    program_id, points, reason = args[0], args[1], args[2]
    props: dict[str, Any] = {
        "name": reason,
        "programId": program_id,
        "subLedgerId": "",
        "value": points,
        "recipientIntegrationId": event.profile_id,
        "transactionUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"talon-emulator:event:{event.id}:effect:{index}")),
    }
    entry = next((e for e in event.ledger_entries if e["loyaltyProgramId"] == program_id), None)
    if entry is not None:
        props["expiryDate"] = entry["expiryDate"]
    return props


def _rollback_points(args: Sequence[Any], event: EventRecord, index: int) -> dict[str, Any]:
    return {"programId": args[0], "subLedgerId": "", "value": args[1], "recipientIntegrationId": event.profile_id}


PROPS: dict[str, Callable[[Sequence[Any], EventRecord, int], dict[str, Any]]] = {
    "acceptCoupon": _value,
    "acceptReferral": _value,
    "rejectCoupon": _rejection,
    "rejectReferral": _rejection,
    "setDiscount": _discount,
    "addFreeItem": _free_item,
    "addLoyaltyPoints": _points,
    # what returns, cancelling and reopening take back (lifecycle.py)
    "rollbackAddedLoyaltyPoints": _rollback_points,
    "rollbackDiscount": _discount,
    "rollbackCoupon": _value,
    "rollbackReferral": _value,
}


def typed_effects(event: EventRecord, rules: RulesConfig) -> list[dict[str, Any]]:
    """The event's v1 tuples as v2 effects."""
    typed = []
    for index, (campaign_id, ruleset_id, rule_index, (name, *args)) in enumerate(event.effects):
        typed.append(
            {
                "campaignId": campaign_id,
                "rulesetId": ruleset_id,
                "ruleIndex": rule_index,
                "ruleName": rules.rule_name(campaign_id, rule_index),
                "effectType": name,
                "props": PROPS[name](args, event, index),
            }
        )
    return typed


def customer_session(session: Session) -> dict[str, Any]:
    """`CustomerSessionV2`."""
    return {
        "id": session.id,
        "created": rfc3339(session.created),
        "integrationId": session.integration_id,
        "applicationId": session.application_id,
        "profileId": session.profile_id,
        "couponCodes": session.coupons,
        "referralCode": session.referral,
        "state": session.state,
        "cartItems": session.cart_items,
        "additionalCosts": session.additional_costs,
        "identifiers": session.identifiers,
        "attributes": session.attributes,
        "firstSession": session.first_session,
        "updateCount": session.update_count,
        "total": session.total,
        "cartItemTotal": cart_item_total(session.cart_items),
        "additionalCostTotal": additional_cost_total(session.additional_costs),
        "updated": rfc3339(session.updated or session.created),
    }


def customer_profile(profile: Profile) -> dict[str, Any]:
    """`CustomerProfile` of today (no deprecated `loyaltyMemberships`)."""
    return {
        "id": profile.id,
        "created": rfc3339(profile.created),
        "integrationId": profile.integration_id,
        "attributes": profile.attributes,
        "accountId": profile.account_id,
        "closedSessions": profile.closed_sessions,
        "totalSales": profile.total_sales,
        "lastActivity": rfc3339(profile.last_activity),
    }


def event_wire(event: EventRecord, rules: RulesConfig) -> dict[str, Any]:
    """`Event` of today: typed effects, no `sessionId` for a session-less (v2) event."""
    body: dict[str, Any] = {
        "id": event.id,
        "created": rfc3339(event.created),
        "applicationId": event.application_id,
        "profileId": event.profile_id,
        "type": event.type,
        "attributes": event.attributes,
        "effects": typed_effects(event, rules),
        "ledgerEntries": event.ledger_entries,
    }
    if event.session_id:
        body["sessionId"] = event.session_id
    if event.meta is not None:
        body["meta"] = event.meta
    return body


def coupons(session: Session, store: Store, rules: RulesConfig) -> list[dict[str, Any]]:
    """`IntegrationCoupon` of each of the session's codes a coupon rule knows."""
    known = {code.code: (campaign, code) for campaign, _, rule in rules.rules_of(CouponRule) for code in rule.codes}
    answer = []
    for value in session.coupons:
        if value not in known:
            continue
        campaign, code = known[value]
        redeemed = sum(
            1 for s in store.sessions.values() if s.profile_id == session.profile_id and value in s.used_coupons
        )
        answer.append(
            {
                "id": code.id or 0,
                "created": RULES_CREATED,
                "campaignId": campaign.id,
                "value": value,
                "usageLimit": code.usage_limit,
                "usageCounter": store.coupon_usage.get(value, 0),
                "profileRedemptionCount": redeemed if session.profile_id else 0,
            }
        )
    return answer


def referral(session: Session, store: Store) -> dict[str, Any] | None:
    """`InventoryReferral` of the session's referral code, if it is one createReferral made."""
    record = store.referrals.get(session.referral) if session.referral else None
    if record is None:
        return None
    referred = sorted({s.profile_id for s in store.sessions.values() if s.used_referral == record.code})
    return {**record.dump(), "referredCustomers": referred}


def triggered_campaigns(event: EventRecord, rules: RulesConfig) -> list[dict[str, Any]]:
    """`Campaign` of each campaign that gave an effect other than a rejection."""
    ids = list(dict.fromkeys(effect[0] for effect in event.effects if effect[3][0] not in _REJECTIONS))
    answer = []
    for campaign_id in ids:
        campaign = rules.campaign(campaign_id)
        if campaign is None:
            continue
        kinds = {type(rule) for rule in campaign.rules}
        features = [
            name
            for kind, name in ((CouponRule, "coupons"), (ReferralRule, "referrals"), (EventRule, "loyalty"))
            if kind in kinds
        ]
        answer.append(
            {
                "id": campaign.id,
                "created": RULES_CREATED,
                "applicationId": rules.application_id,
                "userId": 0,
                "name": campaign.name or f"Campaign {campaign.id}",
                "description": "",
                "state": "enabled" if campaign.active else "disabled",
                "tags": [],
                "reevaluateOnReturn": False,
                "features": features,
                "limits": [],
                "type": "advanced",
                "frontendState": "running" if campaign.active else "disabled",
                "storesImported": False,
            }
        )
    return answer


def integration_state(result: Result, content: Sequence[str], store: Store, rules: RulesConfig) -> dict[str, Any]:
    """`IntegrationStateV2` (and the profile and event answers, which are subsets of it)."""
    event, session, profile = result.event, result.session, result.profile
    body: dict[str, Any] = {
        "effects": typed_effects(event, rules) if event is not None else [],
        "createdCoupons": [],
        "createdReferrals": [],
    }
    identified = profile is not None and bool(profile.integration_id)
    for item in dict.fromkeys(content):
        if item == "customerSession" and session is not None:
            body["customerSession"] = customer_session(session)
        elif item == "customerProfile" and profile is not None and identified:
            body["customerProfile"] = customer_profile(profile)
        elif item == "loyalty" and profile is not None and identified:
            body["loyalty"] = ledgers(profile, rules)
        elif item == "event" and event is not None:
            body["event"] = event_wire(event, rules)
        elif item == "coupons" and session is not None:
            body["coupons"] = coupons(session, store, rules)
        elif item == "referral" and session is not None:
            found = referral(session, store)
            if found is not None:
                body["referral"] = found
        elif item == "triggeredCampaigns":
            body["triggeredCampaigns"] = triggered_campaigns(event, rules) if event is not None else []
        elif item in ("awardedGiveaways", "ruleFailureReasons", "previousReturns"):
            body[item] = []
    return body
