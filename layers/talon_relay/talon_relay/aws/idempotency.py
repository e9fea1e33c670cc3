"""Exactly-once effects: a duplicate delivery makes no second Talon.One call.

Webhook senders retry and SQS delivers at least once. Each request's key has a record in the relay's
table: a repeat gets the first call's answer, the same key with another payload is refused, a call
still running is a 409, and a call that failed leaves its key free (so it can be retried).

The records are Powertools idempotency's (the same ids, attributes and hashes, so records written by
either survive a deploy), written by the relay itself for two reasons measured in docs/performance.md:
Powertools' DynamoDB layer imports boto3 (about 100 ms of a cold start; `table_client` needs none), and
a signed request's signature is folded into the record's claim. The claim is one conditional
UpdateItem: it takes the key (new, expired, or abandoned in progress) AND adds the request's signature
to the record's `signatures`, unless the record holds it already. So a signed request with an
Idempotency-Key costs one write before Talon.One is called, not two (`callers.access`), and a replay of
its signature is still refused: it can only reach this same record (v2 signs the key), which says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay.aws import answers
from talon_relay.aws.store import Store, error_code, store
from talon_relay.errors import InProgress, KeyReused, StoreUnavailable, Unauthenticated
from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.container import Container

Result = str | None  # the JSON text of Talon.One's answer (None for 204)

#: What Powertools' `idempotent_function` named the records (`<function>.<module>.<qualname>#<hash>`).
RECORD_NAME = "talon_relay.aws.idempotency.run_once.<locals>.relay"
INPROGRESS, COMPLETED = "INPROGRESS", "COMPLETED"
#: A record whose call failed, kept (not deleted, as Powertools would) for the signatures it holds.
RELEASED = "RELEASED"
#: Seconds a released record keeps its signatures: a signature's window (`callers.signatures`).
SIGNATURE_WINDOW_SECONDS = 302
_NAMES = {
    "#id": "id",
    "#expiry": "expiration",
    "#status": "status",
    "#ipe": "in_progress_expiration",
    "#validation": "validation",
    "#data": "data",
}
_USED = (
    "X-Relay-Signature was used before: each signature is accepted once "
    "(sign every request, retries included, when it is sent)"
)
_CLAIMABLE = (
    "(attribute_not_exists(#id) OR #expiry < :now OR #status = :released"
    " OR (#status = :inprogress AND attribute_exists(#ipe) AND #ipe < :now_ms))"
)


#: json.dumps(value, sort_keys=True)'s encoder, made once (dumps with an option makes one each call); the
#: same text, so the same hash as the records already written. Without the circular-reference check (a dict
#: of every container's id): what it encodes is read from JSON, or the relay's own, never circular
_SORTED = json.JSONEncoder(sort_keys=True, check_circular=False)


def _hash(value: Any) -> str:
    return hashlib.sha256(_SORTED.encode(value).encode()).hexdigest()


def stored_text(stored: answers.Stored) -> str:
    """What a record's `data` holds: its stored answer as json.dumps(stored, sort_keys=True) writes it."""
    return _SORTED.encode(stored)


def payload_hash(payload: Any) -> str:
    """A request's hash as its record keeps it (`validation`): the same key with another payload is refused."""
    return _hash(payload)


def record_id(table: Store, scope_key: str) -> str:
    """The id of the record of `scope_key` (`<scope>#<key>`), as Powertools named it."""
    return f"{table.owner}.{RECORD_NAME}#{_hash(scope_key)}"


#: a claim's UpdateExpression with and without an in-progress expiry (`claim_params`), written once
_CLAIM = "SET #status = :inprogress, #expiry = :expiry, #validation = :validation"
_CLAIM_UPDATES = (_CLAIM + " REMOVE #data, #ipe", _CLAIM + ", #ipe = :ipe REMOVE #data")
_STATUS_VALUES = {":inprogress": {"S": INPROGRESS}, ":released": {"S": RELEASED}}


def claim_params(
    payload_hash: str, *, expires: int, in_progress_ms: int | None, now: float | None = None
) -> dict[str, Any]:
    """A claim's UpdateItem expression (without signatures): the key taken when it is new, expired,
    released or abandoned in progress. One record's claim (`_Record.claim`) and a group's in one
    transaction (`idempotency_batch`) write the same record. `now`: the time read already."""
    now = time.time() if now is None else now
    values: dict[str, Any] = {
        **_STATUS_VALUES,
        ":expiry": {"N": str(expires)},
        ":validation": {"S": payload_hash},
        ":now": {"N": str(int(now))},
        ":now_ms": {"N": str(int(now * 1000))},
    }
    if in_progress_ms is not None:
        values[":ipe"] = {"N": str(in_progress_ms)}
    return {
        "UpdateExpression": _CLAIM_UPDATES[in_progress_ms is not None],
        "ConditionExpression": _CLAIMABLE,
        "ExpressionAttributeNames": dict(_NAMES),
        "ExpressionAttributeValues": values,
    }


@dataclass
class _Record:
    """One key's record in the table."""

    table: Store
    id: str
    payload_hash: str
    signatures: tuple[str, ...]

    def claim(self, *, expires: int, in_progress_ms: int | None, now: float | None = None) -> dict[str, Any] | None:
        """Take the key and add the signatures, in one write; None when taken, else the record as it is."""
        params = claim_params(self.payload_hash, expires=expires, in_progress_ms=in_progress_ms, now=now)
        update, condition = params["UpdateExpression"], params["ConditionExpression"]
        names, values = params["ExpressionAttributeNames"], params["ExpressionAttributeValues"]
        if self.signatures:
            update += " ADD #signatures :signatures"
            names["#signatures"] = "signatures"
            values[":signatures"] = {"SS": list(self.signatures)}
            for index, replay_id in enumerate(self.signatures):
                values[f":sig{index}"] = {"S": replay_id}
                condition += f" AND NOT contains(#signatures, :sig{index})"
        try:
            self.table.client.update_item(
                TableName=self.table.table,
                Key={"id": {"S": self.id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:  # botocore's or table_client's errors, told apart by their code
            if error_code(exc) != "ConditionalCheckFailedException":
                raise StoreUnavailable(
                    f"idempotency table unavailable: {error_code(exc) or type(exc).__name__}"
                ) from None
            item: dict[str, Any] = getattr(exc, "response", {}).get("Item") or {}
            held = set(item.get("signatures", {}).get("SS", []))
            if held.intersection(self.signatures):
                raise Unauthenticated(_USED) from None
            return item
        return None

    def add_signatures(self) -> None:
        """A retry's own signature, kept with the record it was answered from (refused if sent again)."""
        if not self.signatures:
            return
        values = {":signatures": {"SS": list(self.signatures)}}
        condition = " AND ".join(f"NOT contains(#signatures, :sig{i})" for i in range(len(self.signatures)))
        values.update({f":sig{i}": {"S": sig} for i, sig in enumerate(self.signatures)})  # type: ignore[dict-item]
        try:
            self.table.client.update_item(
                TableName=self.table.table,
                Key={"id": {"S": self.id}},
                UpdateExpression="ADD #signatures :signatures",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#signatures": "signatures"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise Unauthenticated(_USED) from None
            raise StoreUnavailable(f"idempotency table unavailable: {error_code(exc) or type(exc).__name__}") from None

    def complete(self, stored: answers.Stored, *, expires: int) -> None:
        self.table.client.update_item(
            TableName=self.table.table,
            Key={"id": {"S": self.id}},
            UpdateExpression="SET #data = :data, #expiry = :expiry, #status = :status",
            ExpressionAttributeNames={"#data": "data", "#expiry": "expiration", "#status": "status"},
            ExpressionAttributeValues={
                ":data": {"S": stored_text(stored)},
                ":expiry": {"N": str(expires)},
                ":status": {"S": COMPLETED},
            },
        )

    def release(self) -> None:
        """The call failed: the key is free again. A record holding signatures stays (released) for
        their window, so none of them is accepted again; one without is deleted, as Powertools does."""
        key = {"id": {"S": self.id}}
        if not self.signatures:
            self.table.client.delete_item(TableName=self.table.table, Key=key)
            return
        self.table.client.update_item(
            TableName=self.table.table,
            Key=key,
            UpdateExpression="SET #status = :released, #expiry = :expiry REMOVE #data",
            ExpressionAttributeNames={"#status": "status", "#expiry": "expiration", "#data": "data"},
            ExpressionAttributeValues={
                ":released": {"S": RELEASED},
                ":expiry": {"N": str(int(time.time()) + SIGNATURE_WINDOW_SECONDS)},
            },
        )


def refusal(item: dict[str, Any], payload_hash: str, scope: str, key: str) -> KeyReused | InProgress | None:
    """What a record found at a claim means: the key used for another payload, a call still in progress,
    or (None) a completed call whose answer a repeat gets."""
    if item.get("validation", {}).get("S") != payload_hash:
        return KeyReused(f"idempotency key {key!r} was already used for a different {scope} request")
    if item.get("status", {}).get("S") != COMPLETED:
        return InProgress(f"a {scope} request with idempotency key {key!r} is still in progress")
    return None


def _answer_of(item: dict[str, Any], record: _Record, scope: str, key: str) -> Result:
    """The answer a record found at the claim gives a repeat (or the refusal it means)."""
    refused = refusal(item, record.payload_hash, scope, key)
    if refused is not None:
        raise refused
    record.add_signatures()
    logger.info("idempotent replay: returning the first call's result", extra={"status": COMPLETED})
    try:
        return answers.unpack(json.loads(item.get("data", {}).get("S") or "null"), store=record.table)
    except Exception as exc:  # botocore's errors reading the parts: Talon.One is not called again
        raise StoreUnavailable(f"idempotency table unavailable: {type(exc).__name__}") from None


def run_once(
    container: Container,
    key: str | None,
    *,
    scope: str,
    payload: dict[str, Any],
    call: Callable[[], Result],
    context: Any = None,
    signatures: tuple[str, ...] = (),
) -> Result:
    """Run `call` once per (`scope`, `key`); replays return its stored result. `signatures`: the
    request's replay ids (`callers.access`), accepted once, recorded by the same write as the claim.

    Without a key, or without an idempotency table configured, `call` simply runs.
    """
    table = store(container)
    if not key or table is None:
        return call()
    cfg = container.settings()
    scope_key = f"{scope}#{key}"
    record = _Record(table, record_id(table, scope_key), _hash(payload), signatures)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    now = time.time()  # one moment for the claim's times
    in_progress_ms = int(now * 1000) + int(remaining()) if remaining is not None else None
    found = record.claim(expires=int(now) + cfg.idempotency_expiry_seconds, in_progress_ms=in_progress_ms, now=now)
    if found is not None:
        return _answer_of(found, record, scope, key)
    try:
        result = call()
    except BaseException:
        try:
            record.release()
        except Exception as exc:  # the record stays in progress until it expires: said, not raised over the cause
            logger.warning("could not release an idempotency record", extra={"reason": type(exc).__name__})
        raise
    expires = int(time.time()) + cfg.idempotency_expiry_seconds
    try:
        # an answer too large for one DynamoDB item is kept compressed, or in parts (answers.py)
        record.complete(answers.pack(result, store=table, scope_key=scope_key, expires=expires + 60), expires=expires)
    except Exception as exc:  # Talon.One accepted it; only recording that failed: not a reason to send it again
        logger.warning("could not record an idempotent result", extra={"reason": error_code(exc) or type(exc).__name__})
    return result
