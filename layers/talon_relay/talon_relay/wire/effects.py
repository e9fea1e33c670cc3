"""Effects Talon.One returns, in either wire form (parsing only; `observability` logs them).

v1 (this API version) sends `[campaignId, rulesetId, ruleIndex, [effectName, *args]]`; v2 sends
`{campaignId, rulesetId, ruleIndex, ruleName, effectType, props}`. `Effect` reads both, keeps effects
it does not know, and never fails on a malformed one: that is kept raw (and logged as such), since
losing the rest of an IntegrationState over one odd effect would be worse. Logging them is
`observability.log_effects`: this module is part of the wire models and logs nothing.

`Effect` is a plain frozen dataclass, read by hand (every field is checked as it is read), not a
pydantic model: an answer's effects are parsed on every call, and a model instance costs several
times as much to build. The response models still hold it (`list[Effect]`): pydantic parses with
`Effect.parse` and serialises an effect back to the wire form it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_core import core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler

#: v1 argument order of the effects the relay names (after the effect name). Only these effects'
#: arguments are ever logged: others (updateAttributeValue, webhooks) can carry customer data.
NAMED_ARGS: dict[str, tuple[str, ...]] = {
    "setDiscount": ("name", "value"),
    "acceptCoupon": ("value",),
    "rejectCoupon": ("value", "rejectionReason"),
    "acceptReferral": ("value",),
    "rejectReferral": ("value", "rejectionReason"),
    "addFreeItem": ("sku", "name"),
    "addLoyaltyPoints": ("programId", "value", "name"),
    # v2 effect types (props by name; the v1 order is kept for the ones v1 already had)
    "setDiscountPerItem": ("name", "value", "position"),
    "deductLoyaltyPoints": ("programId", "value", "name"),
    "redeemReferral": ("value",),
    "couponCreated": ("value",),
    "referralCreated": ("value",),
}


@dataclass(frozen=True, slots=True)
class Effect:
    """One effect, whichever form it arrived in. Serialises back to exactly what was received."""

    name: str
    campaign_id: int | None = None
    ruleset_id: int | None = None
    rule_index: int | None = None
    rule_name: str | None = None
    args: tuple[Any, ...] = ()
    props: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    malformed: bool = False

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """In a model: any wire value becomes an Effect (Effect.parse), an Effect goes back as it came."""
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(cls.to_wire)
        )

    def to_wire(self) -> Any:
        """Exactly what was received."""
        return self.raw

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
        return cls(name="MalformedEffect", raw=raw, malformed=True)

    @classmethod
    def _from_v1(cls, raw: list[Any] | tuple[Any, ...]) -> Effect:
        campaign_id, ruleset_id, rule_index, body = raw
        if not isinstance(body, list | tuple) or not body or not isinstance(body[0], str):
            raise ValueError("effect body is not [name, *args]")
        name, *args = body
        keys = NAMED_ARGS.get(name, ())
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
        rule_name = raw.get("ruleName")
        if rule_name is not None and not isinstance(rule_name, str):
            raise ValueError("ruleName must be a string")
        keys = NAMED_ARGS.get(name, ())
        return cls(
            name=name,
            campaign_id=_int(raw.get("campaignId")),
            ruleset_id=_int(raw.get("rulesetId")),
            rule_index=_int(raw.get("ruleIndex")),
            rule_name=rule_name,
            args=tuple([props.get(key) for key in keys]) if keys else tuple(props.values()),
            props=props,
            raw=raw,
        )


def _int(value: Any) -> int | None:
    if type(value) is int:  # the common case first: an effect's ids are parsed on every call
        return value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("id must be a number")
    return int(value)


def parse_effects(value: Any) -> list[Effect]:
    """Parse a wire `effects` array; a non-list is an error of the response, not of an effect."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("effects must be an array")
    return [Effect.parse(item) for item in value]


def effects_of(answer: Any, path: tuple[str, ...]) -> list[Effect]:
    """The effects in a parsed answer at `path`, whatever else the answer holds or lacks."""
    node = answer
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return [Effect.parse(item) for item in node] if isinstance(node, list) else []


def text_at(answer: Any, path: tuple[str, ...]) -> str | None:
    """A string in a parsed answer at `path` (e.g. the session's id), None when it is not there."""
    node = answer
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) else None


def application_of(answer: Any) -> int | None:
    """The Talon.One application an answer names (a v2 answer's session or profile), None if none."""
    for path in (
        ("customerSession", "applicationId"),
        ("session", "applicationId"),
        ("customerProfile", "applicationId"),
    ):
        node = answer
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, int) and not isinstance(node, bool):
            return node
    return None
