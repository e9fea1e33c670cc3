"""A session's webhook keeps its place in the session's order across a redrive (core/ordering.py).

A webhook that changes a session travels on the shared sessions queue, in the session's FIFO group, beside
the API's queued changes of that session; its place there is a place like theirs. So it is guarded as they
are: when it leaves its queue (dead-lettered by the relay, or on a receive that may be its last) its
session's ordering record gets a hole at the place it carries (`relayOrder`), for the session its FIFO group
names, and updates applied while it is away record their places; when it is back, each of its steps that
changes the open session's content (a cart or codes update: a `last_write_wins` operation of its receiver's
shared queue whose body sets no state) is compared with them, through one guard per session record, read
once. An older step is acknowledged as superseded; its other steps run (their places are another queue's,
or they are the state machine's: `_stays_open`).

Not guarded, and never marked: a webhook planned on the relay's record of its order (a refund, an edit:
`order.recall`). Its steps are the merchant's change applied to the order as it is now, not an older state
of it; and an edit's update and close superseded after its reopen ran would leave the order open.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talon_relay.aws.store import store
from talon_relay.config.applications import DEFAULT
from talon_relay.core import ordering
from talon_relay.errors import InvalidRequest
from talon_relay.operations import OPERATIONS, Operation
from talon_relay.webhooks import mappings
from talon_relay.webhooks.envelope import QueuedWebhook
from talon_relay.webhooks.mapping_model import Step as MappedStep
from talon_relay.webhooks.mapping_model import TopicMapping

if TYPE_CHECKING:
    from talon_relay.container import Container
    from talon_relay.core.request import Request


def guarded(receiver: Operation, mapping: TopicMapping) -> frozenset[str]:
    """The numbers of a receiver's webhook's steps that keep their session's order (none: the webhook is
    neither marked nor compared): those that change an open session's content (cart, codes) on the
    receiver's shared queue, in a webhook not planned on the order's record."""
    if receiver.shared_queue is None or (mapping.order is not None and mapping.order.recall is not None):
        return frozenset()
    return frozenset(
        str(number)
        for number, step in enumerate(mapping.steps, 1)
        if _replaces(receiver, OPERATIONS[step.operation]) and _stays_open(step)
    )


def _replaces(receiver: Operation, step: Operation) -> bool:
    return step.last_write_wins and receiver.shared_queue is not None and step.shared_queue == receiver.shared_queue


def _stays_open(step: MappedStep) -> bool:
    """Whether a step's body visibly sets no state (v1's own, v2's `customerSession`'s). A step that moves
    the session (a close, a cancel) is left to the state machine (core/lifecycle.py): applied late, it
    brings the session where the changes in order would have (a cart update after it would have been
    refused as late), and one the session moved on past is refused; superseded, it would leave the
    session open while the webhook's other steps (the purchase) ran."""
    body = step.body
    session = body.get("customerSession", body) if isinstance(body, dict) else None
    return isinstance(session, dict) and "state" not in session


@dataclass
class _Session:
    """One session record's guard for a webhook: made at its first guarded step, then whether it was
    superseded, and whether its place was recorded (once: the webhook's steps share its place)."""

    check: ordering.Guard | None
    superseded: bool
    recorded: bool = False


@dataclass
class Steps:
    """One queued webhook's steps in their sessions' order: a guard per session record, read (or marked, on
    a last receive) at its first guarded step, recorded after that step applied."""

    container: Container
    record: Mapping[str, Any] | None
    numbers: frozenset[str] = frozenset()
    sessions: dict[tuple[str, str | None], _Session] = field(default_factory=dict)

    @classmethod
    def of(
        cls, container: Container, receiver: Operation, mapping: TopicMapping, record: Mapping[str, Any] | None
    ) -> Steps:
        """`record`: the webhook's SQS record (None: nothing is guarded)."""
        numbers = guarded(receiver, mapping) if record is not None else frozenset()
        if numbers and record is not None:
            ordering.position_of(record)  # a place that cannot be trusted: a dead letter before any step is sent
            return cls(container, record, numbers)
        return cls(container, None)

    def applied(self, step: str, request: Request, call: Callable[[], bool]) -> bool:
        """`call` step `step` (its label: `2`, `2.1`, `refund-7#1`) unless it is guarded and a newer update of
        its session was applied while this webhook was away (then: False, acknowledged as superseded).
        Else `call`'s answer."""
        if self.record is None or step.rpartition("#")[2].partition(".")[0] not in self.numbers:
            return call()
        key = (request.application, request.group_id)
        if key not in self.sessions:
            check = ordering.guard(self.container, request.operation, request, self.record)
            self.sessions[key] = _Session(check, check is not None and check.superseded())
        session = self.sessions[key]
        if session.superseded:
            return False
        answer = call()
        if session.check is not None and not session.recorded:
            session.check.applied()
            session.recorded = True
        return answer


def leaving(container: Container, operation: Operation, record: Mapping[str, Any], application: str | None) -> None:
    """Mark the session's record before the relay dead-letters a guarded webhook (at the place it carries to
    the DLQ), for the session its FIFO group names (`<application>/<session>`, or the session alone for the
    default application). Raises when the mark cannot be written: the message then stays on its queue."""
    place = ordering.Position.parse(ordering.carried(record).get(ordering.ATTRIBUTE, {}).get("StringValue"))
    group = str((record.get("attributes") or {}).get("MessageGroupId") or "")
    table = store(container)
    if place is None or not group or table is None or operation.shared_queue is None:
        return
    try:
        message = QueuedWebhook.decode(str(record.get("body") or ""))
    except InvalidRequest:  # not a webhook as queued: it cannot be applied as it is
        return
    mapping = mappings.for_topic(container, message.platform, message.topic)
    if message.platform != operation.webhook or mapping is None or not guarded(operation, mapping):
        return
    application, session = named(container, group, application)
    expires = int(time.time()) + container.settings().ordering_expiry_seconds
    item_id = table.ordering_id(operation.shared_queue, session, application)
    table.mark_hole(item_id, f"{place.wire()}@{expires}", expires=expires)


def named(container: Container, group: str, application: str | None) -> tuple[str, str]:
    """(application, session) of a FIFO group on the sessions queue: `<application>/<session>` for an
    application other than the default (the one the webhook reached, else the one the group's prefix names)."""
    prefix, slash, _ = group.partition("/")
    if application is None and slash and prefix != DEFAULT and container.applications().get(prefix) is not None:
        application = prefix
    if application is None or application == DEFAULT or not group.startswith(f"{application}/"):
        return DEFAULT if application is None else application, group
    return application, group[len(application) + 1 :]
