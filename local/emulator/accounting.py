"""Money and points: checked totals (never a non-finite number), usage counts, the event record.

A float64 sum that overflows is a 400 naming the price (or total) that made it overflow, raised
before anything changed; Talon.One never answers `Infinity`, and neither does the emulator.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from local.emulator.errors import ApiError, json_pointer
from local.emulator.evaluation import Evaluation
from local.emulator.model import SessionChange
from local.emulator.store import EventRecord, Profile, Session, Store, rfc3339


def _overflow(pointer: str) -> ApiError:
    return ApiError(
        400,
        f"Total out of range at {pointer}",
        title="Invalid value",
        details="the sum of the prices does not fit a 64-bit float",
        pointer=pointer,
    )


def add_checked(total: float, amount: float, pointer: str) -> float:
    """total + amount, or a 400 naming `pointer` if a float64 cannot hold it."""
    try:
        result = float(total) + float(amount)
    except OverflowError:
        raise _overflow(pointer) from None
    if not math.isfinite(result):
        raise _overflow(pointer)
    return result


def _line(price: Any, quantity: Any) -> float:
    try:
        return float(price) * float(quantity)
    except OverflowError:
        return math.inf


def _summands(items: Iterable[Mapping[str, Any]], costs: Mapping[str, Any], at: str) -> Iterable[tuple[str, float]]:
    for index, item in enumerate(items):
        yield f"{at}/cartItems/{index}/price", _line(item.get("price", 0), item.get("quantity", 0))
    for name, cost in costs.items():
        price = cost.get("price", 0) if isinstance(cost, Mapping) else 0
        yield f"{at}{json_pointer(['additionalCosts', name, 'price'])}", _line(price, 1)


def cart_total(items: Iterable[Mapping[str, Any]], costs: Mapping[str, Any], *, at: str = "") -> float:
    """Sum of price x quantity of the items plus the additional costs' prices (checked)."""
    total = 0.0
    for pointer, amount in _summands(items, costs, at):
        if not math.isfinite(amount):
            raise _overflow(pointer)
        total = add_checked(total, amount, pointer)
    return total


def new_total_of(session: Session | None, change: SessionChange) -> float | None:
    """The session's total after the change (None: unchanged); a 400 if it overflows."""
    if change.total is not None:
        return change.total
    if change.cart_items is None and change.additional_costs is None:
        return None
    items = change.cart_items if change.cart_items is not None else (session.cart_items if session else [])
    costs = change.additional_costs
    if costs is None:
        costs = session.additional_costs if session else {}
    return cart_total(items, costs, at=change.at)


def cart_item_total(items: Iterable[Mapping[str, Any]]) -> float:
    return sum((_line(item.get("price", 0), item.get("quantity", 0)) for item in items), 0.0)


def additional_cost_total(costs: Mapping[str, Any]) -> float:
    return sum((float(cost.get("price", 0)) for cost in costs.values() if isinstance(cost, Mapping)), 0.0)


def count_usage(store: Store, session: Session, evaluation: Evaluation) -> None:
    """A closing session uses the coupon codes and the referral code it had accepted."""
    for code in evaluation.accepted_coupons:
        if code not in session.used_coupons:
            store.coupon_usage[code] = store.coupon_usage.get(code, 0) + 1
            session.used_coupons.append(code)
    referral = evaluation.accepted_referral
    if referral and session.used_referral != referral:
        store.referrals[referral].usage_counter += 1
        session.used_referral = referral


def record_event(
    store: Store,
    event_type: str,
    session: Session,
    profile: Profile,
    attributes: dict[str, Any],
    application_id: int,
    now: datetime,
    evaluation: Evaluation,
    card_programs: frozenset[int] = frozenset(),
) -> EventRecord:
    """The event of an evaluation, stored: its points credited to an identified profile's ledger (not
    pending points, nor those of a card-based program: ledgers.py keeps them)."""
    event_id = store.next_event_id
    store.next_event_id += 1
    ledger: list[dict[str, Any]] = []
    for points in evaluation.points if profile.integration_id else []:
        if points.pending_days or points.program_id in card_programs:
            continue
        profile.balances[points.program_id] = profile.balances.get(points.program_id, 0.0) + points.points
        profile.memberships.setdefault(points.program_id, now)
        ledger.append(
            {
                "id": store.next_ledger_id,
                "created": rfc3339(now),
                "profileId": profile.integration_id,
                "accountId": profile.account_id,
                "loyaltyProgramId": points.program_id,
                "eventId": event_id,
                "amount": points.points,
                "reason": points.reason,
                "expiryDate": rfc3339(now + timedelta(days=points.expiry_days)),
            }
        )
        store.next_ledger_id += 1
    meta = None
    if evaluation.coupon_rejection is not None:
        meta = {"couponRejectionReason": evaluation.coupon_rejection}
    event = EventRecord(
        id=event_id,
        created=now,
        application_id=application_id,
        profile_id=session.profile_id,
        session_id=session.integration_id,
        type=event_type,
        attributes=attributes,
        effects=evaluation.effects,
        ledger_entries=ledger,
        meta=meta,
    )
    store.events.append(event)
    return event
