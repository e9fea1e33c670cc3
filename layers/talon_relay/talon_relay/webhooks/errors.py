"""The webhook consumer's own error kind, in the relay's one hierarchy (talon_relay.errors.RelayError)."""

from __future__ import annotations

from talon_relay.errors import RelayError


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
