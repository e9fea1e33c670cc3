"""The emulator's entities and their persisted form: profiles, sessions, events, referrals.

Each entity's persisted form (`dump()`, read back by `load()`) is its May 2019 (v1) wire form plus
what the emulator keeps besides (ids, v2 fields, balances). Forms written before v2 (no ids,
`coupon`/`usedCoupon` strings) still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.emulator.evaluation import ReferralView


def rfc3339(moment: datetime) -> str:
    """UTC, microseconds, `Z`: `2019-05-20T10:00:00.000000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_opt_time(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text)


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
    #: internal id (v2 answers); 0 for the transient anonymous profile
    id: int = 0

    def dump(self) -> dict[str, Any]:
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
            "id": self.id,
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
            id=int(data.get("id", 0)),
        )


@dataclass
class Session:
    integration_id: str
    created: datetime
    application_id: int
    profile_id: str
    first_session: bool
    #: coupon codes entered (v1 `coupon` is the first one, "" without)
    coupons: list[str] = field(default_factory=list)
    referral: str = ""
    state: str = "open"
    cart_items: list[dict[str, Any]] = field(default_factory=list)
    total: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)
    discounts: dict[str, float] = field(default_factory=dict)
    #: the coupon codes / referral code this session used when it closed
    used_coupons: list[str] = field(default_factory=list)
    used_referral: str | None = None
    #: internal id, updates counted, last update (v2 answers); 0/None for transient sessions
    id: int = 0
    update_count: int = 0
    updated: datetime | None = None
    #: v2 `additionalCosts` ({name: {"price": n}}) and `identifiers`
    additional_costs: dict[str, Any] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)
    #: what returns, reopening and cancelling need (lifecycle.py): lines returned, points earned
    lifecycle: dict[str, Any] = field(default_factory=dict)

    @property
    def coupon(self) -> str:
        return self.coupons[0] if self.coupons else ""

    def dump(self) -> dict[str, Any]:
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
            "id": self.id,
            "couponCodes": self.coupons,
            "usedCoupons": self.used_coupons,
            "usedReferral": self.used_referral,
            "updateCount": self.update_count,
            "updated": None if self.updated is None else rfc3339(self.updated),
            "additionalCosts": self.additional_costs,
            "identifiers": self.identifiers,
            "lifecycle": self.lifecycle,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Session:
        coupon = data.get("coupon", "")
        used = data.get("usedCoupon")
        return cls(
            integration_id=data["integrationId"],
            created=parse_time(data["created"]),
            application_id=data["applicationId"],
            profile_id=data["profileId"],
            first_session=data["firstSession"],
            coupons=list(data.get("couponCodes", [coupon] if coupon else [])),
            referral=data.get("referral", ""),
            state=data.get("state", "open"),
            cart_items=data.get("cartItems", []),
            total=data.get("total", 0.0),
            attributes=data.get("attributes", {}),
            discounts=data.get("discounts", {}),
            used_coupons=list(data.get("usedCoupons", [used] if used else [])),
            used_referral=data.get("usedReferral"),
            id=int(data.get("id", 0)),
            update_count=int(data.get("updateCount", 0)),
            updated=parse_opt_time(data.get("updated")),
            additional_costs=data.get("additionalCosts", {}),
            identifiers=list(data.get("identifiers", [])),
            lifecycle=dict(data.get("lifecycle", {})),
        )


@dataclass
class EventRecord:
    id: int
    created: datetime
    application_id: int
    profile_id: str
    #: "" for a v2 event (trackEventV2 has no session)
    session_id: str
    type: str
    attributes: dict[str, Any]
    #: v1 tuples [campaignId, rulesetId, ruleIndex, [name, *args]]
    effects: list[list[Any]]
    ledger_entries: list[dict[str, Any]]
    meta: dict[str, Any] | None = None

    def dump(self) -> dict[str, Any]:
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

    @classmethod
    def load(cls, data: dict[str, Any]) -> EventRecord:
        return cls(
            id=data["id"],
            created=parse_time(data["created"]),
            application_id=data["applicationId"],
            profile_id=data.get("profileId", ""),
            session_id=data.get("sessionId", ""),
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

    def dump(self) -> dict[str, Any]:
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
            start_date=parse_opt_time(data.get("startDate")),
            expiry_date=parse_opt_time(data.get("expiryDate")),
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
