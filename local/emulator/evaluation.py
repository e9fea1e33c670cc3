"""Evaluation of the campaign rules (`local.emulator.rules`) against a session and an event.

The result's effects are the v1 tuples `[campaignId, rulesetId, ruleIndex, [effectName, *args]]`;
v2 answers type them (`local.emulator.answers_v2`). Campaigns and rules run in file order; with
several coupon codes (v2 `couponCodes`), each rule handles the codes it knows in the session's order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.emulator.rules import (
    Campaign,
    CartTotalRule,
    CouponRule,
    EventRule,
    FreeItemRule,
    ReferralRule,
    RulesConfig,
)


@dataclass(frozen=True)
class ReferralView:
    """What evaluation needs to know about a referral code made by createReferral."""

    code: str
    campaign_id: int
    advocate: str
    friend: str | None
    start_date: datetime | None
    expiry_date: datetime | None
    usage_counter: int
    usage_limit: int


@dataclass(frozen=True)
class Context:
    """The session (after this request's changes) and event that rules are evaluated against."""

    profile_id: str  # "" = anonymous
    event_type: str
    coupons: tuple[str, ...]
    referral: str
    cart_items: list[dict[str, Any]]
    total: float
    now: datetime
    coupon_usage: Mapping[str, int]
    find_referral: Callable[[str], ReferralView | None]
    #: codes this session already used (at its close): they stay accepted
    used_coupons: Collection[str] = ()
    used_referral: str | None = None
    #: only these campaigns run (v2 `evaluableCampaignIds` of a dry request); None: all
    campaign_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class Points:
    campaign_id: int
    program_id: int
    points: int
    reason: str
    expiry_days: int
    pending_days: int = 0


@dataclass
class Evaluation:
    effects: list[list[Any]] = field(default_factory=list)
    discounts: dict[str, float] = field(default_factory=dict)
    points: list[Points] = field(default_factory=list)
    accepted_coupons: list[str] = field(default_factory=list)
    accepted_referral: str | None = None
    coupon_rejection: dict[str, Any] | None = None

    @property
    def effect_names(self) -> list[str]:
        return [str(effect[3][0]) for effect in self.effects]

    def add(self, where: tuple[int, int, int], name: str, *args: Any) -> None:
        self.effects.append([where[0], where[1], where[2], [name, *args]])

    def discount(self, where: tuple[int, int, int], label: str, amount: float) -> None:
        self.add(where, "setDiscount", label, amount)
        self.discounts[label] = self.discounts.get(label, 0.0) + amount


_NOWHERE = (0, 0, 0)


def evaluate(rules: RulesConfig, ctx: Context) -> Evaluation:
    """Every effect the rules give for this context, campaigns and rules in file order."""
    result = Evaluation()
    handled: set[str] = set()
    referral_handled = False
    for campaign in rules.campaigns:
        if ctx.campaign_ids is not None and campaign.id not in ctx.campaign_ids:
            continue
        for index, rule in enumerate(campaign.rules):
            where = (campaign.id, campaign.ruleset_id, index)
            if isinstance(rule, CouponRule):
                handled |= _coupons(campaign, where, rule, ctx, result)
            elif isinstance(rule, ReferralRule):
                referral_handled |= _referral(campaign, where, rule, ctx, result)
            elif not campaign.active:
                continue
            elif isinstance(rule, CartTotalRule):
                if ctx.total >= rule.threshold:
                    result.discount(where, rule.label, rule.discount)
            elif isinstance(rule, FreeItemRule):
                if _cart_quantity(ctx.cart_items, rule.sku) >= rule.min_quantity:
                    result.add(where, "addFreeItem", rule.free_sku, rule.free_name)
            elif isinstance(rule, EventRule) and ctx.event_type == rule.event_type and ctx.profile_id:
                result.add(where, "addLoyaltyPoints", rule.program_id, rule.points, rule.reason)
                result.points.append(
                    Points(campaign.id, rule.program_id, rule.points, rule.reason, rule.expiry_days, rule.pending_days)
                )
    skipped = {
        code.code
        for campaign, _, rule in rules.rules_of(CouponRule)
        if ctx.campaign_ids is not None and campaign.id not in ctx.campaign_ids
        for code in rule.codes
    }
    for code in ctx.coupons:
        if code in handled or code in skipped:
            continue
        first = rules.rules_of(CouponRule)
        where = (first[0][0].id, first[0][0].ruleset_id, first[0][1]) if first else _NOWHERE
        result.add(where, "rejectCoupon", code, "CouponNotFound")
        result.coupon_rejection = {"campaignId": where[0], "couponId": 0, "reason": "CouponNotFound"}
    if ctx.referral and not referral_handled:
        _unknown_referral(rules, ctx, result)
    return result


def _unknown_referral(rules: RulesConfig, ctx: Context, result: Evaluation) -> None:
    found = ctx.find_referral(ctx.referral)
    first_referral = rules.rules_of(ReferralRule)
    owner = rules.campaign(found.campaign_id) if found is not None else None
    if owner is not None:
        where, reason = (owner.id, owner.ruleset_id, 0), "ReferralPartOfNotRunningCampaign"
    elif first_referral:
        first_campaign, first_index, _ = first_referral[0]
        where = (first_campaign.id, first_campaign.ruleset_id, first_index)
        reason = "ReferralNotFound"
    else:
        where, reason = _NOWHERE, "ReferralNotFound"
    result.add(where, "rejectReferral", ctx.referral, reason)


def _coupons(
    campaign: Campaign,
    where: tuple[int, int, int],
    rule: CouponRule,
    ctx: Context,
    result: Evaluation,
) -> set[str]:
    """Handle the session's coupon codes this rule knows; the codes it handled."""
    handled: set[str] = set()
    for entered in ctx.coupons:
        code = next((c for c in rule.codes if c.code == entered), None)
        if code is None or entered in handled:
            continue
        handled.add(entered)
        reason: str | None = None
        if not campaign.active:
            reason = "CouponPartOfNotRunningCampaign"
        elif (
            code.code not in ctx.used_coupons
            and code.usage_limit
            and ctx.coupon_usage.get(code.code, 0) >= code.usage_limit
        ):
            reason = "CouponLimitReached"
        if reason is None:
            result.add(where, "acceptCoupon", code.code)
            result.discount(where, code.discount_label, code.discount)
            result.accepted_coupons.append(code.code)
        else:
            result.add(where, "rejectCoupon", code.code, reason)
            result.coupon_rejection = {"campaignId": campaign.id, "couponId": code.id or 0, "reason": reason}
    return handled


def _referral(
    campaign: Campaign,
    where: tuple[int, int, int],
    rule: ReferralRule,
    ctx: Context,
    result: Evaluation,
) -> bool:
    """Handle the session's referral code if it belongs to this campaign; True when it did."""
    if not ctx.referral:
        return False
    found = ctx.find_referral(ctx.referral)
    if found is None or found.campaign_id != campaign.id:
        return False
    reason: str | None = None
    if not campaign.active:
        reason = "ReferralPartOfNotRunningCampaign"
    elif ctx.used_referral == found.code:
        reason = None
    elif ctx.profile_id and ctx.profile_id == found.advocate:
        reason = "ReferralRecipientIdSameAsAdvocate"
    elif found.friend is not None and found.friend != ctx.profile_id:
        reason = "ReferralRecipientDoesNotMatch"
    elif found.start_date is not None and found.start_date > ctx.now:
        reason = "ReferralStartDateInFuture"
    elif found.expiry_date is not None and found.expiry_date <= ctx.now:
        reason = "ReferralExpired"
    elif found.usage_limit and found.usage_counter >= found.usage_limit:
        reason = "ReferralLimitReached"
    if reason is None:
        result.add(where, "acceptReferral", found.code)
        result.discount(where, rule.label, rule.discount)
        result.accepted_referral = found.code
    else:
        result.add(where, "rejectReferral", found.code, reason)
    return True


def _cart_quantity(cart_items: list[dict[str, Any]], sku: str) -> int:
    return sum(int(item.get("quantity", 0)) for item in cart_items if item.get("sku") == sku)
