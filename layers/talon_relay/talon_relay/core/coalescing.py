"""Coalescing: one FIFO group's queued requests sent as few calls as the operation's rules allow.

For the table's `coalesce` entries (syncCatalog, whose group is the catalog): a batch of one catalog's
queued syncs becomes as few `syncCatalog` calls as Talon.One takes (a group of one message has nothing to
join: the SQS adapter sends it as any queued message, its record the same one). Whole messages are joined,
in the order they were queued, into one request while it stays what Talon.One accepts: at most 1,000 actions,
one action type, no SKU twice, the same application and catalog, and no `version` (a message naming
the catalog version it was made against goes alone). A message is never split: the next request starts
where one of those would break, so a SKU repeated by a later message goes in the next request, after it.

Each message keeps its own disposition (the SQS adapter applies it):
- its request went through: done;
- Talon.One refused a joined request (a 4xx that will never pass): nothing of it was applied, so each of
  its messages is sent again alone, in order, and only the one at fault is dead-lettered with its reason;
- a failure that may pass (5xx, 429, timeout): that request's messages, and every one behind them, are
  retried later in order (none of them is sent now);
- too little time left: the messages not sent yet are handed back untried.
Each message keeps its own idempotency record, under its own key (as one sent alone would): before anything
is sent, the group's records are claimed in one DynamoDB transaction, and after, their outcomes written in
one batch (aws/idempotency_batch.py: two round trips for the group, not two per message). A message applied
already (SQS redelivers a FIFO group from its head, alone or among new ones) is not sent again; one whose
key was used for another payload is dead-lettered with the reason; one still in progress elsewhere is handed
back, with every message behind it (order); two messages of the batch with one key are one call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from talon_relay.aws import idempotency_batch
from talon_relay.aws.idempotency_batch import Entry
from talon_relay.aws.store import Store
from talon_relay.core import service
from talon_relay.core.request import Request
from talon_relay.errors import KeyReused, RelayError
from talon_relay.observability import logger
from talon_relay.wire.formats import MAX_SYNC_ACTIONS

if TYPE_CHECKING:
    from talon_relay.container import Container


@dataclass(frozen=True)
class Member:
    """One queued message of the group, read and checked: its request and its idempotency key."""

    message_id: str
    request: Request
    key: str

    @cached_property
    def entry(self) -> Entry:
        """Its idempotency record's entry, made once: the claims, the repeats and the outcomes share its hash."""
        scope = Store.idempotency_scope(self.request.operation.name, self.request.application)
        return Entry(scope, self.key, self.request.payload)

    @property
    def actions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request.body["actions"]
        return found

    @property
    def kind(self) -> str:
        return str(self.actions[0]["type"])

    @property
    def skus(self) -> set[str]:
        return {sku for action in self.actions if isinstance(sku := (action.get("payload") or {}).get("sku"), str)}

    @property
    def versioned(self) -> bool:
        return self.request.body.get("version") is not None


def _joins(current: list[Member], size: int, skus: set[str], member: Member) -> bool:
    head = current[0]
    return (
        member.request.application == head.request.application
        and dict(member.request.params) == dict(head.request.params)
        and not head.versioned
        and not member.versioned
        and member.kind == head.kind
        and size + len(member.actions) <= MAX_SYNC_ACTIONS
        and not (skus & member.skus)
    )


def plan(members: Iterable[Member]) -> list[list[Member]]:
    """The requests to send, in order: consecutive whole messages joined while the rules allow."""
    requests: list[list[Member]] = []
    size, skus = 0, set[str]()
    for member in members:
        if requests and _joins(requests[-1], size, skus, member):
            requests[-1].append(member)
            size, skus = size + len(member.actions), skus | member.skus
        else:
            requests.append([member])
            size, skus = len(member.actions), set(member.skus)
    return requests


def joined(members: list[Member]) -> Request:
    """One request of several messages (their actions, in order); one message as it is."""
    if len(members) == 1:
        return members[0].request
    body = {"actions": [action for member in members for action in member.actions]}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return replace(members[0].request, body=body, raw=raw)


def run(
    container: Container,
    records: list[Any],
    *,
    decode: Callable[[Any], tuple[Request, str | None]],
    context: Any,
    time_left: Callable[[], bool],
) -> dict[str, Exception | None]:
    """A group's SQS records (each read by `decode`) sent as `send` does; a record that cannot be read has
    its error as its outcome (this message alone is at fault; the others are still sent)."""
    outcomes: dict[str, Exception | None] = {}
    members: list[Member] = []
    for record in records:
        try:
            request, key = decode(record)
        except RelayError as exc:
            outcomes[record.message_id] = exc
            continue
        finally:
            logger.thread_safe_remove_keys(["application"])
        members.append(Member(record.message_id, request, key or record.message_id))
    outcomes.update(send(container, members, context=context, time_left=time_left))
    return outcomes


def _unique(members: list[Member]) -> tuple[list[Member], list[tuple[Member, Member]]]:
    """The members whose keys differ (a transaction takes one write per record), and each repeat of a key
    with the member it repeats (it gets that one's outcome, or a refusal when its payload differs)."""
    firsts: dict[str, Member] = {}
    repeats: list[tuple[Member, Member]] = []
    for member in members:
        first = firsts.setdefault(member.entry.scope_key, member)
        if first is not member:
            repeats.append((member, first))
    return list(firsts.values()), repeats


def send(
    container: Container, members: list[Member], *, context: Any, time_left: Callable[[], bool]
) -> dict[str, Exception | None]:
    """Send the group's requests in order; each message's outcome by id (None: applied). A message without
    an outcome was not tried (a failure or a message in progress ahead of it, or too little time left).

    Each message's record is claimed first, all in one transaction (`idempotency_batch`): one applied
    already is not sent again, one whose key was used for another payload is dead-lettered; then the rest
    are sent, and their records written in one batch."""
    outcomes: dict[str, Exception | None] = {}
    if not members or not time_left():
        return outcomes
    unique, repeats = _unique(members)
    try:
        claims = idempotency_batch.claim(container, [member.entry for member in unique], context=context)
    except RelayError as exc:  # the table is unavailable: nothing was claimed, the group comes back in order
        return dict.fromkeys((member.message_id for member in members), exc)
    fresh: list[Member] = []
    for member, claimed in zip(unique, claims, strict=True):
        if claimed == idempotency_batch.CLAIMED:
            fresh.append(member)
        elif claimed == idempotency_batch.REPLAY:
            outcomes[member.message_id] = None
        elif isinstance(claimed, RelayError):
            outcomes[member.message_id] = claimed
    applied: list[tuple[Entry, str | None]] = []
    try:
        _send_claimed(container, fresh, outcomes, applied, context=context, time_left=time_left)
    finally:
        done = {entry.scope_key for entry, _ in applied}
        released = [m.entry for m in fresh if m.entry.scope_key not in done]
        idempotency_batch.finish(container, applied=applied, released=released)
    for member, first in repeats:
        if member.request.payload != first.request.payload:
            outcomes[member.message_id] = KeyReused(
                f"idempotency key {member.key!r} was already used for a different "
                f"{member.entry.scope} request (message {first.message_id} of this batch)"
            )
        elif first.message_id in outcomes:
            outcomes[member.message_id] = outcomes[first.message_id]
    return outcomes


def _send_claimed(
    container: Container,
    members: list[Member],
    outcomes: dict[str, Exception | None],
    applied: list[tuple[Entry, str | None]],
    *,
    context: Any,
    time_left: Callable[[], bool],
) -> None:
    """The claimed members sent as `plan` joins them, in order; each applied one's answer in `applied`."""
    pending = plan(members)
    while pending:
        request_members = pending.pop(0)
        if not time_left():
            break
        request = joined(request_members)
        try:
            # the records are claimed already (no key here: no record of the joined request)
            answer = service.execute(container, request, context=context, correlation_id=request_members[0].message_id)
        except RelayError as exc:
            if exc.dead_letter and len(request_members) > 1:
                # refused whole: nothing was applied; each message alone finds the one at fault
                logger.info(
                    "a coalesced sync was refused; its messages are sent one by one",
                    extra={"messages": len(request_members), "reason": exc.reason},
                )
                pending[:0] = [[member] for member in request_members]
                continue
            for member in request_members:
                outcomes[member.message_id] = exc
            if exc.dead_letter:
                continue
            break
        except Exception as exc:  # unforeseen: as for one message, retried (the adapter logs it), in order
            for member in request_members:
                outcomes[member.message_id] = exc
            break
        for member in request_members:
            outcomes[member.message_id] = None
            applied.append((member.entry, answer))
        if len(request_members) > 1:
            logger.info(
                "coalesced sync applied",
                extra={"messages": len(request_members), "actions": len(request.body["actions"])},
            )
