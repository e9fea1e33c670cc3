"""Loyalty programs, cards and achievements: the request bodies and answers of Talon.One's loyalty and
achievement operations (today's spec, talon_one_openapi-v25.17.0.yaml; the June 2026 split specs alike
but where tests/contract/test_loyalty.py says otherwise).

Requests are strict and open, as every request model (`RequestModel`); answers are tolerant readers
(`ResponseModel`), for library use and the tests: the relay passes Talon.One's answer on as sent. The
spec's `inline_response_200_N` answers are named as the vendor's SDK names them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from talon_relay.wire.base import RequestModel, ResponseModel, examples
from talon_relay.wire.formats import unique_items, uuid_text

# --- requests -------------------------------------------------------------------------------------


#: A card identifier: 4 to 108 of letters, digits and . _ % + @ - (the spec's pattern).
CardIdentifier = Annotated[str, Field(min_length=4, max_length=108, pattern=r"^[A-Za-z0-9._%+@-]+$")]


class ActivateLoyaltyPoints(RequestModel):
    """Pending points activated: those of some transactions, or of a session."""

    model_config = examples(
        {"transactionUUIDs": ["1f0b2c5e-6a7d-4c8e-9f10-2b3c4d5e6f70"]},
        {"sessionId": "s-1"},
    )

    transaction_uuids: (
        Annotated[
            list[Annotated[str, AfterValidator(uuid_text)]],
            Field(min_length=1, max_length=50),
            AfterValidator(unique_items),
        ]
        | None
    ) = Field(default=None, alias="transactionUUIDs")
    session_id: str | None = Field(default=None, min_length=1)


class DeleteLoyaltyTransactionsRequest(RequestModel):
    """A profile's transactions removed from all its ledgers, or from some sub-ledgers."""

    model_config = examples({"scope": "AllSubledgers"}, {"scope": "SelectedSubledgers", "subledgerIds": ["sub-1"]})

    scope: Literal["AllSubledgers", "SelectedSubledgers"]
    subledger_ids: list[str] | None = None


class GenerateLoyaltyCard(RequestModel):
    """A new card of a card-based program, optionally linked to profiles."""

    model_config = examples({"status": "active", "customerProfileIds": ["p-1"]}, {"cardIdentifier": "CARD-0001"})

    status: Literal["active", "inactive"] | None = None
    customer_profile_ids: list[str] | None = None
    card_identifier: CardIdentifier | None = None


class LoyaltyCardRegistration(RequestModel):
    """The profile a card is linked to, or unlinked from."""

    model_config = examples({"integrationId": "p-1"}, {"integrationId": "p-2"})

    integration_id: str


# --- answers: cards and ledgers -------------------------------------------------------------------

_Response = ResponseModel


class LoyaltyCardProfileRegistration(_Response):
    integration_id: str = Field(max_length=1000)
    timestamp: datetime


class LedgerInfo(_Response):
    current_balance: float
    pending_balance: float
    negative_balance: float | None = None
    expired_balance: float
    spent_balance: float
    tentative_current_balance: float
    tentative_pending_balance: float | None = None
    tentative_negative_balance: float | None = None
    current_tier: dict[str, Any] | None = None
    points_to_next_tier: float | None = None
    next_tier_name: str | None = None


class LoyaltyCard(_Response):
    id: int
    created: datetime
    program_id: int = Field(alias="programID")
    program_name: str | None = None
    program_title: str | None = None
    status: str
    block_reason: str | None = None
    identifier: str
    users_per_card_limit: int = Field(ge=0)
    profiles: list[LoyaltyCardProfileRegistration] | None = None
    ledger: LedgerInfo | None = None
    subledgers: dict[str, LedgerInfo] | None = None
    modified: datetime | None = None
    old_card_identifier: str | None = None
    new_card_identifier: str | None = None
    batch_id: str | None = None


class LoyaltyLedgerEntry(_Response):
    created: datetime
    program_id: int = Field(alias="programID")
    customer_profile_id: str | None = Field(default=None, alias="customerProfileID")
    card_id: int | None = Field(default=None, alias="cardID")
    customer_session_id: str | None = Field(default=None, alias="customerSessionID")
    event_id: int | None = Field(default=None, alias="eventID")
    type: str
    amount: float
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    name: str
    sub_ledger_id: str = Field(alias="subLedgerID")
    user_id: int | None = Field(default=None, alias="userID")
    archived: bool | None = None
    flags: dict[str, Any] | None = None
    validity_duration: str | None = None


class ActivateLoyaltyPointsResponse(_Response):
    ledger_entries: list[LoyaltyLedgerEntry] | None = None


class LoyaltyBalance(_Response):
    active_points: float | None = None
    pending_points: float | None = None
    spent_points: float | None = None
    expired_points: float | None = None
    negative_points: float | None = None


class LoyaltyBalanceWithTier(LoyaltyBalance):
    current_tier: dict[str, Any] | None = None
    projected_tier: dict[str, Any] | None = None
    points_to_next_tier: float | None = None
    next_tier_name: str | None = None


class LoyaltyBalancesWithTiers(_Response):
    balance: LoyaltyBalanceWithTier | None = None
    subledger_balances: dict[str, LoyaltyBalanceWithTier] | None = None


class LoyaltyCardBalances(_Response):
    balance: LoyaltyBalance | None = None
    subledger_balances: dict[str, LoyaltyBalance] | None = None
    profiles: list[LoyaltyCardProfileRegistration] | None = None


class _Entry(_Response):
    """What a transaction and a points entry have in common."""

    transaction_uuid: str = Field(alias="transactionUUID")
    created: datetime
    program_id: int
    customer_session_id: str | None = Field(default=None, max_length=255)
    name: str = Field(max_length=255)
    start_date: str = Field(max_length=64)
    expiry_date: str
    subledger_id: str = Field(max_length=64)
    amount: float
    id: int
    validity_duration: str | None = None


class LedgerTransactionLogEntryIntegrationAPI(_Entry):
    type: Literal["addition", "subtraction"]
    ruleset_id: int | None = None
    rule_name: str | None = None
    flags: dict[str, Any] | None = None


class CardLedgerTransactionLogEntryIntegrationAPI(_Entry):
    card_identifier: str
    type: Literal["addition", "subtraction"]
    ruleset_id: int | None = None
    rule_name: str | None = None


class LedgerPointsEntryIntegrationAPI(_Entry):
    pass


class CardLedgerPointsEntryIntegrationAPI(_Entry):
    customer_profile_id: str | None = Field(default=None, alias="customerProfileID")


class GetLoyaltyCardTransactions200Response(_Response):
    has_more: bool
    data: list[CardLedgerTransactionLogEntryIntegrationAPI]


class GetLoyaltyProgramProfileTransactions200Response(_Response):
    has_more: bool
    data: list[LedgerTransactionLogEntryIntegrationAPI]


class GetLoyaltyCardPoints200Response(_Response):
    has_more: bool
    data: list[CardLedgerPointsEntryIntegrationAPI]


class GetLoyaltyProgramProfilePoints200Response(_Response):
    has_more: bool
    data: list[LedgerPointsEntryIntegrationAPI]


# --- answers: achievements ------------------------------------------------------------------------

_Progress = Literal["inprogress", "completed", "expired", "not_started"]
_Recurrence = Literal["no_recurrence", "on_expiration", "on_completion"]
_Activation = Literal["user_action", "fixed_schedule"]


class AchievementProgress(_Response):
    status: _Progress
    progress: float
    start_date: datetime | None = None
    completion_date: datetime | None = None
    end_date: datetime | None = None


class AchievementStatusEntry(_Response):
    id: int
    created: datetime
    name: str = Field(min_length=1, max_length=1000)
    title: str
    description: str
    target: float
    period: str | None = None
    period_end_override: dict[str, Any] | None = None
    recurrence_policy: _Recurrence | None = None
    activation_policy: _Activation | None = None
    fixed_start_date: datetime | None = None
    end_date: datetime | None = None
    allow_rollback_after_completion: bool | None = None
    campaign_id: int | None = None
    status: Literal["active", "scheduled"] | None = None
    current_progress: AchievementProgress | None = None


class GetCustomerAchievements200Response(_Response):
    total_result_size: int
    data: list[AchievementStatusEntry]


class GetCustomerAchievementHistory200Response(_Response):
    total_result_size: int
    data: list[AchievementProgress]
