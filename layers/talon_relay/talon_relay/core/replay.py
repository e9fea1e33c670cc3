"""Replay protection: each caller signature is accepted once.

A signature proves who sent a request, not that it is new: a captured request could be sent again
and again within its five-minute window. So each verified signature (`callers.Signature`) is recorded
with a DynamoDB conditional put in the relay's table (`aws.store`), kept until its window closes; the
same signature again is a 401.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talon_relay.aws.store import store
from talon_relay.core.callers import SIGNATURE_HEADER, TOLERANCE_SECONDS, Signature
from talon_relay.errors import Unauthenticated
from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.container import Container


def _warn_unprotected() -> bool:
    logger.warning(
        "signatures are not protected against replay",
        extra={"reason": "IDEMPOTENCY_TABLE_NAME is not set: no table records used signatures"},
    )
    return True


def remember(container: Container, signature: Signature, *, now: float | None = None) -> None:
    """Record `signature` as used, or raise Unauthenticated when it was used before.

    Without a table (IDEMPOTENCY_TABLE_NAME unset: library use, the bench; the template always sets
    it) nothing can be remembered, as nothing is for idempotency: said once per container, loudly.
    """
    table = store(container)
    if table is None:
        container.once("replay-unprotected-warning", _warn_unprotected)
        return
    # Kept until the signature's window has closed: after that its timestamp alone refuses it.
    expires = int(signature.timestamp) + TOLERANCE_SECONDS + 2
    for replay_id in signature.replay_ids:
        if not table.remember_signature(replay_id, expires=expires, now=now):
            raise Unauthenticated(
                f"{SIGNATURE_HEADER} was used before: each signature is accepted once "
                "(sign every request, retries included, when it is sent)"
            )
