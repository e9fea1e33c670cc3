"""Pydantic models for every definition the five Integration API operations reach.

Names follow the reference spec (talon_one_swagger-20052019.yaml). Python attributes are snake_case,
the wire names are the spec's camelCase (aliases); both are accepted on input. Request models close
themselves where the spec does (`additionalProperties: false`) and are serialised with only what the
caller set. Response models tolerate fields a newer server adds.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic.alias_generators import to_camel

from talon_relay.effects import Effect, parse_effects

# defer_build: a model's validator is built on first use, so each function builds only its own models.
_COMMON = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)


class _Request(BaseModel):
    """A body the relay sends: open objects forward unknown keys, closed ones refuse them."""

    model_config = ConfigDict(extra="allow", **_COMMON)

    def to_json(self) -> bytes:
        """The exact body bytes to send: camelCase, no null for optionals, RFC 3339 date-times."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class _ClosedRequest(_Request):
    model_config = ConfigDict(extra="forbid", **_COMMON)


class _Response(BaseModel):
    """A body Talon.One returns: extra fields a newer server adds are kept, never an error."""

    model_config = ConfigDict(extra="allow", **_COMMON)

    #: The body exactly as Talon.One sent it, when the model was parsed from a response.
    _raw: bytes | None = PrivateAttr(default=None)

    @classmethod
    def from_response(cls, data: bytes) -> Self:
        model = cls.model_validate_json(data)
        model._raw = data
        return model

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as Talon.One sent it (camelCase), e.g. to pass it on to a caller."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def wire_json(self) -> str:
        """Talon.One's JSON text, byte for byte when it came from a response (a relay adds nothing)."""
        if self._raw is not None:
            return self._raw.decode("utf-8")
        return self.model_dump_json(by_alias=True, exclude_unset=True)


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

    model_config = ConfigDict(extra="allow", **_COMMON)

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


class NewCustomerSession(_ClosedRequest):
    profile_id: str | None = None
    coupon: str | None = None
    referral: str | None = None
    state: SessionState | None = None
    cart_items: list[CartItem] | None = None
    total: float | None = None
    attributes: dict[str, Any] | None = None


class NewCustomerProfile(_Request):
    attributes: dict[str, Any] | None = None


class NewEvent(_ClosedRequest):
    profile_id: str | None = None
    session_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    attributes: dict[str, Any]


class NewReferral(_Request):
    campaign_id: int
    advocate_profile_integration_id: str
    friend_profile_integration_id: str | None = None
    start_date: AwareDatetime | None = None
    expiry_date: AwareDatetime | None = None


# --- responses -------------------------------------------------------------------------------


class LoyaltyMembership(_Response):
    joined: datetime | None = None
    loyalty_program_id: int


class LoyaltyProgramBalance(_Response):
    current_balance: float


class Loyalty(_Response):
    programs: dict[str, LoyaltyProgramBalance]


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
