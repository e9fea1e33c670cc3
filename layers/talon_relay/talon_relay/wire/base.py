"""The bases of the wire models: request and response model configuration, and the parts both use.

`models` (requests, errors), `models_v2` (v2 requests) and `responses` (v1 answers, library use)
build on these. Split so that library use imports only the models it needs (the functions import
none: they check bodies with `checkers`, built from these models).
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from talon_relay.wire.formats import rfc3339

# defer_build: a model's validator is built on first use (library use builds only the models it uses).
_COMMON = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)


#: Strict and open: the checker of a caller's body (see the module docstring).
STRICT = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
    defer_build=True,
    extra="allow",
    strict=True,
    allow_inf_nan=False,
)


def examples(*bodies: dict[str, Any]) -> ConfigDict:
    """A request model's sample bodies (its JSON Schema's `examples`): the bodies of the operation's sample
    events (`make generate`: the API event sends the first, the SQS event one message per body, 2 or 3)."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})


#: An integer as the spec's int64 (ids, positions, quantities): Talon.One refuses one out of range, so a
#: request holding one is refused first, naming the field (never sent, as schemathesis found it was).
INT64_MAX = 2**63 - 1
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]

#: A date-time in a request: checked, never converted (the relay forwards the caller's text).
DateTime = Annotated[str, AfterValidator(rfc3339)]


class _Request(BaseModel):
    """A body a caller sends (see the module docstring)."""

    model_config = STRICT

    def to_json(self) -> bytes:
        """Body bytes for a model built in code (library use): camelCase, no null for optionals."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class _Response(BaseModel):
    """A body Talon.One returns: extra fields a newer server adds are kept, never an error."""

    model_config = ConfigDict(extra="allow", **_COMMON)

    @classmethod
    def from_response(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as Talon.One sent it (camelCase)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


#: The bases of every request and response model (the operation table names these).
RequestModel = _Request
ResponseModel = _Response


# --- shared pieces ---------------------------------------------------------------------------


class CartItemAdjustment(_Response):
    pay_from_loyalty_program: int
    point_payment: int = Field(ge=1)
    remaining_price: float | None = Field(default=None, ge=0)


class CartItem(BaseModel):
    """Used both in requests (NewCustomerSession) and responses (CustomerSession); the spec leaves it open."""

    model_config = STRICT

    name: str = Field(min_length=1)
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1, le=INT64_MAX)  # (a bound of its own: Int64 would drop ge=1)
    price: float
    category: str | None = None
    weight: float | None = None
    height: float | None = None
    width: float | None = None
    length: float | None = None
    position: float | None = None
    attributes: dict[str, Any] | None = None
    adjustment: CartItemAdjustment | None = None
