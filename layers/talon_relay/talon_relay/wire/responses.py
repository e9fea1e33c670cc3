"""Pydantic models of the v1 answers (IntegrationState, Referral and their parts), for library use.

The relay itself never validates an answer: it reads the effects (`effects.effects_of`) and passes
the answer on as sent. These models serve `IntegrationClient`'s typed methods, the emulator and the
tests; `models` re-exports them under their old names, imported on first use.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator

from talon_relay.wire.base import CartItem, ResponseModel
from talon_relay.wire.effects import Effect, parse_effects

_Response = ResponseModel


class SessionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


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
