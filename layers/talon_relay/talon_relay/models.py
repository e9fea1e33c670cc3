"""Pydantic models for every definition the v1 operations reach (names of talon_one_swagger-20052019.yaml,
wire names as aliases); v2 requests are in `models_v2`.

Request models are the strict checker: a body is validated by wire name without coercion (no string
or boolean for a number, no NaN or Infinity, no number for a date-time), and open: unknown fields are
Talon.One's to judge. The relay forwards the caller's bytes, never a re-serialised model. Response
models tolerate what a newer server adds; the relay itself reads only an answer's effects.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from talon_relay.effects import Effect, parse_effects

# defer_build: a model's validator is built on first use, so each function builds only its own models.
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


def _rfc3339(value: str) -> str:
    """An RFC 3339 date-time with its offset, kept as the text the caller sent."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an RFC 3339 date-time such as 2026-05-01T10:00:00Z") from None
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise ValueError("must be an RFC 3339 date-time with a time and an offset, such as 2026-05-01T10:00:00Z")
    return value


#: A date-time in a request: checked, never converted (the relay forwards the caller's text).
DateTime = Annotated[str, AfterValidator(_rfc3339)]


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


class SessionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


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
    quantity: int = Field(ge=1)
    price: float
    category: str | None = None
    weight: float | None = None
    height: float | None = None
    width: float | None = None
    length: float | None = None
    position: float | None = None
    attributes: dict[str, Any] | None = None
    adjustment: CartItemAdjustment | None = None


# --- requests --------------------------------------------------------------------------------


class NewCustomerSession(_Request):
    profile_id: str | None = None
    coupon: str | None = None
    referral: str | None = None
    state: Literal["open", "closed", "cancelled"] | None = None
    cart_items: list[CartItem] | None = None
    total: float | None = None
    attributes: dict[str, Any] | None = None


class NewCustomerProfile(_Request):
    attributes: dict[str, Any] | None = None


class NewEvent(_Request):
    profile_id: str | None = None
    session_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    attributes: dict[str, Any]


class NewReferral(_Request):
    campaign_id: int
    advocate_profile_integration_id: str
    friend_profile_integration_id: str | None = None
    start_date: DateTime | None = None
    expiry_date: DateTime | None = None


# --- responses -------------------------------------------------------------------------------


class LoyaltyMembership(_Response):
    joined: datetime | None = None
    loyalty_program_id: int


class LoyaltyProgramBalance(_Response):
    current_balance: float


class LoyaltyProgramLedgers(_Response):
    """A program as Talon.One answers it since late 2019 (talon_one_openapi-v2.0.0.yaml)."""

    title: str
    name: str
    ledger: dict[str, Any]
    sub_ledgers: dict[str, Any] | None = None


class Loyalty(_Response):
    # 2019: balances; from late 2019: ledgers. A tolerant reader takes either.
    programs: dict[str, LoyaltyProgramBalance | LoyaltyProgramLedgers]


class LedgerEntry(_Response):
    id: int
    created: datetime
    profile_id: str
    account_id: int
    loyalty_program_id: int
    event_id: int
    amount: int
    reason: str
    expiry_date: datetime
    reference_id: int | None = None


CouponRejectionReasonValue = Literal[
    "CouponNotFound",
    "CouponPartOfNotRunningCampaign",
    "CouponLimitReached",
    "CouponRecipientDoesNotMatch",
    "CouponExpired",
    "CouponStartDateInFuture",
    "CouponRejectedByCondition",
]


class CouponRejectionReason(_Response):
    campaign_id: int
    coupon_id: int
    # A newer server may send a reason this spec does not know: keep it as text rather than fail.
    reason: CouponRejectionReasonValue | str


class Meta(_Response):
    campaigns: dict[str, Any] | None = None
    coupons: dict[str, Any] | None = None
    coupon_rejection_reason: CouponRejectionReason | None = None
    warnings: dict[str, Any] | None = None


class CustomerProfile(_Response):
    integration_id: str
    created: datetime
    attributes: dict[str, Any]
    account_id: int
    closed_sessions: int
    total_sales: float
    loyalty_memberships: list[LoyaltyMembership] | None
    last_activity: datetime


class CustomerSession(_Response):
    integration_id: str
    created: datetime
    application_id: int
    profile_id: str
    coupon: str
    referral: str
    state: SessionState | str
    cart_items: list[CartItem]
    total: float
    attributes: dict[str, Any]
    first_session: bool
    discounts: dict[str, float]


class Event(_Response):
    id: int
    created: datetime
    application_id: int
    profile_id: str | None = None
    session_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    attributes: dict[str, Any]
    effects: list[Effect]
    ledger_entries: list[LedgerEntry] | None
    meta: Meta | None = None

    @field_validator("effects", mode="before")
    @classmethod
    def _parse_effects(cls, value: Any) -> list[Effect]:
        return parse_effects(value)


class IntegrationState(_Response):
    session: CustomerSession
    profile: CustomerProfile
    event: Event
    loyalty: Loyalty | None = None


class Referral(_Response):
    id: int
    created: datetime
    campaign_id: int
    advocate_profile_integration_id: str
    friend_profile_integration_id: str | None = None
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    code: str = Field(min_length=4)
    usage_counter: int
    usage_limit: int = Field(ge=0)


# --- errors ----------------------------------------------------------------------------------


class ErrorSource(_Response):
    pointer: str | None = None
    parameter: str | None = None
    line: str | None = None


class APIError(_Response):
    title: str
    details: str | None = None
    source: ErrorSource


class ErrorResponse(_Response):
    message: str
    errors: list[APIError] | None = None
