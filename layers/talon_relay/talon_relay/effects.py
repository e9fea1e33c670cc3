"""Effects Talon.One returns, in either wire form, and the one place they are logged.

v1 (this API version) sends `[campaignId, rulesetId, ruleIndex, [effectName, *args]]`; v2 sends
`{campaignId, rulesetId, ruleIndex, ruleName, effectType, props}`. `Effect` reads both, keeps effects
it does not know, and never fails on a malformed one: that is kept raw and logged as a warning, since
losing the rest of an IntegrationState over one odd effect would be worse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, model_serializer

from talon_relay.observability import emit_count, logger

if TYPE_CHECKING:
    from talon_relay.models import IntegrationState

# v1 argument order of the effects we name (after the effect name).
_V1_ARGS: dict[str, tuple[str, ...]] = {
    "setDiscount": ("name", "value"),
    "acceptCoupon": ("value",),
    "rejectCoupon": ("value", "rejectionReason"),
    "acceptReferral": ("value",),
    "rejectReferral": ("value", "rejectionReason"),
    "addFreeItem": ("sku", "name"),
    "addLoyaltyPoints": ("programId", "value", "name"),
}


class Discount(NamedTuple):
    label: str
    amount: float


class FreeItem(NamedTuple):
    sku: str
    name: str


class LoyaltyPoints(NamedTuple):
    program_id: Any
    points: float
    reason: str | None


class Effect(BaseModel):
    """One effect, whichever form it arrived in. Serialises back to exactly what was received."""

    model_config = ConfigDict(frozen=True)

    name: str
    campaign_id: int | None = None
    ruleset_id: int | None = None
    rule_index: int | None = None
    rule_name: str | None = None
    args: tuple[Any, ...] = ()
    props: dict[str, Any] = {}
    raw: Any = None
    malformed: bool = False

    @classmethod
    def parse(cls, raw: Any) -> Effect:
        if isinstance(raw, Effect):
            return raw
        try:
            if isinstance(raw, list | tuple):
                return cls._from_v1(raw)
            if isinstance(raw, dict):
                return cls._from_v2(raw)
        except (TypeError, ValueError, LookupError, OverflowError):
            pass
        logger.warning("malformed effect kept as raw", extra={"effect_kind": type(raw).__name__})
        return cls(name="MalformedEffect", raw=raw, malformed=True)

    @classmethod
    def _from_v1(cls, raw: list[Any] | tuple[Any, ...]) -> Effect:
        campaign_id, ruleset_id, rule_index, body = raw
        if not isinstance(body, list | tuple) or not body or not isinstance(body[0], str):
            raise ValueError("effect body is not [name, *args]")
        name, *args = body
        keys = _V1_ARGS.get(name, ())
        props = {key: value for key, value in zip(keys, args, strict=False)}
        return cls(
            name=name,
            campaign_id=_int(campaign_id),
            ruleset_id=_int(ruleset_id),
            rule_index=_int(rule_index),
            args=tuple(args),
            props=props,
            raw=raw,
        )

    @classmethod
    def _from_v2(cls, raw: dict[str, Any]) -> Effect:
        name = raw["effectType"]
        if not isinstance(name, str) or not name:
            raise ValueError("effectType must be a non-empty string")
        props = raw.get("props") or {}
        if not isinstance(props, dict):
            raise ValueError("props must be an object")
        keys = _V1_ARGS.get(name, ())
        return cls(
            name=name,
            campaign_id=_int(raw.get("campaignId")),
            ruleset_id=_int(raw.get("rulesetId")),
            rule_index=_int(raw.get("ruleIndex")),
            rule_name=raw.get("ruleName"),
            args=tuple(props.get(key) for key in keys) if keys else tuple(props.values()),
            props=props,
            raw=raw,
        )

    @model_serializer(mode="plain")
    def _wire(self) -> Any:
        return self.raw

    # --- named accessors; None when the effect is of another kind --------------------------

    @property
    def discount(self) -> Discount | None:
        if self.name != "setDiscount":
            return None
        return Discount(str(self.props.get("name", "")), float(self.props.get("value", 0)))

    @property
    def coupon_code(self) -> str | None:
        """The code of an acceptCoupon or rejectCoupon effect."""
        if self.name not in ("acceptCoupon", "rejectCoupon"):
            return None
        return _str_or_none(self.props.get("value"))

    @property
    def referral_code(self) -> str | None:
        """The code of an acceptReferral or rejectReferral effect."""
        if self.name not in ("acceptReferral", "rejectReferral"):
            return None
        return _str_or_none(self.props.get("value"))

    @property
    def free_item(self) -> FreeItem | None:
        if self.name != "addFreeItem":
            return None
        return FreeItem(str(self.props.get("sku", "")), str(self.props.get("name", "")))

    @property
    def loyalty_points(self) -> LoyaltyPoints | None:
        if self.name != "addLoyaltyPoints":
            return None
        return LoyaltyPoints(
            self.props.get("programId"),
            float(self.props.get("value", 0)),
            _str_or_none(self.props.get("name")),
        )


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("id must be a number")
    return int(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_effects(value: Any) -> list[Effect]:
    """Parse a wire `effects` array; a non-list is an error of the response, not of an effect."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("effects must be an array")
    return [Effect.parse(item) for item in value]


def log_effects(
    state: IntegrationState,
    *,
    operation: str,
    correlation_id: str | None = None,
) -> list[Effect]:
    """Log one structured line and emit one metric per effect; attributes are never logged."""
    session_id = state.session.integration_id
    profile_id = state.profile.integration_id
    effects = state.event.effects
    for effect in effects:
        logger.info(
            "effect",
            extra={
                "effect": effect.name,
                "campaign_id": effect.campaign_id,
                "ruleset_id": effect.ruleset_id,
                "rule_index": effect.rule_index,
                "rule_name": effect.rule_name,
                # Named effects' arguments (labels, codes, SKUs, points) only: other effects, such as
                # updateAttributeValue or a webhook's payload, can carry customer data.
                "arguments": list(effect.args) if effect.name in _V1_ARGS else None,
                "argument_count": len(effect.args),
                "malformed": effect.malformed,
                "operation": operation,
                "session_id": session_id,
                "profile_id": profile_id,
                "correlation_id": correlation_id,
            },
        )
    counts: dict[str, int] = {}
    for effect in effects:
        counts[effect.name] = counts.get(effect.name, 0) + 1
    for name, count in counts.items():
        emit_count(name, count, operation=operation)
    return effects
