"""Order that survives redrive: a queued update older than one already applied is never applied over it.

For the operations whose request replaces what the one before left for the same customer (the table's
`last_write_wins`: session and profile updates) on their FIFO queues. SQS keeps a customer's messages
in order while they are on the queue; what it cannot keep in order is a message that left it (dead-
lettered after an outage longer than the horizon, or for a fault fixed later) and comes back by redrive
after newer updates of the same customer were applied. That message is acknowledged and logged as
`superseded`, never applied, so a redrive brings Talon.One to the latest state, not an old one.

A message's position is where it stood when it was first sent: (SentTimestamp in ms, SequenceNumber),
SequenceNumber growing within a message group. A redriven copy is a new message (new id, new
timestamp, new sequence number), so the position must travel with it: the relay puts it on every
message it dead-letters as the message attribute `relayOrder` (kept by `make redrive` and by SQS's own
DLQ redrive), and a message that carries one keeps that position. A message SQS moved to the DLQ by
itself (its function crashed or timed out on every receive) gets one from `make redrive` (its
SentTimestamp in the DLQ: never later than anything sent after it left its queue).

The last applied position per (operation, customer) is kept in the relay's table (`aws.store`) under
`ordering#<operation>#<customer>` (on a shared queue, `ordering#<queue>#<customer>`: one place per session
across updateCustomerSession v1 and v2), written with a condition that only lets it move forward. Within a
FIFO group the relay processes one message at a time, so reading it, calling Talon.One and writing it
cannot interleave with another message of the same customer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay import telemetry
from talon_relay.aws.store import Store, store
from talon_relay.core.input_limits import printable
from talon_relay.core.request import Request
from talon_relay.errors import InvalidRequest
from talon_relay.observability import logger
from talon_relay.operations import Operation

if TYPE_CHECKING:
    from talon_relay.container import Container

#: The message attribute that carries a message's original position through a dead-letter queue.
ATTRIBUTE = "relayOrder"


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

    def superseded(self) -> bool:
        """Whether a newer update of this customer was applied already (then: acknowledged, not applied)."""
        applied = self.store.applied_position(self.item_id)
        if not applied or applied <= self.position.sortable():
            return False
        self.container.counts.add(telemetry.SUPERSEDED)
        logger.info(
            "superseded: a newer update of this customer was applied; acknowledged, not applied",
            extra={"message_id": self.message_id, "position": self.position.wire()},
        )
        return True

    def applied(self) -> None:
        """Record this update as the customer's latest (only ever forward)."""
        self.store.record_position(
            self.item_id,
            self.position.sortable(),
            message_id=self.message_id,
            expires=int(time.time()) + self.expiry_seconds,
        )


def guard(container: Container, operation: Operation, request: Request, record: Mapping[str, Any]) -> Guard | None:
    """The ordering guard of a queued update, or None where order is SQS's alone (not last-write-wins,
    not FIFO, no table configured, no position)."""
    if not operation.last_write_wins:
        return None
    if not (record.get("attributes") or {}).get("MessageGroupId"):
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
    )


def in_order(
    container: Container, operation: Operation, request: Request, record: Mapping[str, Any], apply: Callable[[], object]
) -> bool:
    """`apply` a queued request unless a newer update of its customer was applied already (then it is
    acknowledged as superseded); its place recorded after. True when it was applied."""
    check = guard(container, operation, request, record)
    if check is not None and check.superseded():
        return False
    apply()
    if check is not None:
        check.applied()
    return True
