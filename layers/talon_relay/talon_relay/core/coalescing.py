"""Coalescing: one FIFO group's queued requests sent as few calls as the operation's rules allow.

For the table's `coalesce` entries (syncCatalog, whose group is the catalog): a batch of one catalog's
queued syncs becomes as few `syncCatalog` calls as Talon.One takes. Whole messages are joined, in the
order they were queued, into one request while it stays what Talon.One accepts: at most 1,000 actions,
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
A joined request's idempotency key is made from its messages' keys: delivered again with the same
messages (SQS redelivers a FIFO group from its head), it is answered from the record, not sent twice.
Once it went through, each of its messages is recorded as applied under its own key too: delivered again
among other messages, a joined request Talon.One refuses because some of it was applied already (an ADD of
a SKU it has) falls back to one message at a time, and each applied one is answered from its record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from talon_relay.aws.idempotency import run_once
from talon_relay.aws.store import Store
from talon_relay.core import service
from talon_relay.core.request import Request
from talon_relay.errors import RelayError
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


def joined(members: list[Member]) -> tuple[Request, str]:
    """One request of several messages (their actions, in order) and its idempotency key; one message as
    it is, with its own key."""
    if len(members) == 1:
        return members[0].request, members[0].key
    body = {"actions": [action for member in members for action in member.actions]}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    key = "coalesced:" + hashlib.sha256("\n".join(member.key for member in members).encode()).hexdigest()
    return replace(members[0].request, body=body, raw=raw), key


def _remember(container: Container, members: list[Member], answer: str | None, context: Any) -> None:
    """Each message of an applied joined request recorded under its own key (its answer: the joined one's)."""
    for member in members:
        scope = Store.idempotency_scope(member.request.operation.name, member.request.application)
        try:
            run_once(
                container, member.key, scope=scope, payload=member.request.payload, call=lambda: answer, context=context
            )
        except RelayError as exc:  # Talon.One applied it: a record that cannot be written does not undo that
            logger.warning("could not record a coalesced message as applied", extra={"reason": exc.reason})


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


def send(
    container: Container, members: list[Member], *, context: Any, time_left: Callable[[], bool]
) -> dict[str, Exception | None]:
    """Send the group's requests in order; each message's outcome by id (None: applied). A message without
    an outcome was not tried (a failure ahead of it, or too little time left)."""
    outcomes: dict[str, Exception | None] = {}
    pending = plan(members)
    while pending:
        request_members = pending.pop(0)
        if not time_left():
            break
        request, key = joined(request_members)
        try:
            answer = service.execute(
                container, request, context=context, correlation_id=request_members[0].message_id, idempotency_key=key
            )
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
        if len(request_members) > 1:
            _remember(container, request_members, answer, context)
            logger.info(
                "coalesced sync applied",
                extra={"messages": len(request_members), "actions": len(request.body["actions"])},
            )
    return outcomes
