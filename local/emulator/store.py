"""The emulator's data (`Store`): what GET /_emulator/state shows and the state file holds (version 1).

Answers are shaped from the entities by `v1` and `answers_v2`, never from this persisted form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.emulator.entities import (
    EventRecord,
    Profile,
    ReferralRecord,
    Session,
    parse_opt_time,
    parse_time,
    rfc3339,
)
from local.emulator.ledgers import Ledgers
from local.emulator.segments import Segments

__all__ = ["EventRecord", "Profile", "ReferralRecord", "Session", "Store", "parse_opt_time", "parse_time", "rfc3339"]


@dataclass
class Store:
    profiles: dict[str, Profile] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    #: by code
    referrals: dict[str, ReferralRecord] = field(default_factory=dict)
    coupon_usage: dict[str, int] = field(default_factory=dict)
    #: advanced (v3) events by their integrationId: the event's id
    advanced_events: dict[str, int] = field(default_factory=dict)
    #: audiences, memberships, coupon reservations (segments.py)
    segments: Segments = field(default_factory=Segments)
    #: loyalty transactions and cards (ledgers.py)
    ledgers: Ledgers = field(default_factory=Ledgers)
    #: cart item catalogs by id (catalogs.py): their version, their items by SKU
    catalogs: dict[str, Any] = field(default_factory=dict)
    next_event_id: int = 1
    next_referral_id: int = 1
    next_ledger_id: int = 1
    next_profile_id: int = 1
    next_session_id: int = 1

    def to_json(self) -> dict[str, Any]:
        """The persisted form (also what GET /_emulator/state shows)."""
        return {
            "version": 1,
            "profiles": {key: p.dump() for key, p in self.profiles.items()},
            "sessions": {key: s.dump() for key, s in self.sessions.items()},
            "events": [e.dump() for e in self.events],
            "referrals": [r.dump() for r in self.referrals.values()],
            "couponUsage": dict(self.coupon_usage),
            "advancedEvents": dict(self.advanced_events),
            "segments": self.segments.dump(),
            "ledgers": self.ledgers.dump(),
            "catalogs": self.catalogs,
            "nextIds": {
                "event": self.next_event_id,
                "referral": self.next_referral_id,
                "ledgerEntry": self.next_ledger_id,
                "profile": self.next_profile_id,
                "session": self.next_session_id,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Store:
        if data.get("version") != 1:
            raise ValueError(f"unsupported state file version {data.get('version')!r}")
        referrals = [ReferralRecord.load(r) for r in data.get("referrals", [])]
        ids = data.get("nextIds", {})
        store = cls(
            profiles={k: Profile.load(v) for k, v in data.get("profiles", {}).items()},
            sessions={k: Session.load(v) for k, v in data.get("sessions", {}).items()},
            events=[EventRecord.load(e) for e in data.get("events", [])],
            referrals={r.code: r for r in referrals},
            coupon_usage={str(k): int(v) for k, v in data.get("couponUsage", {}).items()},
            advanced_events={str(k): int(v) for k, v in data.get("advancedEvents", {}).items()},
            segments=Segments.load(data.get("segments", {})),
            ledgers=Ledgers.load(data.get("ledgers")),
            catalogs=dict(data.get("catalogs", {})),
            next_event_id=int(ids.get("event", 1)),
            next_referral_id=int(ids.get("referral", 1)),
            next_ledger_id=int(ids.get("ledgerEntry", 1)),
            next_profile_id=int(ids.get("profile", 1)),
            next_session_id=int(ids.get("session", 1)),
        )
        for profile in store.profiles.values():  # written before ids existed
            if not profile.id:
                profile.id = store.new_profile_id()
        for session in store.sessions.values():
            if not session.id:
                session.id = store.new_session_id()
        return store

    def new_profile_id(self) -> int:
        self.next_profile_id += 1
        return self.next_profile_id - 1

    def new_session_id(self) -> int:
        self.next_session_id += 1
        return self.next_session_id - 1

    # --- get or create ---------------------------------------------------------------------

    def profile(self, integration_id: str, now: datetime, account_id: int) -> Profile:
        """The profile, created (and stored) if new."""
        profile = self.profiles.get(integration_id)
        if profile is None:
            profile = Profile(
                integration_id=integration_id,
                created=now,
                account_id=account_id,
                last_activity=now,
                id=self.new_profile_id(),
            )
            self.profiles[integration_id] = profile
        return profile

    def session(self, session_id: str, profile_id: str, application_id: int, now: datetime) -> Session:
        """The session, created (and stored) if new; "" profile_id: anonymous."""
        session = self.sessions.get(session_id)
        if session is None:
            session = Session(
                integration_id=session_id,
                created=now,
                application_id=application_id,
                profile_id=profile_id,
                first_session=self.first_session(profile_id),
                id=self.new_session_id(),
            )
            self.sessions[session_id] = session
        return session

    def first_session(self, profile_id: str) -> bool:
        """Whether a new session of this profile would be its first (always for anonymous ones)."""
        if not profile_id:
            return True
        return not any(s.profile_id == profile_id for s in self.sessions.values())
