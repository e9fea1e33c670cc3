"""The emulator's data and the semantics of the five Integration API operations.

Everything is in memory; `Store.to_json()` / `Store.from_json()` are the persisted form. The
`Backend` methods take request bodies that the HTTP layer has already validated (plain JSON
dicts, camelCase keys) and return wire dicts; a rule the API enforces is raised as `ApiError`.
The caller serialises access (one lock): nothing here is thread-safe on its own.

Semantics (documented in the package README of the emulator, `local/emulator/__init__.py`):

- Profiles and sessions are created on first use; `profileId` "" (or omitted on a new session)
  is an anonymous session, which never creates a profile and is answered with a transient
  anonymous profile (`integrationId` "").
- Attributes merge (top-level keys) on every update, for profiles and for sessions.
- A session's `state` moves open->closed, open->cancelled, closed->cancelled; sending the current
  state again is a no-op; anything else is a 400. A new session starts "open", so its first
  request may ask for any state.
- A session that belongs to profile A cannot be used with profile B (400, updateCustomerSession
  and trackEvent); an anonymous session may be claimed by a profile.
- The move to "closed" adds one to the profile's `closedSessions` and the session `total` to its
  `totalSales`, and counts the coupon and referral code the session had accepted as used.
- Every operation records an Event: `talon_profile_updated`, `talon_session_updated`, or the
  tracked type. Custom event types must not start with "talon_".
- updateCustomerProfile answers with a transient placeholder session (`integrationId`
  "talon_profile_update", not stored), since the operation has no session.
- deleteCustomerData empties the attributes of the profile, of its sessions and of every event
  that references the profile or one of its sessions; an unknown profile is a 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local.emulator.rules import (
    Context,
    Evaluation,
    ReferralRule,
    ReferralView,
    RulesConfig,
    evaluate,
)

PROFILE_UPDATE_SESSION_ID = "talon_profile_update"
RESERVED_EVENT_PREFIX = "talon_"
#: (current, new) session states the API accepts besides staying in the same state
ALLOWED_TRANSITIONS = frozenset({("open", "closed"), ("open", "cancelled"), ("closed", "cancelled")})
#: Referral codes: no 0/O/1/I, so a code read aloud or typed survives.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class ApiError(Exception):
    """An error answer in the spec's ErrorResponse shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        title: str | None = None,
        details: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        if errors is None:
            source: dict[str, str] = {}
            if parameter is not None:
                source["parameter"] = parameter
            else:
                source["pointer"] = pointer if pointer is not None else ""
            error: dict[str, Any] = {"title": title or message, "source": source}
            if details is not None:
                error["details"] = details
            errors = [error]
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors}


def rfc3339(moment: datetime) -> str:
    """UTC, microseconds, `Z`: `2019-05-20T10:00:00.000000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_opt_time(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text)


# --- entities --------------------------------------------------------------------------------


@dataclass
class Profile:
    integration_id: str
    created: datetime
    account_id: int
    last_activity: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    closed_sessions: int = 0
    total_sales: float = 0.0
    #: loyaltyProgramId -> joined
    memberships: dict[int, datetime] = field(default_factory=dict)
    #: loyaltyProgramId -> current balance
    balances: dict[int, float] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        return {
            "integrationId": self.integration_id,
            "created": rfc3339(self.created),
            "attributes": self.attributes,
            "accountId": self.account_id,
            "closedSessions": self.closed_sessions,
            "totalSales": self.total_sales,
            "loyaltyMemberships": [
                {"joined": rfc3339(joined), "loyaltyProgramId": program}
                for program, joined in sorted(self.memberships.items())
            ],
            "lastActivity": rfc3339(self.last_activity),
        }

    def loyalty(self) -> dict[str, Any]:
        return {
            "programs": {
                str(program): {"currentBalance": balance} for program, balance in sorted(self.balances.items())
            }
        }

    def dump(self) -> dict[str, Any]:
        return {
            **self.wire(),
            "balances": {str(k): v for k, v in self.balances.items()},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Profile:
        return cls(
            integration_id=data["integrationId"],
            created=parse_time(data["created"]),
            account_id=data["accountId"],
            last_activity=parse_time(data["lastActivity"]),
            attributes=data.get("attributes", {}),
            closed_sessions=data.get("closedSessions", 0),
            total_sales=data.get("totalSales", 0.0),
            memberships={
                int(m["loyaltyProgramId"]): parse_time(m["joined"]) for m in data.get("loyaltyMemberships", [])
            },
            balances={int(k): float(v) for k, v in data.get("balances", {}).items()},
        )


@dataclass
class Session:
    integration_id: str
    created: datetime
    application_id: int
    profile_id: str
    first_session: bool
    coupon: str = ""
    referral: str = ""
    state: str = "open"
    cart_items: list[dict[str, Any]] = field(default_factory=list)
    total: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)
    discounts: dict[str, float] = field(default_factory=dict)
    #: the coupon / referral code this session used when it closed
    used_coupon: str | None = None
    used_referral: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "integrationId": self.integration_id,
            "created": rfc3339(self.created),
            "applicationId": self.application_id,
            "profileId": self.profile_id,
            "coupon": self.coupon,
            "referral": self.referral,
            "state": self.state,
            "cartItems": self.cart_items,
            "total": self.total,
            "attributes": self.attributes,
            "firstSession": self.first_session,
            "discounts": self.discounts,
        }

    def dump(self) -> dict[str, Any]:
        return {**self.wire(), "usedCoupon": self.used_coupon, "usedReferral": self.used_referral}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Session:
        return cls(
            integration_id=data["integrationId"],
            created=parse_time(data["created"]),
            application_id=data["applicationId"],
            profile_id=data["profileId"],
            first_session=data["firstSession"],
            coupon=data.get("coupon", ""),
            referral=data.get("referral", ""),
            state=data.get("state", "open"),
            cart_items=data.get("cartItems", []),
            total=data.get("total", 0.0),
            attributes=data.get("attributes", {}),
            discounts=data.get("discounts", {}),
            used_coupon=data.get("usedCoupon"),
            used_referral=data.get("usedReferral"),
        )


@dataclass
class EventRecord:
    id: int
    created: datetime
    application_id: int
    profile_id: str
    session_id: str
    type: str
    attributes: dict[str, Any]
    effects: list[list[Any]]
    ledger_entries: list[dict[str, Any]]
    meta: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "created": rfc3339(self.created),
            "applicationId": self.application_id,
            "profileId": self.profile_id,
            "sessionId": self.session_id,
            "type": self.type,
            "attributes": self.attributes,
            "effects": self.effects,
            "ledgerEntries": self.ledger_entries,
        }
        if self.meta is not None:
            body["meta"] = self.meta
        return body

    dump = wire

    @classmethod
    def load(cls, data: dict[str, Any]) -> EventRecord:
        return cls(
            id=data["id"],
            created=parse_time(data["created"]),
            application_id=data["applicationId"],
            profile_id=data.get("profileId", ""),
            session_id=data["sessionId"],
            type=data["type"],
            attributes=data.get("attributes", {}),
            effects=data.get("effects", []),
            ledger_entries=data.get("ledgerEntries", []),
            meta=data.get("meta"),
        )


@dataclass
class ReferralRecord:
    id: int
    created: datetime
    campaign_id: int
    advocate: str
    code: str
    usage_limit: int
    usage_counter: int = 0
    friend: str | None = None
    start_date: datetime | None = None
    expiry_date: datetime | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "created": rfc3339(self.created),
            "campaignId": self.campaign_id,
            "advocateProfileIntegrationId": self.advocate,
            "code": self.code,
            "usageCounter": self.usage_counter,
            "usageLimit": self.usage_limit,
        }
        if self.friend is not None:
            body["friendProfileIntegrationId"] = self.friend
        if self.start_date is not None:
            body["startDate"] = rfc3339(self.start_date)
        if self.expiry_date is not None:
            body["expiryDate"] = rfc3339(self.expiry_date)
        return body

    dump = wire

    @classmethod
    def load(cls, data: dict[str, Any]) -> ReferralRecord:
        return cls(
            id=data["id"],
            created=parse_time(data["created"]),
            campaign_id=data["campaignId"],
            advocate=data["advocateProfileIntegrationId"],
            code=data["code"],
            usage_limit=data["usageLimit"],
            usage_counter=data.get("usageCounter", 0),
            friend=data.get("friendProfileIntegrationId"),
            start_date=_parse_opt_time(data.get("startDate")),
            expiry_date=_parse_opt_time(data.get("expiryDate")),
        )

    def view(self) -> ReferralView:
        return ReferralView(
            code=self.code,
            campaign_id=self.campaign_id,
            advocate=self.advocate,
            friend=self.friend,
            start_date=self.start_date,
            expiry_date=self.expiry_date,
            usage_counter=self.usage_counter,
            usage_limit=self.usage_limit,
        )


@dataclass
class Store:
    profiles: dict[str, Profile] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    #: by code
    referrals: dict[str, ReferralRecord] = field(default_factory=dict)
    coupon_usage: dict[str, int] = field(default_factory=dict)
    next_event_id: int = 1
    next_referral_id: int = 1
    next_ledger_id: int = 1

    def to_json(self) -> dict[str, Any]:
        """The persisted form (also what GET /_emulator/state shows)."""
        return {
            "version": 1,
            "profiles": {key: p.dump() for key, p in self.profiles.items()},
            "sessions": {key: s.dump() for key, s in self.sessions.items()},
            "events": [e.dump() for e in self.events],
            "referrals": [r.dump() for r in self.referrals.values()],
            "couponUsage": dict(self.coupon_usage),
            "nextIds": {
                "event": self.next_event_id,
                "referral": self.next_referral_id,
                "ledgerEntry": self.next_ledger_id,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Store:
        if data.get("version") != 1:
            raise ValueError(f"unsupported state file version {data.get('version')!r}")
        referrals = [ReferralRecord.load(r) for r in data.get("referrals", [])]
        ids = data.get("nextIds", {})
        return cls(
            profiles={k: Profile.load(v) for k, v in data.get("profiles", {}).items()},
            sessions={k: Session.load(v) for k, v in data.get("sessions", {}).items()},
            events=[EventRecord.load(e) for e in data.get("events", [])],
            referrals={r.code: r for r in referrals},
            coupon_usage={str(k): int(v) for k, v in data.get("couponUsage", {}).items()},
            next_event_id=int(ids.get("event", 1)),
            next_referral_id=int(ids.get("referral", 1)),
            next_ledger_id=int(ids.get("ledgerEntry", 1)),
        )


# --- the operations --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an operation answers, plus what the request log and the logger need."""

    status: int
    body: dict[str, Any] | None
    effects: list[str] = field(default_factory=list)


def _merge(target: dict[str, Any], update: dict[str, Any] | None) -> None:
    if update:
        target.update(update)


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
        self._code_factory = code_factory or _random_code

    def now(self) -> datetime:
        return self._clock()

    # --- updateCustomerProfile -------------------------------------------------------------

    def update_profile(self, integration_id: str, body: dict[str, Any], application_id: int) -> Outcome:
        now = self.now()
        profile = self._profile(integration_id, now)
        _merge(profile.attributes, body.get("attributes"))
        profile.last_activity = now
        session = Session(
            integration_id=PROFILE_UPDATE_SESSION_ID,
            created=now,
            application_id=application_id,
            profile_id=integration_id,
            first_session=not any(s.profile_id == integration_id for s in self.store.sessions.values()),
        )
        event_attributes = dict(body.get("attributes") or {})
        return self._finish("talon_profile_updated", session, profile, event_attributes, application_id, now, 200)

    # --- updateCustomerSession -------------------------------------------------------------

    def update_session(self, session_id: str, body: dict[str, Any], application_id: int) -> Outcome:
        now = self.now()
        session = self.store.sessions.get(session_id)
        profile_id = body.get("profileId")
        if session is not None:
            self._check_owner(session, profile_id, pointer="/profileId")
        new_state = body.get("state")
        current_state = session.state if session is not None else "open"
        if (
            new_state is not None
            and new_state != current_state
            and (current_state, new_state) not in ALLOWED_TRANSITIONS
        ):
            raise ApiError(
                400,
                f"Invalid session state transition from {current_state!r} to {new_state!r}",
                title="Invalid state transition",
                details="allowed: open->closed, open->cancelled, closed->cancelled",
                pointer="/state",
            )
        session = self._session(session_id, profile_id or "", application_id, now)
        if profile_id and not session.profile_id:
            self._claim(session, profile_id)
        if body.get("coupon") is not None:
            session.coupon = body["coupon"]
        if body.get("referral") is not None:
            session.referral = body["referral"]
        if body.get("cartItems") is not None:
            session.cart_items = body["cartItems"]
            if body.get("total") is None:
                session.total = float(sum(item["price"] * item["quantity"] for item in session.cart_items))
        if body.get("total") is not None:
            session.total = body["total"]
        _merge(session.attributes, body.get("attributes"))
        closing = new_state == "closed" and current_state != "closed"
        if new_state is not None:
            session.state = new_state
        profile = self._profile_of(session, now)
        event_attributes = dict(body.get("attributes") or {})
        return self._finish(
            "talon_session_updated",
            session,
            profile,
            event_attributes,
            application_id,
            now,
            200,
            closing=closing,
        )

    # --- trackEvent ------------------------------------------------------------------------

    def track_event(self, body: dict[str, Any], application_id: int) -> Outcome:
        now = self.now()
        event_type: str = body["type"]
        if event_type.startswith(RESERVED_EVENT_PREFIX):
            raise ApiError(
                400,
                f"Event type {event_type!r} is reserved",
                title="Reserved event type",
                details=f"event types starting with {RESERVED_EVENT_PREFIX!r} are Talon.One's own",
                pointer="/type",
            )
        session_id: str = body["sessionId"]
        profile_id = body.get("profileId")
        session = self.store.sessions.get(session_id)
        if session is not None:
            self._check_owner(session, profile_id, pointer="/profileId")
        session = self._session(session_id, profile_id or "", application_id, now)
        if profile_id and not session.profile_id:
            self._claim(session, profile_id)
        profile = self._profile_of(session, now)
        return self._finish(event_type, session, profile, dict(body["attributes"]), application_id, now, 201)

    # --- createReferral --------------------------------------------------------------------

    def create_referral(self, body: dict[str, Any], application_id: int) -> Outcome:
        now = self.now()
        campaign_id: int = body["campaignId"]
        campaign = self.rules.campaign(campaign_id)
        if campaign is None:
            raise ApiError(
                400,
                f"Campaign {campaign_id} does not exist",
                title="Unknown campaign",
                pointer="/campaignId",
            )
        advocate: str = body["advocateProfileIntegrationId"]
        if not advocate:
            raise ApiError(
                400,
                "advocateProfileIntegrationId must not be empty",
                title="Invalid value",
                pointer="/advocateProfileIntegrationId",
            )
        limits = [rule.usage_limit for rule in campaign.rules if isinstance(rule, ReferralRule)]
        profile = self._profile(advocate, now)
        profile.last_activity = now
        code = self._new_code()
        record = ReferralRecord(
            id=self.store.next_referral_id,
            created=now,
            campaign_id=campaign_id,
            advocate=advocate,
            code=code,
            usage_limit=limits[0] if limits else 1,
            friend=body.get("friendProfileIntegrationId") or None,
            start_date=_parse_opt_time(body.get("startDate")),
            expiry_date=_parse_opt_time(body.get("expiryDate")),
        )
        self.store.next_referral_id += 1
        self.store.referrals[code] = record
        return Outcome(201, record.wire())

    def _new_code(self) -> str:
        for _ in range(1000):
            code = self._code_factory()
            if len(code) >= 4 and code not in self.store.referrals:
                return code
        raise ApiError(500, "Could not generate a unique referral code", title="Internal error")

    # --- deleteCustomerData ----------------------------------------------------------------

    def delete_customer_data(self, integration_id: str) -> Outcome:
        profile = self.store.profiles.get(integration_id)
        if profile is None:
            raise ApiError(
                404,
                f"Customer profile {integration_id!r} not found",
                title="Not found",
                parameter="integrationId",
            )
        profile.attributes = {}
        session_ids = set()
        for session in self.store.sessions.values():
            if session.profile_id == integration_id:
                session.attributes = {}
                session_ids.add(session.integration_id)
        for event in self.store.events:
            if event.profile_id == integration_id or (event.session_id in session_ids and not event.profile_id):
                event.attributes = {}
        return Outcome(204, None)

    # --- shared ----------------------------------------------------------------------------

    def _profile(self, integration_id: str, now: datetime) -> Profile:
        profile = self.store.profiles.get(integration_id)
        if profile is None:
            profile = Profile(
                integration_id=integration_id,
                created=now,
                account_id=self.rules.account_id,
                last_activity=now,
            )
            self.store.profiles[integration_id] = profile
        return profile

    def _session(self, session_id: str, profile_id: str, application_id: int, now: datetime) -> Session:
        session = self.store.sessions.get(session_id)
        if session is None:
            session = Session(
                integration_id=session_id,
                created=now,
                application_id=application_id,
                profile_id=profile_id,
                first_session=self._first_session(profile_id),
            )
            self.store.sessions[session_id] = session
        return session

    def _first_session(self, profile_id: str) -> bool:
        if not profile_id:
            return True
        return not any(s.profile_id == profile_id for s in self.store.sessions.values())

    def _claim(self, session: Session, profile_id: str) -> None:
        """An anonymous session becomes the profile's (a customer logged in)."""
        session.first_session = self._first_session(profile_id)
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
                integration_id="",
                created=session.created,
                account_id=self.rules.account_id,
                last_activity=now,
            )
        profile = self._profile(session.profile_id, now)
        profile.last_activity = now
        return profile

    def _evaluate(self, event_type: str, session: Session, now: datetime) -> Evaluation:
        store = self.store

        def find(code: str) -> ReferralView | None:
            record = store.referrals.get(code)
            return None if record is None else record.view()

        return evaluate(
            self.rules,
            Context(
                profile_id=session.profile_id,
                event_type=event_type,
                coupon=session.coupon,
                referral=session.referral,
                cart_items=session.cart_items,
                total=session.total,
                now=now,
                coupon_usage=store.coupon_usage,
                find_referral=find,
                used_coupon=session.used_coupon,
                used_referral=session.used_referral,
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
        status: int,
        *,
        closing: bool = False,
    ) -> Outcome:
        evaluation = self._evaluate(event_type, session, now)
        session.discounts = evaluation.discounts
        identified = bool(profile.integration_id)
        if closing:
            if evaluation.accepted_coupon and session.used_coupon != evaluation.accepted_coupon:
                code = evaluation.accepted_coupon
                self.store.coupon_usage[code] = self.store.coupon_usage.get(code, 0) + 1
                session.used_coupon = code
            if evaluation.accepted_referral and session.used_referral != evaluation.accepted_referral:
                self.store.referrals[evaluation.accepted_referral].usage_counter += 1
                session.used_referral = evaluation.accepted_referral
            if identified:
                profile.closed_sessions += 1
                profile.total_sales += session.total
        event_id = self.store.next_event_id
        self.store.next_event_id += 1
        ledger: list[dict[str, Any]] = []
        for points in evaluation.points if identified else []:
            profile.balances[points.program_id] = profile.balances.get(points.program_id, 0.0) + points.points
            profile.memberships.setdefault(points.program_id, now)
            ledger.append(
                {
                    "id": self.store.next_ledger_id,
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
            self.store.next_ledger_id += 1
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
            attributes=event_attributes,
            effects=evaluation.effects,
            ledger_entries=ledger,
            meta=meta,
        )
        self.store.events.append(event)
        body: dict[str, Any] = {
            "session": session.wire(),
            "profile": profile.wire(),
            "event": event.wire(),
        }
        if identified:
            body["loyalty"] = profile.loyalty()
        return Outcome(status, body, evaluation.effect_names)


def _random_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
