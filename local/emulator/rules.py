"""Campaign rules of the emulator: the rules file format (evaluation is `local.emulator.evaluation`).

A rules file (JSON, or YAML when the name ends in .yaml/.yml) holds campaigns; each campaign holds
rules, and a rule's index in its campaign is the `ruleIndex` of the effects it produces. v1 answers
carry effects as `[campaignId, rulesetId, ruleIndex, [effectName, *args]]`; v2 answers carry the same
effects typed: `{campaignId, rulesetId, ruleIndex, ruleName, effectType, props}`, where `ruleName` is
the rule's optional `name` (default: its campaign's `name`). Optional `loyaltyPrograms`
(`[{"id", "name", "title", "cardBased"}]`) name the programs in loyalty answers of the ledgers shape and
are the programs the loyalty operations know (ledgers.py); optional `achievements` (`[{"id", "campaignId",
"name", "title", "description", "eventType", "target"}]`) are counted from a profile's events.

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
  entry expiring after `expiryDays` (pending for `pendingDays` first, default 0; a card-based program's
  points go to the profile's linked card).
- `freeItem`: the cart holds an item with `sku` (quantity >= `minQuantity`, default 1) ->
  `addFreeItem [freeSku, freeName]`.

v2 `props` of each effect: acceptCoupon/acceptReferral `{value}`, rejectCoupon/rejectReferral
`{value, rejectionReason}`, setDiscount `{name, value}`, addFreeItem `{sku, name}`, addLoyaltyPoints
`{name, programId, subLedgerId: "", value, recipientIntegrationId, transactionUUID, expiryDate}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.json")

_R = TypeVar("_R")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", allow_inf_nan=False)


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
    #: the v2 effects' ruleName (default: the campaign's name)
    name: str | None = None
    codes: list[CouponCode] = Field(min_length=1)


class CartTotalRule(_Model):
    type: Literal["cartTotal"]
    #: the v2 effects' ruleName (default: the campaign's name)
    name: str | None = None
    threshold: float
    label: str = Field(min_length=1)
    discount: float = Field(ge=0)


class ReferralRule(_Model):
    type: Literal["referral"]
    #: the v2 effects' ruleName (default: the campaign's name)
    name: str | None = None
    label: str = Field(min_length=1)
    discount: float = Field(ge=0)
    usage_limit: int = Field(default=1, ge=0)


class EventRule(_Model):
    type: Literal["event"]
    #: the v2 effects' ruleName (default: the campaign's name)
    name: str | None = None
    event_type: str = Field(min_length=1)
    program_id: int
    points: int = Field(ge=1)
    reason: str = Field(min_length=1)
    expiry_days: int = Field(default=365, ge=1)
    #: points pending this many days before they count (activateLoyaltyPoints activates them at once)
    pending_days: int = Field(default=0, ge=0)


class FreeItemRule(_Model):
    type: Literal["freeItem"]
    #: the v2 effects' ruleName (default: the campaign's name)
    name: str | None = None
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


class LoyaltyProgram(_Model):
    id: int
    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    #: points on loyalty cards (linked to profiles), not on profiles
    card_based: bool = False


class Achievement(_Model):
    """A profile's progress toward `target` events of `eventType` in `campaignId` (achievements.py)."""

    id: int
    campaign_id: int
    name: str = Field(pattern=r"^[a-zA-Z]\w+$")
    title: str = Field(min_length=1)
    description: str = ""
    event_type: str = Field(min_length=1)
    target: int = Field(ge=1)


class RulesConfig(_Model):
    account_id: int = Field(default=1, ge=1)
    #: applicationId of what an API key creates (a signed request uses its signer's id)
    application_id: int = Field(default=1, ge=1)
    campaigns: list[Campaign] = Field(default_factory=list)
    loyalty_programs: list[LoyaltyProgram] = Field(default_factory=list)
    achievements: list[Achievement] = Field(default_factory=list)

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

    def rule_name(self, campaign_id: int, rule_index: int) -> str:
        """The v2 `ruleName` of an effect: the rule's name, else its campaign's ("" if unknown)."""
        campaign = self.campaign(campaign_id)
        if campaign is None:
            return ""
        rule = campaign.rules[rule_index] if 0 <= rule_index < len(campaign.rules) else None
        return (rule.name if rule is not None else None) or campaign.name

    def loyalty_program(self, program_id: int) -> LoyaltyProgram:
        """The named program, or a default name and title for it."""
        found = next((p for p in self.loyalty_programs if p.id == program_id), None)
        return found or LoyaltyProgram(id=program_id, name=f"program-{program_id}", title=f"Program {program_id}")


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
