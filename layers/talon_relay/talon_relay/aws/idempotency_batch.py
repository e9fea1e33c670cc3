"""A group's idempotency records in two DynamoDB calls: its claims in one transaction, its outcomes in one batch.

A coalesced group (`core.coalescing`: one catalog's queued syncs) keeps a record per message under the
message's own key, as `aws.idempotency` does for one (the same ids, hashes, attributes and statuses:
either reads the other's records). One message at a time that is two round trips each (claim, then
answer): 20 for a batch of 10, most of a coalesced batch's time (docs/performance.md). Here it is two:

- the claims: one TransactWriteItems of conditional UpdateItems (the claim of `idempotency.claim_params`),
  all or none. When a record cannot be taken, DynamoDB cancels the whole transaction and says which
  (CancellationReasons, each failed one with the record as it is): COMPLETED with the same payload is a
  replay (applied already: never sent again), another payload a reused key (a dead letter with the
  reason), in progress is handed back with every message behind it (order). The others are claimed
  again in one more transaction. A transaction costs two write units per item, an UpdateItem one: a group
  left with one message (the others could not be read) is claimed by its UpdateItem;
- the outcomes: one BatchWriteItem, each applied message's record put COMPLETED with its answer, each
  failed one's deleted (its key free again, as `run_once` does for a record without signatures).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from talon_relay.aws import answers
from talon_relay.aws.idempotency import COMPLETED, claim_params, payload_hash, record_id, refusal, stored_text
from talon_relay.aws.store import Store, error_code, store
from talon_relay.errors import InProgress, KeyReused, StoreUnavailable
from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.container import Container

#: DynamoDB's limits: items per TransactWriteItems, requests per BatchWriteItem.
MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_WRITES = 25
#: Transactions per chunk of claims: the claims, then the rest once more (a second cancellation can only be
#: a record taken meanwhile: its reasons say which, and the rest get one more try).
CLAIM_ATTEMPTS = 3
#: BatchWriteItem calls made again for its UnprocessedItems (throttled writes), each after a short backoff.
WRITE_ATTEMPTS = 3

#: A claim's outcomes besides a refusal: the record is ours now; the message was applied already.
CLAIMED: Final = "claimed"
REPLAY: Final = "replay"
Claimed = str | KeyReused | InProgress | None  # None: not claimed (behind a message in progress)


@dataclass(frozen=True)
class Entry:
    """One message's idempotency key: its scope (`Store.idempotency_scope`), its key and its payload."""

    scope: str
    key: str
    payload: dict[str, Any]

    @property
    def scope_key(self) -> str:
        return f"{self.scope}#{self.key}"

    @cached_property
    def validation(self) -> str:
        """The payload's hash as its record keeps it: worked out once (its claim, a refusal, its outcome)."""
        return payload_hash(self.payload)


def claim(container: Container, entries: list[Entry], *, context: Any) -> list[Claimed]:
    """Each entry's claim, in order (their keys must differ): CLAIMED, REPLAY, the refusal it meets, or None
    for one behind a message in progress (not claimed, to keep the order). Raises StoreUnavailable."""
    table = store(container)
    if table is None:
        return [CLAIMED] * len(entries)
    now = time.time()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    in_progress_ms = int(now * 1000) + int(remaining()) if remaining is not None else None
    expires = int(now) + container.settings().idempotency_expiry_seconds
    results: list[Claimed] = [None] * len(entries)
    for start in range(0, len(entries), MAX_TRANSACTION_ITEMS):
        chunk = list(range(start, min(start + MAX_TRANSACTION_ITEMS, len(entries))))
        if _claim_chunk(table, entries, chunk, results, expires=expires, in_progress_ms=in_progress_ms):
            break
    return results


def _claim_chunk(
    table: Store, entries: list[Entry], pending: list[int], results: list[Claimed], **claim_at: Any
) -> bool:
    """Claim `pending` (indexes of `entries`) into `results`; True when one in progress stopped the group."""
    stopped = False
    for _ in range(CLAIM_ATTEMPTS):
        if not pending:
            return stopped
        reasons = _transact(table, [entries[index] for index in pending], **claim_at)
        if reasons is None:
            for index in pending:
                results[index] = CLAIMED
            return stopped
        kept: list[int] = []
        for index, reason in zip(pending, reasons, strict=True):
            code = str(reason.get("Code") or "None")
            if code == "None":
                kept.append(index)
                continue
            if code != "ConditionalCheckFailed":  # a conflict, a throttle: the whole group comes back
                raise StoreUnavailable(f"idempotency table unavailable: {code}")
            entry = entries[index]
            found = refusal(reason.get("Item") or {}, entry.validation, entry.scope, entry.key)
            results[index] = REPLAY if found is None else found
            if found is None:
                logger.info("idempotent replay: the message was applied already", extra={"status": COMPLETED})
            if isinstance(found, InProgress):  # it, and every message behind it, waits for its turn
                stopped = True
                break
        pending = kept
    if pending:
        raise StoreUnavailable("idempotency table unavailable: claims cancelled again and again")
    return stopped


def _transact(table: Store, entries: list[Entry], **claim_at: Any) -> list[dict[str, Any]] | None:
    """One transaction of `entries`' claims: None when all were taken, else DynamoDB's reasons, one each."""
    items = [
        {
            "Update": {
                "TableName": table.table,
                "Key": {"id": {"S": record_id(table, entry.scope_key)}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **claim_params(entry.validation, **claim_at),
            }
        }
        for entry in entries
    ]
    try:
        if len(items) == 1:  # one record: its conditional UpdateItem, one write unit (a transaction's two)
            table.client.update_item(**items[0]["Update"])
        else:
            table.client.transact_write_items(TransactItems=items)
    except Exception as exc:  # botocore's or table_client's errors, told apart by their code
        code = error_code(exc)
        if code == "ConditionalCheckFailedException" and len(items) == 1:
            return [{"Code": "ConditionalCheckFailed", "Item": getattr(exc, "response", {}).get("Item") or {}}]
        reasons = getattr(exc, "response", {}).get("CancellationReasons")
        if code != "TransactionCanceledException" or not isinstance(reasons, list) or len(reasons) != len(items):
            raise StoreUnavailable(f"idempotency table unavailable: {code or type(exc).__name__}") from None
        return reasons
    return None


def finish(container: Container, *, applied: list[tuple[Entry, str | None]], released: list[Entry]) -> None:
    """The outcomes in one BatchWriteItem (per 25): each applied entry's record COMPLETED with its answer,
    each released one's deleted. Never raises: Talon.One applied what it applied (a record not written
    stays in progress until its call's time is over, as `run_once`'s would)."""
    table = store(container)
    if table is None or not (applied or released):
        return
    expires = int(time.time()) + container.settings().idempotency_expiry_seconds
    writes: list[dict[str, Any]] = []
    for entry, answer in applied:
        # an answer too large for one DynamoDB item is kept compressed, or in parts (answers.py)
        stored = answers.pack(answer, store=table, scope_key=entry.scope_key, expires=expires + 60)
        item = {
            "id": {"S": record_id(table, entry.scope_key)},
            "status": {"S": COMPLETED},
            "expiration": {"N": str(expires)},
            "validation": {"S": entry.validation},
            "data": {"S": stored_text(stored)},
        }
        writes.append({"PutRequest": {"Item": item}})
    writes += [{"DeleteRequest": {"Key": {"id": {"S": record_id(table, entry.scope_key)}}}} for entry in released]
    for start in range(0, len(writes), MAX_BATCH_WRITES):
        _write(table, writes[start : start + MAX_BATCH_WRITES])


def _write(table: Store, writes: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table.table: writes}
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            time.sleep(0.025 * 2**attempt)  # a short backoff for throttled writes, as table_client's
        try:
            pending = table.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        except Exception as exc:
            logger.warning(
                "could not record a coalesced group's outcomes", extra={"reason": error_code(exc) or type(exc).__name__}
            )
            return
        if not pending:
            return
    logger.warning("could not record a coalesced group's outcomes", extra={"reason": "UnprocessedItems"})
