"""The webhook consumer's own error kind, in the relay's one hierarchy (talon_relay.errors.RelayError)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from talon_relay.errors import InvalidRequest, RelayError

#: The dead-letter attribute of a webhook that waits for its order's record (AwaitsOrder): `make redrive` moves
#: such letters after the other letters of their FIFO group (the paid order may be among them, dead-lettered by
#: an outage), in their own order.
AWAITS_ORDER = "awaitsOrder"


class StepFailed(RelayError):
    """One step of a mapped webhook failed. Its disposition is the step's own error's (retry, or
    dead letter); the reason names the step, so the dead letter says which call to look at."""

    def __init__(self, step: int | str, operation: str, cause: RelayError) -> None:
        super().__init__(f"step {step} ({operation}): {cause.reason}")
        self.cause = cause

    @property
    def dead_letter(self) -> bool:  # type: ignore[override]
        return self.cause.dead_letter

    @property
    def talon_status(self) -> int | None:
        return self.cause.talon_status

    @property
    def log_level(self) -> str:  # type: ignore[override]
        return self.cause.log_level

    @property
    def letter_attributes(self) -> Mapping[str, Any]:  # type: ignore[override]
        return self.cause.letter_attributes


class AwaitsOrder(InvalidRequest):
    """A refund or an edit (a mapping that recalls its order) that the relay's record of the order does not
    support yet: no record, or a line or quantity the record lacks. Dead-lettered at once, not retried: waiting
    would hold up its customer's FIFO group, where the paid order or the edit it needs may be behind it."""

    letter_attributes: Mapping[str, Any] = MappingProxyType(
        {AWAITS_ORDER: {"DataType": "String", "StringValue": "true"}}
    )
