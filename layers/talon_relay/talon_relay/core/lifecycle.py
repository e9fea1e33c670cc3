"""A session's state machine, as the relay knows it: what Talon.One refuses, and what the relay does then.

open->closed, open->cancelled, closed->cancelled and partially_returned->cancelled (an update);
closed->partially_returned (returns only); closed->open (reopen only). Talon.One refuses anything else
with a 400 "Cannot move session to state <new> from state <current>", before it changes anything.

The relay keeps no record of each session's state (docs/lifecycle.md says why: Talon.One is the one
authority, sessions change outside the relay, and a record would cost a write per message); it reads
Talon.One's refusal instead. On the sessions queue a session's changes reach Talon.One in the order they
were sent, so a refusal there is the truth of that order:

- a change of the cart or codes (an update to `open`) of a session already closed, returned or
  cancelled is a late update: the order went on without it. It is acknowledged as `superseded`,
  logged and counted, never retried, never a dead letter (nothing to repair, nobody to page);
- a reopen refused because the session is open already is one an earlier attempt made, whose answer
  was lost (Talon.One reopened it; the relay retried): it counts as done, and the change's next step (the
  edited cart, the close) runs. Left a dead letter, it would strand the order open, its points taken back;
- any other refused move (a return of an open session, a reopen of a cancelled one, ...) is a dead
  letter whose reason names the move and what the state machine allows from there.

An API caller that waits for its answer gets Talon.One's 400 as it is (the API adapter never calls here).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from talon_relay import telemetry
from talon_relay.errors import RelayError
from talon_relay.observability import logger
from talon_relay.talon.errors import TalonOneError

if TYPE_CHECKING:
    from talon_relay.container import Container
    from talon_relay.core.request import Request

#: Every move of the state machine, and the operation that makes it (update: updateCustomerSession v1/v2).
TRANSITIONS: dict[tuple[str, str], str] = {
    ("open", "closed"): "update",
    ("open", "cancelled"): "update",
    ("closed", "cancelled"): "update",
    ("partially_returned", "cancelled"): "update",
    ("closed", "partially_returned"): "returnCartItems",
    ("partially_returned", "partially_returned"): "returnCartItems",
    ("closed", "open"): "reopenCustomerSession",
}
#: States a session reaches only after it was open: an update to `open` arriving then came too late.
AFTER_THE_ORDER = frozenset({"closed", "partially_returned", "cancelled"})
#: What the operations that only ever move a session to `open` through an update are called.
UPDATES = frozenset({"updateCustomerSession", "updateCustomerSessionV2"})

REOPEN = "reopenCustomerSession"
_REFUSAL = re.compile(r"Cannot move session to state (\w+) from state (\w+)")


class Move(NamedTuple):
    """A move Talon.One refused: from the session's state to the one asked for."""

    current: str
    new: str

    def allowed(self) -> str:
        moves = [f"{new} ({by})" for (current, new), by in TRANSITIONS.items() if current == self.current]
        return ", ".join(moves) or "nothing (a final state)"


class TransitionRefused(RelayError):
    """A session change Talon.One refused by the state machine: a dead letter with the reason, never a retry."""

    api_status = 400
    dead_letter = True
    log_message = "session state transition refused"

    def __init__(self, operation: str, session: str | None, move: Move, cause: TalonOneError) -> None:
        super().__init__(
            f"refused transition: {operation} cannot move session {session!r} from {move.current} to {move.new};"
            f" from {move.current} the state machine allows {move.allowed()} (Talon.One {cause.status}:"
            f" {cause.message})"
        )
        self.cause = cause

    @property
    def talon_status(self) -> int | None:
        return self.cause.status


def refused_move(exc: TalonOneError) -> Move | None:
    """The move a Talon.One 400 refused, when it is a state transition; None for any other failure."""
    if exc.status != 400:
        return None
    texts = [exc.message]
    error = exc.error
    if error is not None:
        texts += [f"{item.title} {item.details or ''}" for item in error.errors or []]
    for text in texts:
        found = _REFUSAL.search(text or "")
        if found:
            return Move(current=found.group(2), new=found.group(1))
    return None


def is_late(operation: str, move: Move) -> bool:
    """Whether a refused move is a late cart update: an update to `open` after the order went on."""
    return operation in UPDATES and move.new == "open" and move.current in AFTER_THE_ORDER


def applied(container: Container, request: Request, call: Callable[[], object]) -> bool:
    """Run a queued session change; False when it came too late (acknowledged as superseded). A refused
    transition otherwise raises TransitionRefused (a dead letter naming the move)."""
    try:
        call()
    except TalonOneError as exc:
        move = refused_move(exc)
        if move is None:
            raise
        operation = request.operation.name
        if operation == REOPEN and move == Move(current="open", new="open"):
            logger.info(
                "already reopened: an earlier attempt went through, its answer was lost; the next step runs",
                extra={"disposition": "already_applied", "session_state": move.current, "target": operation},
            )
            return True
        if not is_late(operation, move):
            raise TransitionRefused(operation, request.group_id, move, exc) from exc
        container.counts.add(telemetry.SUPERSEDED)
        logger.info(
            "superseded: a late update of a session the order already moved on; acknowledged, not retried",
            extra={"disposition": "superseded", "session_state": move.current, "target": operation},
        )
        return False
    return True
