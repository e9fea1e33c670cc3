"""Replay protection: each caller signature is accepted once.

A signature proves who sent a request, not that it is new: a captured request could be sent again
and again within its five-minute window. So each verified signature (`callers.Signature`) is recorded
with a DynamoDB conditional put in the idempotency table the functions already use (its `id` key and
`expiration` TTL attribute), kept until its window closes; the same signature again is a 401.
"""

from __future__ import annotations

import time

from talon_relay.callers import SIGNATURE_HEADER, TOLERANCE_SECONDS, Signature
from talon_relay.errors import StoreUnavailable, Unauthenticated
from talon_relay.idempotency import store
from talon_relay.observability import logger

#: A replay record's id is `<function>.signature#<replay id>`: the function's own key prefix, as its Powertools
#: records' (`<function>.<name>#<hash>`), never one of theirs. (A signature covers its route, so no other
#: function could accept it anyway.)
PREFIX = "signature#"


_warned: list[bool] = []


def remember(signature: Signature, *, table: str | None, owner: str, now: float | None = None) -> None:
    """Record `signature` as used, or raise Unauthenticated when it was used before.

    Without a table (IDEMPOTENCY_TABLE_NAME unset: library use, the bench; the template always sets
    it) nothing can be remembered, as nothing is for idempotency: said once per container, loudly.
    """
    if not table:
        if not _warned:
            _warned.append(True)
            logger.warning(
                "signatures are not protected against replay",
                extra={"reason": "IDEMPOTENCY_TABLE_NAME is not set: no table records used signatures"},
            )
        return
    from botocore.exceptions import BotoCoreError, ClientError

    persistence = store(table)
    now = time.time() if now is None else now
    # Kept until the signature's window has closed: after that its timestamp alone refuses it.
    expires = int(signature.timestamp) + TOLERANCE_SECONDS + 2
    for replay_id in signature.replay_ids:
        try:
            persistence.client.put_item(
                TableName=table,
                Item={"id": {"S": f"{owner}.{PREFIX}{replay_id}"}, "expiration": {"N": str(expires)}},
                # A record past its TTL may linger until DynamoDB removes it: it no longer counts.
                ConditionExpression="attribute_not_exists(#id) OR #expiration < :now",
                ExpressionAttributeNames={"#id": "id", "#expiration": "expiration"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise Unauthenticated(
                    f"{SIGNATURE_HEADER} was used before: each signature is accepted once "
                    "(sign every request, retries included, when it is sent)"
                ) from None
            raise StoreUnavailable(f"replay store unavailable: {code or type(exc).__name__}") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(f"replay store unavailable: {type(exc).__name__}") from None
