"""Campaign rules of the emulator: the rules file format and its evaluation into v1 effects.

A rules file (JSON, or YAML when the name ends in .yaml/.yml) holds campaigns; each campaign holds
rules, and a rule's index in its campaign is the `ruleIndex` of the effects it produces. Effects are
the v1 wire form `[campaignId, rulesetId, ruleIndex, [effectName, *args]]`.

```json
{
  "accountId": 1,
  "applicationId": 1,
  "campaigns": [
    {"id": 1, "name": "Coupons", "rulesetId": 11, "active": true, "rules": [
      {"type": "coupon", "codes": [
        {"code": "WELCOME10", "label": "Welcome 10", "discount": 10, "usageLimit": 1}]}]},
    {"id": 2, "name": "Big cart", "rulesetId": 12, "rules": [
      {"type": "cartTotal", "threshold": 100, "label": "Big cart", "discount": 15}]},
    {"id": 3, "name": "Refer a friend", "rulesetId": 13, "rules": [
      {"type": "referral", "label": "Referral", "discount": 5, "usageLimit": 1}]},
    {"id": 4, "name": "Loyalty", "rulesetId": 14, "rules": [
      {"type": "event", "eventType": "purchase", "programId": 1, "points": 10,
       "reason": "Purchase", "expiryDays": 365}]},
    {"id": 5, "name": "Gift", "rulesetId": 15, "rules": [
      {"type": "freeItem", "sku": "SKU-CAMERA", "freeSku": "SKU-STRAP", "freeName": "Strap"}]}
  ]
}
```

Rule types and what they produce:

- `coupon`: the session's `coupon` is one of `codes` -> `acceptCoupon [code]` and
  `setDiscount [label, discount]`; exhausted (`usageLimit` > 0 reached) -> `rejectCoupon [code,
  "CouponLimitReached"]`; a code no coupon rule knows -> `rejectCoupon [code, "CouponNotFound"]`
  (from the first coupon rule, or `[0, 0, 0, ...]` without one); a code of an inactive campaign ->
  `"CouponPartOfNotRunningCampaign"`. A coupon is *used* when a session that accepted it is
  closed; a session that used a code keeps it accepted afterwards.
- `cartTotal`: session `total` >= `threshold` -> `setDiscount [label, discount]`.
- `referral`: the session's `referral` is a code made by createReferral for this campaign ->
  `acceptReferral [code]` and `setDiscount [label, discount]`, otherwise `rejectReferral [code,
  reason]` (ReferralNotFound, ReferralPartOfNotRunningCampaign, ReferralLimitReached,
  ReferralRecipientIdSameAsAdvocate, ReferralRecipientDoesNotMatch, ReferralExpired,
  ReferralStartDateInFuture). `usageLimit` (default 1, 0 = unlimited) is copied into each referral
  created for the campaign; usage is counted when the session closes, like coupons.
- `event`: the event's type is `eventType` and the profile is identified (not anonymous) ->
  `addLoyaltyPoints [programId, points, reason]`, credited to the profile's balance with a ledger
  entry expiring after `expiryDays`.
- `freeItem`: the cart holds an item with `sku` (quantity >= `minQuantity`, default 1) ->
  `addFreeItem [freeSku, freeName]`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.json")

_R = TypeVar("_R")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CouponCode(_Model):
    code: str = Field(min_length=1)
    label: str | None = None
    discount: float = Field(ge=0)
    #: 0 = unlimited
    usage_limit: int = Field(default=0, ge=0)
    #: the couponId of CouponRejectionReason; assigned in file order when omitted
    id: int | None = None

    @property
    def discount_label(self) -> str:
        return self.label or f"Coupon {self.code}"


class CouponRule(_Model):
    type: Literal["coupon"]
    codes: list[CouponCode] = Field(min_length=1)


class CartTotalRule(_Model):
    type: Literal["cartTotal"]
    threshold: float
    label: str = Field(min_length=1)
    discount: float = Field(ge=0)


class ReferralRule(_Model):
    type: Literal["referral"]
    label: str = Field(min_length=1)
    discount: float = Field(ge=0)
    usage_limit: int = Field(default=1, ge=0)


class EventRule(_Model):
    type: Literal["event"]
    event_type: str = Field(min_length=1)
    program_id: int
    points: int = Field(ge=1)
    reason: str = Field(min_length=1)
    expiry_days: int = Field(default=365, ge=1)


class FreeItemRule(_Model):
    type: Literal["freeItem"]
    sku: str = Field(min_length=1)
    min_quantity: int = Field(default=1, ge=1)
    free_sku: str = Field(min_length=1)
    free_name: str = Field(min_length=1)


Rule = Annotated[
    CouponRule | CartTotalRule | ReferralRule | EventRule | FreeItemRule,
    Field(discriminator="type"),
]


class Campaign(_Model):
    id: int = Field(ge=1)
    name: str = ""
    ruleset_id: int = Field(ge=1)
    active: bool = True
    rules: list[Rule] = Field(default_factory=list)


class RulesConfig(_Model):
    account_id: int = Field(default=1, ge=1)
    #: applicationId of what an API key creates (a signed request uses its signer's id)
    application_id: int = Field(default=1, ge=1)
    campaigns: list[Campaign] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RulesConfig:
        ids = [c.id for c in self.campaigns]
        if len(ids) != len(set(ids)):
            raise ValueError("campaign ids must be unique")
        seen: set[str] = set()
        next_id = 1
        taken = {code.id for _, _, rule in self.rules_of(CouponRule) for code in rule.codes}
        for _, _, rule in self.rules_of(CouponRule):
            for code in rule.codes:
                if code.code in seen:
                    raise ValueError(f"coupon code {code.code!r} appears twice")
                seen.add(code.code)
                if code.id is None:
                    while next_id in taken:
                        next_id += 1
                    code.id = next_id
                    taken.add(next_id)
        return self

    def rules_of(self, kind: type[_R]) -> list[tuple[Campaign, int, _R]]:
        """(campaign, ruleIndex, rule) of every rule of one kind, in file order."""
        return [
            (campaign, index, rule)
            for campaign in self.campaigns
            for index, rule in enumerate(campaign.rules)
            if isinstance(rule, kind)
        ]

    def campaign(self, campaign_id: int) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)


def load_rules(source: RulesConfig | Mapping[str, Any] | str | Path | None = None) -> RulesConfig:
    """Rules from a model, a mapping, or a file path (None: the shipped default_rules.json)."""
    if isinstance(source, RulesConfig):
        return source
    if source is None:
        source = DEFAULT_RULES_FILE
    if isinstance(source, Mapping):
        return RulesConfig.model_validate(dict(source))
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped, unused-ignore]

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    return RulesConfig.model_validate(data)


# --- evaluation ------------------------------------------------------------------------------


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
    coupon: str
    referral: str
    cart_items: list[dict[str, Any]]
    total: float
    now: datetime
    coupon_usage: Mapping[str, int]
    find_referral: Callable[[str], ReferralView | None]
    #: codes this session already used (at its close): they stay accepted
    used_coupon: str | None = None
    used_referral: str | None = None


@dataclass(frozen=True)
class Points:
    campaign_id: int
    program_id: int
    points: int
    reason: str
    expiry_days: int


@dataclass
class Evaluation:
    effects: list[list[Any]] = field(default_factory=list)
    discounts: dict[str, float] = field(default_factory=dict)
    points: list[Points] = field(default_factory=list)
    accepted_coupon: str | None = None
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
    coupon_handled = referral_handled = False
    for campaign in rules.campaigns:
        for index, rule in enumerate(campaign.rules):
            where = (campaign.id, campaign.ruleset_id, index)
            if isinstance(rule, CouponRule):
                coupon_handled |= _coupon(campaign, where, rule, ctx, result)
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
                result.points.append(Points(campaign.id, rule.program_id, rule.points, rule.reason, rule.expiry_days))
    if ctx.coupon and not coupon_handled:
        first = rules.rules_of(CouponRule)
        where = (first[0][0].id, first[0][0].ruleset_id, first[0][1]) if first else _NOWHERE
        result.add(where, "rejectCoupon", ctx.coupon, "CouponNotFound")
        result.coupon_rejection = {"campaignId": where[0], "couponId": 0, "reason": "CouponNotFound"}
    if ctx.referral and not referral_handled:
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
    return result


def _coupon(
    campaign: Campaign,
    where: tuple[int, int, int],
    rule: CouponRule,
    ctx: Context,
    result: Evaluation,
) -> bool:
    """Handle the session's coupon if this rule knows it; True when it did."""
    code = next((c for c in rule.codes if c.code == ctx.coupon), None) if ctx.coupon else None
    if code is None:
        return False
    reason: str | None = None
    if not campaign.active:
        reason = "CouponPartOfNotRunningCampaign"
    elif ctx.used_coupon != code.code and code.usage_limit and ctx.coupon_usage.get(code.code, 0) >= code.usage_limit:
        reason = "CouponLimitReached"
    if reason is None:
        result.add(where, "acceptCoupon", code.code)
        result.discount(where, code.discount_label, code.discount)
        result.accepted_coupon = code.code
    else:
        result.add(where, "rejectCoupon", code.code, reason)
        result.coupon_rejection = {
            "campaignId": campaign.id,
            "couponId": code.id or 0,
            "reason": reason,
        }
    return True


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
