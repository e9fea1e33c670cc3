"""The semantics of the Integration API operations, the same for v1 and v2 (`Backend`).

The `Backend` methods take values the HTTP layer has already validated and return a `Result`
(the entities touched, the evaluation); `answers_v1` / `answers_v2` shape it. A rule the API
enforces is raised as `ApiError`, always before anything changed. The caller serialises access
(one lock): nothing here is thread-safe on its own.

Semantics:

- Profiles and sessions are created on first use; `profileId` "" (or omitted on a new session)
  is an anonymous session, which never creates a profile and is answered with a transient
  anonymous profile (`integrationId` "").
- Attributes merge (top-level keys) on every update, for profiles and for sessions.
- A session's `state` follows the state machine of `lifecycle.py` (updates: open->closed,
  open->cancelled, closed->cancelled, partially_returned->cancelled; `partially_returned` only through
  returnCartItems, closed->open only through reopenCustomerSession); sending the current state again is
  a no-op; a change of the cart or codes of a session that is not open is a 400 "Cannot move session to
  state open from state closed", as Talon.One answers. A new session starts "open".
- A session that belongs to profile A cannot be used with profile B (400); an anonymous session may
  be claimed by a profile.
- The move to "closed" adds one to the profile's `closedSessions` and the session `total` to its
  `totalSales`, and counts the coupon and referral codes the session had accepted as used.
- Every operation that runs the rules records an Event: `talon_profile_updated`,
  `talon_session_updated`, or the tracked type. Custom event types must not start with "talon_".
- Totals never overflow: a cart (or additional costs, or a profile's sales) whose sum a float64
  cannot hold is a 400 naming the item's price (or the total).
- deleteCustomerData empties the attributes of the profile, of its sessions and of every event
  that references the profile or one of its sessions, and takes the profile out of its audiences and
  coupon reservations; an unknown profile is a 404.
- `transaction(commit=False)` (v2 `dry=true`) runs an operation and then forgets every change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from local.emulator import ledgers, lifecycle
from local.emulator.accounting import add_checked, count_usage, new_total_of, record_event
from local.emulator.customer_data import erase, new_referral, random_code
from local.emulator.errors import ApiError
from local.emulator.evaluation import Context, Evaluation, ReferralView, evaluate
from local.emulator.model import Options, Result, SessionChange
from local.emulator.rules import RulesConfig
from local.emulator.store import Profile, Session, Store

PROFILE_UPDATE_SESSION_ID = "talon_profile_update"
RESERVED_EVENT_PREFIX = "talon_"
#: (current, new) session states an update may move between (the whole state machine: lifecycle.py)
ALLOWED_TRANSITIONS = lifecycle.UPDATE_TRANSITIONS


class Backend:
    def __init__(
        self,
        rules: RulesConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        code_factory: Callable[[], str] | None = None,
    ) -> None:
        self.rules = rules
        self.store = Store()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._code_factory = code_factory or random_code
        #: returns' answers by Idempotency-Key, kept 24 hours (lifecycle.py); not persisted
        self.kept_answers: dict[str, Any] = {}

    def now(self) -> datetime:
        return self._clock()

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[None]:
        """Run a block; with commit=False every change it made to the store is undone."""
        if commit:
            yield
            return
        saved = copy.deepcopy(self.store)
        try:
            yield
        finally:
            self.store = saved

    # --- profiles --------------------------------------------------------------------------

    def update_profile(
        self,
        integration_id: str,
        attributes: dict[str, Any] | None,
        application_id: int,
        *,
        run_rules: bool = True,
        options: Options | None = None,
    ) -> Result:
        """Merge attributes (profile created if new); with rules, record `talon_profile_updated`."""
        options = options or Options()
        now = options.now or self.now()
        profile = self.store.profile(integration_id, now, self.rules.account_id)
        if attributes:
            profile.attributes.update(attributes)
        if not run_rules:
            return Result(200, profile=profile, now=now)
        profile.last_activity = now
        session = Session(
            integration_id=PROFILE_UPDATE_SESSION_ID,
            created=now,
            application_id=application_id,
            profile_id=integration_id,
            first_session=not any(s.profile_id == integration_id for s in self.store.sessions.values()),
        )
        event_attributes = dict(attributes or {})
        return self._finish("talon_profile_updated", session, profile, event_attributes, application_id, now, options)

    # --- sessions --------------------------------------------------------------------------

    def update_session(
        self, session_id: str, change: SessionChange, application_id: int, options: Options | None = None
    ) -> Result:
        options = options or Options()
        now = options.now or self.now()
        session = self.store.sessions.get(session_id)
        if session is not None:
            self._check_owner(session, change.profile_id, pointer=f"{change.at}/profileId")
        current_state = session.state if session is not None else "open"
        lifecycle.check_update(current_state, change.state, f"{change.at}/state")
        if change.state is None and current_state != "open" and change.changes_cart:
            raise lifecycle.refused(current_state, "open", f"{change.at}/state")
        new_total = new_total_of(session, change)
        closing = change.state == "closed" and current_state != "closed"
        owner = change.profile_id or (session.profile_id if session is not None else "")
        if closing and owner:
            known = self.store.profiles.get(owner)
            session_total = new_total if new_total is not None else (session.total if session else 0.0)
            add_checked(known.total_sales if known else 0.0, session_total, change.total_pointer)
        # checked: from here on the request is applied
        session = self.store.session(session_id, change.profile_id or "", application_id, now)
        if change.profile_id and not session.profile_id:
            self._claim(session, change.profile_id)
        if change.coupons is not None:
            session.coupons = list(change.coupons)
        if change.referral is not None:
            session.referral = change.referral
        if change.cart_items is not None:
            session.cart_items = change.cart_items
        if change.additional_costs is not None:
            session.additional_costs = change.additional_costs
        if change.identifiers is not None:
            session.identifiers = change.identifiers
        if new_total is not None:
            session.total = new_total
        if change.attributes:
            session.attributes.update(change.attributes)
        if change.state is not None:
            session.state = change.state
        session.update_count += 1
        session.updated = now
        profile = self._profile_of(session, now)
        event_attributes = dict(change.attributes or {})
        rollback = None
        if change.state == "cancelled" and current_state in ("closed", "partially_returned"):
            rollback = lifecycle.cancel(self.store, session, now)
        result = self._finish(
            "talon_session_updated", session, profile, event_attributes, application_id, now, options, closing=closing
        )
        if closing:
            lifecycle.on_closed(self.store, session, now)
        if rollback is not None and result.event is not None:
            session.discounts = {}
            # the event keeps the evaluation's own list (accounting.record_event): the rollback goes in once
            result.evaluation.effects[:0] = rollback.effects
            if result.event.effects is not result.evaluation.effects:
                result.event.effects[:0] = rollback.effects
        return result

    # --- events ----------------------------------------------------------------------------

    def track_event(
        self,
        event_type: str,
        session_id: str | None,
        profile_id: str | None,
        attributes: dict[str, Any],
        application_id: int,
        options: Options | None = None,
    ) -> Result:
        """Record an event (on a session for v1; session_id None: v2, no session) and run the rules."""
        options = options or Options()
        now = options.now or self.now()
        if event_type.startswith(RESERVED_EVENT_PREFIX):
            raise ApiError(
                400,
                f"Event type {event_type!r} is reserved",
                title="Reserved event type",
                details=f"event types starting with {RESERVED_EVENT_PREFIX!r} are Talon.One's own",
                pointer="/type",
            )
        if session_id is None:
            session = Session(
                integration_id="",
                created=now,
                application_id=application_id,
                profile_id=profile_id or "",
                first_session=self.store.first_session(profile_id or ""),
            )
            profile = (
                self.store.profile(profile_id, now, self.rules.account_id)
                if profile_id
                else self._profile_of(session, now)
            )
            profile.last_activity = now
            return self._finish(event_type, session, profile, dict(attributes), application_id, now, options)
        known = self.store.sessions.get(session_id)
        if known is not None:
            self._check_owner(known, profile_id, pointer="/profileId")
        session = self.store.session(session_id, profile_id or "", application_id, now)
        if profile_id and not session.profile_id:
            self._claim(session, profile_id)
        profile = self._profile_of(session, now)
        return self._finish(event_type, session, profile, dict(attributes), application_id, now, options, status=201)

    # --- referrals, erasure ---------------------------------------------------------------

    def create_referral(self, body: dict[str, Any], application_id: int) -> Result:
        now = self.now()
        record = new_referral(self.store, self.rules, body, now, self._code_factory)
        profile = self.store.profile(record.advocate, now, self.rules.account_id)
        profile.last_activity = now
        return Result(201, profile=profile, referral=record, now=now)

    def delete_customer_data(self, integration_id: str) -> Result:
        erase(self.store, integration_id)
        return Result(204)

    # --- shared ----------------------------------------------------------------------------

    def _claim(self, session: Session, profile_id: str) -> None:
        """An anonymous session becomes the profile's (a customer logged in)."""
        session.first_session = self.store.first_session(profile_id)
        session.profile_id = profile_id

    @staticmethod
    def _check_owner(session: Session, profile_id: str | None, *, pointer: str) -> None:
        if profile_id is None or profile_id == session.profile_id:
            return
        if not session.profile_id and profile_id:
            return  # anonymous -> identified
        raise ApiError(
            400,
            f"Customer session {session.integration_id!r} belongs to another profile",
            title="Session belongs to another profile",
            details="a session must always be used with the profileId it was created with",
            pointer=pointer,
        )

    def _profile_of(self, session: Session, now: datetime) -> Profile:
        if not session.profile_id:
            return Profile(
                integration_id="", created=session.created, account_id=self.rules.account_id, last_activity=now
            )
        profile = self.store.profile(session.profile_id, now, self.rules.account_id)
        profile.last_activity = now
        return profile

    def _evaluate(self, event_type: str, session: Session, now: datetime, options: Options) -> Evaluation:
        store = self.store

        def find(code: str) -> ReferralView | None:
            record = store.referrals.get(code)
            return None if record is None else record.view()

        return evaluate(
            self.rules,
            Context(
                profile_id=session.profile_id,
                event_type=event_type,
                coupons=tuple(session.coupons),
                referral=session.referral,
                cart_items=session.cart_items,
                total=session.total,
                now=now,
                coupon_usage=store.coupon_usage,
                find_referral=find,
                used_coupons=tuple(session.used_coupons),
                used_referral=session.used_referral,
                campaign_ids=options.campaign_ids,
            ),
        )

    def _finish(
        self,
        event_type: str,
        session: Session,
        profile: Profile,
        event_attributes: dict[str, Any],
        application_id: int,
        now: datetime,
        options: Options,
        *,
        closing: bool = False,
        status: int = 200,
    ) -> Result:
        evaluation = self._evaluate(event_type, session, now, options)
        session.discounts = evaluation.discounts
        if closing:
            count_usage(self.store, session, evaluation)
            if profile.integration_id:
                profile.closed_sessions += 1
                profile.total_sales += session.total
        cards = frozenset(p.id for p in self.rules.loyalty_programs if p.card_based)
        event = record_event(
            self.store, event_type, session, profile, event_attributes, application_id, now, evaluation, cards
        )
        ledgers.earn(
            self.store.ledgers,
            self.rules,
            event_id=event.id,
            effects=evaluation.effects,
            points=evaluation.points,
            profile_id=profile.integration_id,
            session_id=session.integration_id,
            now=now,
        )
        return Result(status, profile=profile, session=session, event=event, evaluation=evaluation, now=now)
