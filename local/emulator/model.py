"""What the API adapters (`answers_v1`, `answers_v2`) and the `Backend` hand each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.emulator.evaluation import Evaluation
from local.emulator.store import EventRecord, Profile, ReferralRecord, Session


@dataclass
class SessionChange:
    """What a session update asks for; None = not sent. `at` prefixes the body pointers."""

    profile_id: str | None = None
    coupons: list[str] | None = None
    referral: str | None = None
    state: str | None = None
    cart_items: list[dict[str, Any]] | None = None
    #: v1 `total`; without it the total is the cart's (plus v2 additional costs)
    total: float | None = None
    additional_costs: dict[str, Any] | None = None
    identifiers: list[str] | None = None
    attributes: dict[str, Any] | None = None
    at: str = ""
    #: pointer named when closing would overflow the profile's totalSales
    total_pointer: str = "/total"

    @property
    def changes_cart(self) -> bool:
        """Whether it changes what the session holds (a session that is not open takes no such change)."""
        fields = (self.coupons, self.referral, self.cart_items, self.total, self.additional_costs)
        return any(value is not None for value in fields)


@dataclass
class Options:
    """Per-request switches of v2: the moment to evaluate at, and the campaigns to run."""

    now: datetime | None = None
    campaign_ids: frozenset[int] | None = None


@dataclass
class Result:
    """What an operation touched, for the answer shapers and the request log."""

    status: int
    profile: Profile | None = None
    session: Session | None = None
    event: EventRecord | None = None
    evaluation: Evaluation = field(default_factory=Evaluation)
    referral: ReferralRecord | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def effect_names(self) -> list[str]:
        return self.evaluation.effect_names


@dataclass
class Outcome:
    """What an operation answers, plus the effect names the request log and the logger show."""

    status: int
    #: a JSON object, or a list (bestPriorPrice answers an array); None: no body
    body: dict[str, Any] | list[Any] | None
    effects: list[str] = field(default_factory=list)
