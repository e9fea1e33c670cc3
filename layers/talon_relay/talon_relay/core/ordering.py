"""Order that survives redrive: a queued update older than one already applied is never applied over it.

For the operations whose request replaces what the one before left for the same customer (`last_write_wins`:
session and profile updates) on their FIFO queues; a session's cart and codes webhooks on the sessions queue
keep the same order (webhooks/session_order.py). SQS keeps a customer's messages in order while they are on
the queue, not one that left it (dead-lettered after an outage longer than the horizon, or for a fault fixed
later) and comes back by redrive after newer updates of the customer were applied: that one is acknowledged
and logged as `superseded`, never applied over them; unless it closes or cancels its session (`moves_on`).

A message's position is where it stood when first sent: (SentTimestamp in ms, SequenceNumber). A redriven
copy is a new message, so the position travels with it: the relay puts it on every message it dead-letters
as the attribute `relayOrder` (kept by `make redrive` and SQS's own DLQ redrive). A message SQS moved to the
DLQ by itself (its function crashed or timed out on every receive) gets one from `make redrive` (its
SentTimestamp in the DLQ, which a FIFO DLQ resets to the move's), and stands where its hole says (below).

Each customer's ordering record is in the relay's table (`aws.store`) under `ordering#<operation>#<customer>`
(on a shared queue `ordering#<queue>#<customer>`: one place per session across v1 and v2). It is written
only while a message of that customer is away from its queue, or may be: before the relay dead-letters a
guarded message, and on a receive that may be its last (ApproximateReceiveCount >= MAX_RECEIVE_COUNT), the
record gets a hole, the message's place (`<place>@<expiry>`). Each guarded message reads the record (one
consistent read); without holes (the normal case) nothing is written. With holes, an applied message records
its place (only ever forward, with a condition), and a message that is back (its place is a hole; for a
place `make redrive` gave, the hole of that millisecond, else the earliest one before it) takes its hole out
once applied or superseded. A FIFO group's messages are processed one at a time. A hole never come back to
expires after ORDERING_EXPIRY_SECONDS. With maxReceiveCount 1 each receive is a last one (4 writes a message).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay import telemetry
from talon_relay.aws.store import Store, store
from talon_relay.config.applications import DEFAULT
from talon_relay.core import lifecycle, messages
from talon_relay.core.input_limits import printable
from talon_relay.core.request import Request
from talon_relay.errors import InvalidRequest
from talon_relay.observability import logger
from talon_relay.operations import Operation, operation_of

if TYPE_CHECKING:
    from talon_relay.container import Container

#: The message attribute that carries a message's original position through a dead-letter queue.
ATTRIBUTE = "relayOrder"
#: The one naming a message's application (callers.applications', which core does not import).
APPLICATION_ATTRIBUTE = "relayApplication"


@dataclass(frozen=True, order=True)
class Position:
    """Where a message stood in its customer's order when first sent."""

    sent_ms: int
    sequence: int = 0

    def wire(self) -> str:
        """As the `relayOrder` attribute: `<SentTimestamp>.<SequenceNumber>`."""
        return f"{self.sent_ms}.{self.sequence}"

    def sortable(self) -> str:
        """As stored: fixed-width digits, so DynamoDB's string order is the positions' order."""
        return f"{self.sent_ms:015d}{self.sequence:040d}"

    @classmethod
    def parse(cls, text: str | None) -> Position | None:
        if not text:
            return None
        sent, _, sequence = text.partition(".")
        if not sent.isdigit() or not (sequence == "" or sequence.isdigit()) or len(sent) > 15 or len(sequence) > 40:
            return None
        return cls(int(sent), int(sequence or 0))


def _sent(record: Mapping[str, Any]) -> Position | None:
    """Where SQS says this copy of the message was sent: its SentTimestamp and SequenceNumber."""
    attributes = record.get("attributes") or {}
    sent = str(attributes.get("SentTimestamp") or "")
    sequence = str(attributes.get("SequenceNumber") or "")
    if not sent.isdigit():
        return None
    return Position(int(sent), int(sequence) if sequence.isdigit() and len(sequence) <= 40 else 0)


def position_of(record: Mapping[str, Any]) -> Position | None:
    """A Lambda SQS record's position: the `relayOrder` it carries, else its SentTimestamp and SequenceNumber.

    A carried place is never later than SQS's own for this copy (a message is first sent before it is sent
    again): one that is, or that does not parse, is an InvalidRequest (a dead letter), never trusted, since
    a forged later place would have every real update behind it acknowledged as superseded.
    """
    own = _sent(record)
    attribute = (record.get("messageAttributes") or {}).get(ATTRIBUTE)
    if attribute is None:
        return own
    text = str(attribute.get("stringValue") or "")
    position = Position.parse(text)
    if position is None:
        details = f"{printable(text[:60])!r} is not a place (<SentTimestamp>.<SequenceNumber>)"
    elif own is None or position > own:
        details = f"{position.wire()} is later than the message was sent ({own.wire() if own else 'unknown'})"
    else:
        return position
    raise InvalidRequest.single("Invalid message attribute", f"{details}: not trusted", parameter=ATTRIBUTE)


def carried(record: Mapping[str, Any]) -> dict[str, Any]:
    """The message attribute that keeps a record's position when it is dead-lettered (SendMessage shape):
    the place it carries, or SQS's when that cannot be trusted."""
    try:
        position = position_of(record)
    except InvalidRequest:
        position = _sent(record)
    if position is None:
        return {}
    return {ATTRIBUTE: {"DataType": "String", "StringValue": position.wire()}}


def redriven(message: Mapping[str, Any]) -> dict[str, Any]:
    """What a dead letter moved back to its queue carries to keep its place (ReceiveMessage -> SendMessage
    shape): its `relayOrder`, or, when SQS moved it there without one, its SentTimestamp in the DLQ."""
    attributes = message.get("MessageAttributes") or {}
    if Position.parse((attributes.get(ATTRIBUTE) or {}).get("StringValue")) is not None:
        return {}
    sent = str((message.get("Attributes") or {}).get("SentTimestamp") or "")
    if not sent.isdigit():
        return {}
    return {ATTRIBUTE: {"DataType": "String", "StringValue": Position(int(sent)).wire()}}


@dataclass
class Guard:
    """The check before, and the record after, applying one queued update."""

    container: Container
    store: Store
    item_id: str
    position: Position
    message_id: str
    expiry_seconds: int
    #: whether SQS may move the message to its DLQ by itself after this receive (it is marked first)
    last_receive: bool = False
    #: the record as read: the last applied place recorded ("": none), and its holes
    applied_at: str = ""
    holes: frozenset[str] = frozenset()
    #: the place the message carried (`position`: its hole's place, when that stands for it: `stand_in`)
    given: Position | None = None

    def superseded(self, *, final: bool = False) -> bool:
        """Whether a newer update of this customer was applied already (then: acknowledged, not applied); never
        for a `final` one (a close, a cancel), which is applied, its place recorded only if it is the newest."""
        if self.last_receive:
            hole, expires = f"{self.position.wire()}@{self._expires()}", self._expires()
            self.applied_at, self.holes = self.store.mark_hole(self.item_id, hole, expires=expires)
        else:
            self.applied_at, self.holes = self.store.ordering_record(self.item_id)
        self.given, self.position = self.position, stand_in(self.holes, self.position)
        if final or not self.applied_at or self.applied_at <= self.position.sortable():
            return False
        self._settle(applied=False)
        self.container.counts.add(telemetry.SUPERSEDED)
        logger.info(
            "superseded: a newer update of this customer was applied; acknowledged, not applied",
            extra={"message_id": self.message_id, "position": self.position.wire()},
        )
        return True

    def applied(self) -> None:
        """Record this update as the customer's latest (only ever forward), while the record has holes."""
        self._settle(applied=True)

    def _expires(self) -> int:
        return int(time.time()) + self.expiry_seconds

    def _settle(self, *, applied: bool) -> None:
        """Without holes, nothing to write (nor worked out). With some: this message's own hole out (it is
        back and settled), expired ones out, and its place recorded if `applied`, in one write."""
        if not self.holes:
            return
        position = self.position.sortable() if applied else None
        now = int(time.time())
        live = {hole for hole in self.holes if _expiry(hole) >= now}
        places = {self.position.wire(), (self.given or self.position).wire()}  # every mark of its place
        done = frozenset(self.holes - live) | {hole for hole in live if hole.partition("@")[0] in places}
        if position is None and not done:
            return
        self.store.settle(self.item_id, position, done=done, message_id=self.message_id, expires=self._expires())


def _expiry(hole: str) -> int:
    """When a hole (`<place>@<expiry>`) expires; one that does not say, already."""
    expiry = hole.rpartition("@")[2]
    return int(expiry) if expiry.isdigit() else 0


def stand_in(holes: frozenset[str], position: Position) -> Position:
    """Where a message `make redrive` gave a place (no sequence number: SQS moved it by itself) first stood: the
    hole of that millisecond, else the one hole before it (a FIFO DLQ resets the timestamp to the move's)."""
    found = {Position.parse(hole.partition("@")[0]) for hole in holes} if not position.sequence else set()
    places = [p for p in found if p is not None and p.sequence and p.sent_ms <= position.sent_ms]
    same = [p for p in places if p.sent_ms == position.sent_ms]
    return min(same) if same else places[0] if len(places) == 1 else position  # several: unknown, as it was


def _last_receive(container: Container, record: Mapping[str, Any]) -> bool:
    """This receive may be the message's last (MAX_RECEIVE_COUNT; unknown: any receive after the first)."""
    limit = container.settings().max_receive_count
    received = str((record.get("attributes") or {}).get("ApproximateReceiveCount") or "1")
    count = int(received) if received.isdigit() else 1
    return count >= limit if limit is not None else count > 1


def guard(container: Container, operation: Operation, request: Request, record: Mapping[str, Any]) -> Guard | None:
    """The ordering guard of a queued update, or None where order is SQS's alone (not last-write-wins,
    not FIFO, no table configured, no position)."""
    if not operation.last_write_wins or not (record.get("attributes") or {}).get("MessageGroupId"):
        return None
    table = store(container)
    customer = request.group_id
    position = position_of(record)
    if table is None or not customer or position is None:
        return None
    return Guard(
        container=container,
        store=table,
        # on a shared queue one place per customer across its operations (v1 and v2 updates of a session)
        item_id=table.ordering_id(operation.shared_queue or operation.name, customer, request.application),
        position=position,
        message_id=str(record.get("messageId") or ""),
        expiry_seconds=container.settings().ordering_expiry_seconds,
        last_receive=_last_receive(container, record),
    )


def leaving(container: Container, operation: Operation, record: Mapping[str, Any], application: str | None) -> None:
    """Mark its customer's record before the relay dead-letters a guarded message (at the place it
    carries to the DLQ), so the updates applied while it is away record theirs. Raises when the mark
    cannot be written: the message then stays on its queue."""
    place = Position.parse(carried(record).get(ATTRIBUTE, {}).get("StringValue"))
    table = store(container)
    attributes = record.get("messageAttributes") or {}
    with contextlib.suppress(InvalidRequest):  # on a shared queue, the operation the message names
        operation = operation_of(operation, attributes)
    if application is None:  # not read yet (not attempted): the one it claims (a wrong mark costs, never misorders)
        application = str((attributes.get(APPLICATION_ATTRIBUTE) or {}).get("stringValue") or DEFAULT)
    fifo = (record.get("attributes") or {}).get("MessageGroupId")
    if not operation.last_write_wins or not fifo or table is None or place is None:
        return
    body = str(record.get("body") or "")
    try:
        customer = messages.decode(operation, body, application)[0].group_id
    except InvalidRequest:  # unreadable now, maybe readable after a fix: marked too, where it names its customer
        customer = _customer(operation, body)
    if not customer:
        return
    expires = int(time.time()) + container.settings().ordering_expiry_seconds
    item_id = table.ordering_id(operation.shared_queue or operation.name, customer, application)
    table.mark_hole(item_id, f"{place.wire()}@{expires}", expires=expires)


def _customer(operation: Operation, body: str) -> str | None:
    """The customer of a message that does not decode, where it names one as a request would, else None."""
    try:
        message = json.loads(body)
    except Exception:  # not JSON, or nested too deep to read (RecursionError): no customer named
        return None
    key = operation.group_by
    if key is None or not isinstance(message, dict):
        return operation.group
    holder = message if key in operation.path_params else message.get("body")
    found = holder.get(key) if isinstance(holder, dict) else None
    return found if isinstance(found, str) else None


def moves_on(request: Request) -> bool:
    """Whether a session update asks for a state past `open` (a close, a cancel): never superseded (the order
    would never close in Talon.One), applied late as the state machine allows. Read here: one pass (test_path)."""
    body = request.body if request.operation.name in lifecycle.UPDATES else None
    session = body.get("customerSession", body) if isinstance(body, dict) else None
    return isinstance(session, dict) and session.get("state") in lifecycle.AFTER_THE_ORDER


def in_order(
    container: Container, operation: Operation, request: Request, record: Mapping[str, Any], apply: Callable[[], object]
) -> bool:
    """`apply` a queued request unless a newer update of its customer was applied already (acknowledged as
    superseded); its place recorded after, while its customer's record has holes. True when applied."""
    check = guard(container, operation, request, record)
    if check is not None and check.superseded(final=moves_on(request)):
        return False
    apply()
    if check is not None:
        check.applied()
    return True
