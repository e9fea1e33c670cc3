"""An order's later life (June 2026 split specs): returns, reopening, cancelling, advanced (v3) events.

The session state machine (`TRANSITIONS`): open->closed, open->cancelled, closed->cancelled (update),
closed->partially_returned and partially_returned->partially_returned (returns only), closed->open
(reopen only), partially_returned->cancelled (update). Anything else is a 400 "Cannot move session to
state <new> from state <current>", raised before anything changed.

Money going back, the emulator's model of it (kept on the session as `lifecycle`):

- Points a session earned are those of the advanced events connected to it (`connectedSessionId`).
- A return (per line: `position`, or `sku`; `quantity`, default what remains of the line) takes the lines'
  value off the session's total and the profile's sales, and deducts the session's points in
  proportion to that value (the rest of them once nothing remains): `rollbackAddedLoyaltyPoints`.
  The rules run again on what remains; a discount that shrank or went is `rollbackDiscount`.
- Cancelling a closed or partially returned session rolls back everything that is left: its points,
  its discounts, its coupons' and referral's usage (`rollbackCoupon`, `rollbackReferral`), its sales.
- Reopening a closed session rolls back the same (event `talon_session_reopened`); closing it again
  counts it again, its connected events' points credited anew.
- A return with an `Idempotency-Key` is answered from its first answer for 24 hours (the same key with
  another body or session: 400), never applied twice.
- An advanced event is registered once per `integrationId`: a repeat is answered 200 with the first
  event, nothing evaluated; `connectedSessionId` must name a closed session of the same profile.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from local.emulator.errors import ApiError
from local.emulator.evaluation import Evaluation
from local.emulator.model import Result
from local.emulator.store import EventRecord, Profile, Session, Store

#: (current, new) moves an update may make besides staying in the same state.
UPDATE_TRANSITIONS = frozenset(
    {("open", "closed"), ("open", "cancelled"), ("closed", "cancelled"), ("partially_returned", "cancelled")}
)
#: Every move of the state machine, and what makes it.
TRANSITIONS = {
    **{move: "update" for move in UPDATE_TRANSITIONS},
    ("closed", "partially_returned"): "return",
    ("partially_returned", "partially_returned"): "return",
    ("closed", "open"): "reopen",
}
IDEMPOTENCY_HOURS = 24
MAX_IDEMPOTENCY_KEY = 255


def refused(current: str, new: str, pointer: str) -> ApiError:
    return ApiError(
        400,
        f"Cannot move session to state {new} from state {current}",
        title="Invalid state transition",
        details="allowed: open->closed, open->cancelled, closed->cancelled, closed->partially_returned (returns),"
        " closed->open (reopen), partially_returned->cancelled",
        pointer=pointer,
    )


def check_update(current: str, new: str | None, pointer: str) -> None:
    """An update's move (`state` None: the session stays as it is, but only an open one takes changes)."""
    if new is None or (new == current and current == "open") or (current, new) in UPDATE_TRANSITIONS:
        return
    if new == current:  # closed->closed: the same state again, nothing more to change
        return
    raise refused(current, new, pointer)


def _life(session: Session) -> dict[str, Any]:
    return session.lifecycle


def _effect(evaluation: Evaluation, name: str, *args: Any) -> None:
    evaluation.effects.append([0, 0, 0, [name, *args]])


def on_closed(store: Store, session: Session, now: datetime) -> None:
    """A session closed (again): its total remembered, the points a reopen took credited anew."""
    life = _life(session)
    life["closedTotal"] = session.total
    suspended: dict[str, float] = life.pop("suspendedPoints", {})
    profile = store.profiles.get(session.profile_id)
    if profile is None:
        return
    awarded: dict[str, float] = life.setdefault("awardedPoints", {})
    for program, points in suspended.items():
        profile.balances[int(program)] = profile.balances.get(int(program), 0.0) + points
        awarded[program] = awarded.get(program, 0.0) + points
        if store.ledgers.of_profile(int(program), profile.integration_id):
            store.ledgers.credit(
                program_id=int(program),
                amount=points,
                name="Session closed again",
                now=now,
                uuid=str(uuid4()),
                profile_id=profile.integration_id,
                session_id=session.integration_id,
            )


def connect(session: Session, evaluation: Evaluation) -> None:
    """An advanced event's points, counted as the connected session's."""
    awarded: dict[str, float] = _life(session).setdefault("awardedPoints", {})
    for points in evaluation.points:
        awarded[str(points.program_id)] = awarded.get(str(points.program_id), 0.0) + points.points


def _take_points(store: Store, session: Session, share: float | None, evaluation: Evaluation, now: datetime) -> None:
    """Deduct `share` of what remains of the session's points (None: all of it), from the profile's balance
    and its ledger (what getLoyaltyBalances reads)."""
    awarded: dict[str, float] = _life(session).setdefault("awardedPoints", {})
    profile = store.profiles.get(session.profile_id)
    for program, points in sorted(awarded.items()):
        taken = points if share is None else points * share
        if taken <= 0:
            continue
        awarded[program] = points - taken
        if profile is not None:
            profile.balances[int(program)] = profile.balances.get(int(program), 0.0) - taken
            store.ledgers.roll_back(
                program_id=int(program),
                amount=taken,
                profile_id=profile.integration_id,
                session_id=session.integration_id,
                now=now,
            )
        _effect(evaluation, "rollbackAddedLoyaltyPoints", int(program), taken)


def _roll_back_usage(store: Store, session: Session, evaluation: Evaluation) -> None:
    for code in session.used_coupons:
        store.coupon_usage[code] = max(store.coupon_usage.get(code, 0) - 1, 0)
        _effect(evaluation, "rollbackCoupon", code)
    session.used_coupons = []
    if session.used_referral:
        store.referrals[session.used_referral].usage_counter -= 1
        _effect(evaluation, "rollbackReferral", session.used_referral)
        session.used_referral = None


def _roll_back_discounts(session: Session, remaining: dict[str, float], evaluation: Evaluation) -> None:
    for name, value in sorted(session.discounts.items()):
        gone = value - remaining.get(name, 0.0)
        if gone > 0:
            _effect(evaluation, "rollbackDiscount", name, gone)
    session.discounts = dict(remaining)


def _unsell(store: Store, session: Session, amount: float, *, unclose: bool) -> None:
    profile = store.profiles.get(session.profile_id)
    if profile is not None:
        profile.total_sales -= amount
        if unclose:
            profile.closed_sessions -= 1


def cancel(store: Store, session: Session, now: datetime) -> Evaluation:
    """A closed or partially returned session cancelled: everything it still holds rolled back."""
    evaluation = Evaluation()
    _take_points(store, session, None, evaluation, now)
    _roll_back_discounts(session, {}, evaluation)
    _roll_back_usage(store, session, evaluation)
    _unsell(store, session, session.total, unclose=True)
    return evaluation


def reopen(store: Store, session: Session, now: datetime) -> Evaluation:
    """closed -> open: the close's effects rolled back (its points kept aside for the next close)."""
    if (session.state, "open") not in TRANSITIONS:
        raise refused(session.state, "open", "")
    evaluation = Evaluation()
    awarded: dict[str, float] = _life(session).setdefault("awardedPoints", {})
    suspended = {program: points for program, points in awarded.items() if points > 0}
    _take_points(store, session, None, evaluation, now)
    _life(session)["suspendedPoints"] = suspended
    _roll_back_discounts(session, {}, evaluation)
    _roll_back_usage(store, session, evaluation)
    _unsell(store, session, session.total, unclose=True)
    session.state = "open"
    return evaluation


def _line_of(session: Session, item: dict[str, Any], index: int) -> int:
    pointer = f"/return/returnedCartItems/{index}"
    position = item.get("position")
    if position is None and item.get("sku") is not None:
        found = [i for i, line in enumerate(session.cart_items) if line.get("sku") == item["sku"]]
        if len(found) != 1:
            raise ApiError(400, "sku does not name one cart item", title="Invalid value", pointer=f"{pointer}/sku")
        position = found[0]
    if not isinstance(position, int) or not 0 <= position < len(session.cart_items):
        raise ApiError(400, "No cart item at this position", title="Invalid value", pointer=f"{pointer}/position")
    return position


def return_items(store: Store, session: Session, items: list[dict[str, Any]], now: datetime) -> Evaluation:
    """Lines returned: quantities checked against what remains, value and points taken back."""
    if (session.state, "partially_returned") not in TRANSITIONS:
        raise refused(session.state, "partially_returned", "")
    returned: list[int] = _life(session).setdefault("returned", [0] * len(session.cart_items))
    asked: dict[int, int] = {}
    for index, item in enumerate(items):
        position = _line_of(session, item, index)
        line = session.cart_items[position]
        remaining = int(line.get("quantity", 0)) - returned[position] - asked.get(position, 0)
        quantity = item.get("quantity", remaining)
        if not isinstance(quantity, int) or not 1 <= quantity <= remaining:
            raise ApiError(
                400,
                f"Cannot return {quantity} of cart item {position}: {remaining} remain",
                title="Invalid value",
                pointer=f"/return/returnedCartItems/{index}/quantity",
            )
        asked[position] = asked.get(position, 0) + quantity
    # checked: from here on the return is applied
    value = 0.0
    for position, quantity in asked.items():
        line = session.cart_items[position]
        returned[position] += quantity
        line["returnedQuantity"] = returned[position]
        line["remainingQuantity"] = int(line.get("quantity", 0)) - returned[position]
        value += float(line.get("price", 0)) * quantity
    evaluation = Evaluation()
    closed_total = float(_life(session).get("closedTotal") or session.total or 0.0)
    everything = all(int(line.get("remainingQuantity", 1)) == 0 for line in session.cart_items)
    left_before = session.total
    share = None if everything or left_before <= 0 else min(value / left_before, 1.0)
    _take_points(store, session, share, evaluation, now)
    session.total = max(session.total - value, 0.0)
    if everything:
        _roll_back_discounts(session, {}, evaluation)
    elif closed_total > 0:
        _roll_back_discounts(
            session,
            {name: amount * session.total / left_before for name, amount in session.discounts.items()},
            evaluation,
        )
    _unsell(store, session, value, unclose=False)
    session.state = "partially_returned"
    return evaluation


# --- idempotency keys (returns) and advanced events ------------------------------------------------


def request_digest(session_id: str, body: dict[str, Any], query: dict[str, Any]) -> str:
    text = json.dumps({"session": session_id, "body": body, "query": query}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            400, "Idempotency-Key must be 1 to 255 characters", title="Invalid header", parameter="Idempotency-Key"
        )


def remembered(
    kept: dict[str, tuple[datetime, str, int, Any]], key: str, digest: str, now: datetime
) -> tuple[int, Any] | None:
    """The answer kept for a key (None: none, or expired); a key reused for another request is a 400."""
    for old in [k for k, (expires, *_rest) in kept.items() if expires <= now]:
        del kept[old]
    found = kept.get(key)
    if found is None:
        return None
    _expires, seen, status, body = found
    if seen != digest:
        raise ApiError(
            400,
            "Idempotency-Key was used for another request",
            title="Idempotency key reused",
            parameter="Idempotency-Key",
        )
    return status, body


def keep(
    kept: dict[str, tuple[datetime, str, int, Any]], key: str, digest: str, now: datetime, answer: tuple[int, Any]
) -> None:
    kept[key] = (now + timedelta(hours=IDEMPOTENCY_HOURS), digest, answer[0], answer[1])


def connected_session(store: Store, session_id: str | None, profile_id: str) -> Session | None:
    if session_id is None:
        return None
    session = store.sessions.get(session_id)
    if session is None or session.state != "closed":
        raise ApiError(
            400,
            "connectedSessionId must name a closed session",
            title="Invalid value",
            pointer="/connectedSessionId",
        )
    if session.profile_id != profile_id:
        raise ApiError(
            400,
            "The connected session belongs to another profile",
            title="Invalid value",
            pointer="/connectedSessionId",
        )
    return session


def record(
    store: Store, event_type: str, session: Session, profile: Profile, evaluation: Evaluation, now: datetime
) -> EventRecord:
    """The event of a lifecycle move (its rollback effects), stored."""
    event = EventRecord(
        id=store.next_event_id,
        created=now,
        application_id=session.application_id,
        profile_id=session.profile_id,
        session_id=session.integration_id,
        type=event_type,
        attributes={},
        effects=evaluation.effects,
        ledger_entries=[],
    )
    store.next_event_id += 1
    store.events.append(event)
    return event


def finished(
    store: Store, event_type: str, session: Session, profile: Profile, evaluation: Evaluation, now: datetime
) -> Result:
    session.update_count += 1
    session.updated = now
    event = record(store, event_type, session, profile, evaluation, now)
    return Result(200, profile=profile, session=session, event=event, evaluation=evaluation, now=now)
