"""The handlers of the loyalty operations (today's spec): profile balances, points and transactions,
activating pending points, deleting a profile's transactions, cards generated, linked, unlinked and
read. The ledgers themselves: `ledgers`. Locally (default_rules.json) program 1 is profile-based and
program 2 card-based.
"""

from __future__ import annotations

from typing import Any

from local.emulator import ledgers
from local.emulator.entities import rfc3339
from local.emulator.errors import ApiError
from local.emulator.ledgers import Ledgers, balance, matches, page, program_of, status
from local.emulator.model import Outcome
from local.emulator.routes import Call

_TRANSACTION_FIELDS = ("transactionUUID", "created", "programId", "type", "name", "startDate", "expiryDate")
_POINTS_FIELDS = ("id", "transactionUUID", "created", "programId", "name", "startDate", "expiryDate")


def _book(call: Call) -> Ledgers:
    return call.backend.store.ledgers


def _profile(call: Call) -> str:
    integration_id = call.params["integrationId"]
    if integration_id not in call.backend.store.profiles:
        raise ApiError(404, "Customer profile not found", title="Not found", parameter="integrationId")
    return integration_id


def _entry(entry: dict[str, Any], names: tuple[str, ...], card: bool) -> dict[str, Any]:
    """A transaction or points entry in the Integration API's shape (its own fields, nothing internal)."""
    out = {name: entry[name] for name in names}
    out.update(id=entry["id"], subledgerId=entry["subledgerId"], amount=entry["amount"])
    if entry["customerSessionId"]:
        out["customerSessionId"] = entry["customerSessionId"]
    if card and "type" in names:
        out["cardIdentifier"] = entry["cardIdentifier"]
    if card and "type" not in names and entry["profileId"]:
        out["customerProfileID"] = entry["profileId"]
    if "type" in names and "rulesetId" in entry:
        out.update(rulesetId=entry["rulesetId"], ruleName=entry["ruleName"])
    return out


def _points(call: Call, entries: list[dict[str, Any]], card: bool) -> Outcome:
    now = call.backend.now()
    wanted = call.query.get("status") or "active"
    chosen = [e for e in entries if e["type"] == "addition" and status(e, now) == wanted and matches(e, call.query)]
    if call.query.get("sort") in ("startDate", "expiryDate"):
        chosen.sort(key=lambda e: e[call.query["sort"]])
    data, more = page(chosen, call.query, 50)
    return Outcome(200, {"hasMore": more, "data": [_entry(e, _POINTS_FIELDS, card) for e in data]})


def _transactions(call: Call, entries: list[dict[str, Any]], card: bool) -> Outcome:
    now = call.backend.now()
    chosen = [e for e in entries if matches(e, call.query)]
    if call.query.get("awaitsActivation") is not None:
        chosen = [e for e in chosen if (status(e, now) == "pending") is call.query["awaitsActivation"]]
    data, more = page(chosen, call.query, 50)
    return Outcome(200, {"hasMore": more, "data": [_entry(e, _TRANSACTION_FIELDS, card) for e in data]})


def _sync_balance(call: Call, program_id: int, profile_id: str) -> None:
    """The profile's balance in v1/v2 answers (`Profile.balances`): its active points now."""
    profile = call.backend.store.profiles.get(profile_id)
    if profile is not None:
        active = balance(_book(call).of_profile(program_id, profile_id), call.backend.now())["activePoints"]
        profile.balances[program_id] = active


# --- profile ledgers --------------------------------------------------------------------------------


def get_loyalty_balances(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=False)
    entries = _book(call).of_profile(program, _profile(call))
    moment = call.query.get("endDate") or call.backend.now()
    return Outcome(200, {"balance": balance(entries, moment), "subledgerBalances": {}})


def get_loyalty_program_profile_points(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=False)
    return _points(call, _book(call).of_profile(program, _profile(call)), card=False)


def get_loyalty_program_profile_transactions(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=False)
    return _transactions(call, _book(call).of_profile(program, _profile(call)), card=False)


def activate_loyalty_points(call: Call) -> Outcome:
    """Pending points of the program (by transaction or by session) active from now on."""
    rules = call.backend.rules
    program = program_of(rules, call.params["loyaltyProgramId"], cards=False)
    uuids, session = call.body.get("transactionUUIDs"), call.body.get("sessionId")
    if not uuids and not session:
        raise ApiError(400, "transactionUUIDs or sessionId is required", title="Invalid body", pointer="")
    now = call.backend.now()
    activated: list[dict[str, Any]] = []
    for entry in _book(call).transactions:
        chosen = entry["transactionUUID"] in (uuids or []) or (session and entry["customerSessionId"] == session)
        if entry["programId"] == program and chosen and status(entry, now) == "pending":
            entry["startDate"] = rfc3339(now)
            activated.append(entry)
            _sync_balance(call, program, entry["profileId"])
    answer = [
        {
            "created": rfc3339(now),
            "programID": program,
            "customerProfileID": e["profileId"],
            "type": "addition",
            "amount": e["amount"],
            "startDate": e["startDate"],
            "expiryDate": e["expiryDate"],
            "name": e["name"],
            "subLedgerID": e["subledgerId"],
        }
        for e in activated
    ]
    return Outcome(200, {"ledgerEntries": answer})


def delete_loyalty_transactions_from_ledgers(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=False)
    profile_id = _profile(call)
    selected = None if call.body["scope"] == "AllSubledgers" else set(call.body.get("subledgerIds") or [])
    book = _book(call)
    book.transactions = [
        e
        for e in book.transactions
        if not (e["programId"] == program and e["profileId"] == profile_id)
        or (selected is not None and e["subledgerId"] not in selected)
    ]
    _sync_balance(call, program, profile_id)
    return Outcome(204, None)


# --- cards ------------------------------------------------------------------------------------------


def _card_answer(call: Call, card: dict[str, Any]) -> dict[str, Any]:
    program = call.backend.rules.loyalty_program(card["programID"])
    totals = balance(_book(call).of_card(card["programID"], card["identifier"]), call.backend.now())
    ledger = {
        "currentBalance": totals["activePoints"],
        "pendingBalance": totals["pendingPoints"],
        "expiredBalance": totals["expiredPoints"],
        "spentBalance": totals["spentPoints"],
        "tentativeCurrentBalance": totals["activePoints"],
    }
    return {**card, "programName": program.name, "programTitle": program.title, "ledger": ledger, "subledgers": {}}


def _link(card: dict[str, Any], profile_id: str, now: str) -> None:
    if any(p["integrationId"] == profile_id for p in card["profiles"]):
        return
    if len(card["profiles"]) >= card["usersPerCardLimit"]:
        raise ApiError(400, "The card is linked to as many profiles as it may be", title="Card full", pointer="")
    card["profiles"].append({"integrationId": profile_id, "timestamp": now})


def generate_loyalty_card(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=True)
    book = _book(call)
    identifier = call.body.get("cardIdentifier") or f"CARD-{book.next_card_id:06d}-{program}"
    if f"{program}/{identifier}" in book.cards:
        raise ApiError(400, "A card with this identifier exists", title="Duplicate card", pointer="/cardIdentifier")
    now = rfc3339(call.backend.now())
    card: dict[str, Any] = {
        "id": book.next_card_id,
        "created": now,
        "programID": program,
        "status": call.body.get("status") or "active",
        "identifier": identifier,
        "usersPerCardLimit": ledgers.USERS_PER_CARD,
        "profiles": [],
    }
    for profile_id in call.body.get("customerProfileIds") or []:
        _link(card, profile_id, now)
    book.next_card_id += 1
    book.cards[f"{program}/{identifier}"] = card
    return Outcome(200, _card_answer(call, card))


def link_loyalty_card_to_profile(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=True)
    card = _book(call).card(program, call.params["loyaltyCardId"])
    _link(card, call.body["integrationId"], rfc3339(call.backend.now()))
    return Outcome(200, _card_answer(call, card))


def unlink_loyalty_card_from_profile(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=True)
    card = _book(call).card(program, call.params["loyaltyCardId"])
    kept = [p for p in card["profiles"] if p["integrationId"] != call.body["integrationId"]]
    if len(kept) == len(card["profiles"]):
        raise ApiError(400, "The card is not linked to this profile", title="Not linked", pointer="/integrationId")
    card["profiles"] = kept
    return Outcome(200, _card_answer(call, card))


def get_loyalty_card_balances(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=True)
    card = _book(call).card(program, call.params["loyaltyCardId"])
    moment = call.query.get("endDate") or call.backend.now()
    totals = balance(_book(call).of_card(program, card["identifier"]), moment)
    return Outcome(200, {"balance": totals, "subledgerBalances": {}, "profiles": card["profiles"]})


def get_loyalty_card_points(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=True)
    card = _book(call).card(program, call.params["loyaltyCardId"])
    return _points(call, _book(call).of_card(program, card["identifier"]), card=True)


def get_loyalty_card_transactions(call: Call) -> Outcome:
    program = program_of(call.backend.rules, call.params["loyaltyProgramId"], cards=True)
    card = _book(call).card(program, call.params["loyaltyCardId"])
    return _transactions(call, _book(call).of_card(program, card["identifier"]), card=True)
