"""Loyalty ledgers: every points transaction of a profile's or a card's ledger, and the loyalty cards.

A transaction is earned by a rule (`rules.EventRule`: its `addLoyaltyPoints` effect and this entry share
a transactionUUID), or changed by activateLoyaltyPoints (pending -> active) and
deleteLoyaltyTransactionsFromLedgers (gone). Its status follows from its dates and the clock: pending
before its start date, expired from its expiry date, active between. A program whose rules entry says
`cardBased` keeps its points on cards: an event of a profile credits the first card of the program linked
to it (none linked: no points). Every entry is on the main ledger (sub-ledger ""). Persisted with the
store (`Store.ledgers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from local.emulator.entities import parse_time, rfc3339
from local.emulator.errors import ApiError
from local.emulator.rules import RulesConfig

#: How many profiles one card may be linked to (Talon.One: a program setting).
USERS_PER_CARD = 2
FAR_FUTURE = datetime.fromisoformat("9999-12-31T23:59:59+00:00")


@dataclass
class Ledgers:
    """The transactions (stored form, camelCase, as the Integration API names them) and the cards."""

    transactions: list[dict[str, Any]] = field(default_factory=list)
    #: by "<programId>/<identifier>"
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_transaction_id: int = 1
    next_card_id: int = 1

    def dump(self) -> dict[str, Any]:
        return {
            "transactions": self.transactions,
            "cards": self.cards,
            "nextIds": {"transaction": self.next_transaction_id, "card": self.next_card_id},
        }

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> Ledgers:
        data = data or {}
        ids = data.get("nextIds", {})
        return cls(
            transactions=list(data.get("transactions", [])),
            cards=dict(data.get("cards", {})),
            next_transaction_id=int(ids.get("transaction", 1)),
            next_card_id=int(ids.get("card", 1)),
        )

    # --- writing ----------------------------------------------------------------------------------

    def credit(
        self,
        *,
        program_id: int,
        amount: float,
        name: str,
        now: datetime,
        uuid: str,
        profile_id: str = "",
        card: str = "",
        session_id: str = "",
        expiry_days: int = 365,
        pending_days: int = 0,
        ruleset_id: int | None = None,
        rule_name: str | None = None,
    ) -> dict[str, Any]:
        """A transaction of points added to a profile's ledger (or a card's)."""
        start = now + timedelta(days=pending_days)
        entry: dict[str, Any] = {
            "id": self.next_transaction_id,
            "transactionUUID": uuid,
            "created": rfc3339(now),
            "programId": program_id,
            "profileId": profile_id,
            "cardIdentifier": card,
            "customerSessionId": session_id,
            "type": "addition",
            "transactionType": "session" if session_id else "manual",
            "name": name,
            "startDate": rfc3339(start),
            "expiryDate": rfc3339(start + timedelta(days=expiry_days)),
            "subledgerId": "",
            "amount": amount,
        }
        if ruleset_id is not None:
            entry["rulesetId"], entry["ruleName"] = ruleset_id, rule_name or ""
        self.next_transaction_id += 1
        self.transactions.append(entry)
        return entry

    def roll_back(self, *, program_id: int, amount: float, profile_id: str, session_id: str, now: datetime) -> None:
        """Points a session's return, cancel or reopen took back from a profile (lifecycle.py), on its ledger
        as a subtraction that spends nothing; a program the profile has no entry of (a card's) is left alone."""
        if not self.of_profile(program_id, profile_id):
            return
        entry = self.credit(
            program_id=program_id,
            amount=amount,
            name="Rollback of the session's points",
            now=now,
            uuid=str(uuid4()),
            profile_id=profile_id,
            session_id=session_id,
        )
        entry.update(type="subtraction", rollback=True, expiryDate=entry["startDate"])

    def card(self, program_id: int, identifier: str) -> dict[str, Any]:
        found = self.cards.get(f"{program_id}/{identifier}")
        if found is None:
            raise ApiError(404, "Loyalty card not found", title="Not found", parameter="loyaltyCardId")
        return found

    def card_of(self, program_id: int, profile_id: str) -> dict[str, Any] | None:
        """The first active card of the program linked to the profile."""
        for card in self.cards.values():
            linked = any(p["integrationId"] == profile_id for p in card["profiles"])
            if card["programID"] == program_id and card["status"] == "active" and linked:
                return card
        return None

    # --- reading ----------------------------------------------------------------------------------

    def of_profile(self, program_id: int, profile_id: str) -> list[dict[str, Any]]:
        return [t for t in self.transactions if t["programId"] == program_id and t["profileId"] == profile_id]

    def of_card(self, program_id: int, identifier: str) -> list[dict[str, Any]]:
        return [t for t in self.transactions if t["programId"] == program_id and t["cardIdentifier"] == identifier]


def status(entry: dict[str, Any], now: datetime) -> str:
    """pending, active or expired, from the entry's dates."""
    if parse_time(entry["startDate"]) > now:
        return "pending"
    if parse_time(entry["expiryDate"]) <= now:
        return "expired"
    return "active"


def balance(entries: Iterable[dict[str, Any]], now: datetime) -> dict[str, float]:
    """LoyaltyBalance of these entries (subtractions spend active points)."""
    totals = {"activePoints": 0.0, "pendingPoints": 0.0, "spentPoints": 0.0, "expiredPoints": 0.0}
    for entry in entries:
        if entry["type"] == "subtraction":
            if not entry.get("rollback"):  # a rollback takes points back; it spends none
                totals["spentPoints"] += entry["amount"]
            totals["activePoints"] -= entry["amount"]
            continue
        totals[f"{status(entry, now)}Points"] += entry["amount"]
    return {**totals, "negativePoints": max(-totals["activePoints"], 0.0)}


def program_of(rules: RulesConfig, program_id: str, *, cards: bool) -> int:
    """The program of a path parameter: known to the rules, and card-based or not as the operation needs."""
    known = {p.id: p.card_based for p in rules.loyalty_programs}
    number = int(program_id) if program_id.lstrip("-").isdigit() else None
    if number is None:
        raise ApiError(
            400, "loyaltyProgramId must be an integer", title="Invalid path parameter", parameter="loyaltyProgramId"
        )
    if number not in known:
        raise ApiError(404, "Loyalty program not found", title="Not found", parameter="loyaltyProgramId")
    if known[number] != cards:
        kind = "card-based" if known[number] else "profile-based"
        raise ApiError(
            400, f"Loyalty program {number} is {kind}", title="Invalid path parameter", parameter="loyaltyProgramId"
        )
    return number


def page(items: list[dict[str, Any]], query: dict[str, Any], default_size: int) -> tuple[list[dict[str, Any]], bool]:
    """`skip` and `pageSize` applied: the page and whether more follow."""
    skip = query.get("skip") or 0
    size = query.get("pageSize") or default_size
    return items[skip : skip + size], len(items) > skip + size


def matches(entry: dict[str, Any], query: dict[str, Any]) -> bool:
    """The list filters every transactions and points read takes."""
    checks: list[tuple[str, Callable[[Any], bool]]] = [
        ("customerSessionIDs", lambda ids: entry["customerSessionId"] in ids),
        ("transactionUUIDs", lambda ids: entry["transactionUUID"] in ids),
        ("subledgerId", lambda ids: entry["subledgerId"] in (ids if isinstance(ids, list) else [ids])),
        ("loyaltyTransactionType", lambda kind: entry["transactionType"] == kind),
        ("startDate", lambda moment: parse_time(entry["created"]) >= moment),
        ("endDate", lambda moment: parse_time(entry["created"]) <= moment),
    ]
    return all(query.get(name) in (None, []) or check(query[name]) for name, check in checks)


def earn(
    book: Ledgers,
    rules: RulesConfig,
    *,
    event_id: int,
    effects: list[list[Any]],
    points: Iterable[Any],
    profile_id: str,
    session_id: str,
    now: datetime,
) -> None:
    """The transactions of an event's `addLoyaltyPoints` effects (`points`: evaluation.Points, in order),
    each with its effect's transactionUUID (answers_v2); an anonymous event earns nothing."""
    if not profile_id:
        return
    indices = [i for i, effect in enumerate(effects) if effect[3][0] == "addLoyaltyPoints"]
    cards = {p.id for p in rules.loyalty_programs if p.card_based}
    for index, earned in zip(indices, points, strict=False):
        card = book.card_of(earned.program_id, profile_id) if earned.program_id in cards else None
        if earned.program_id in cards and card is None:
            continue  # a card-based program without a linked card: nowhere to put the points
        campaign = rules.campaign(earned.campaign_id)
        book.credit(
            program_id=earned.program_id,
            amount=float(earned.points),
            name=earned.reason,
            now=now,
            uuid=effect_uuid(event_id, index),
            profile_id="" if card else profile_id,
            card=card["identifier"] if card else "",
            session_id=session_id,
            expiry_days=earned.expiry_days,
            pending_days=earned.pending_days,
            ruleset_id=campaign.ruleset_id if campaign else None,
            rule_name=campaign.name if campaign else None,
        )


def effect_uuid(event_id: int, index: int) -> str:
    """The transactionUUID of an event's effect (the same as its v2 effect's props)."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"talon-emulator:event:{event_id}:effect:{index}"))
