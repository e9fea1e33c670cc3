"""Every EventBridge call: entries put on the relay's bus in batches, partial failures retried.

`PutEvents` takes at most 10 entries and 256 KB a call (an entry's size: its Time (14 bytes when
set), Source, DetailType, Detail and Resources, as UTF-8). A call can succeed for some entries and
fail for others (`FailedEntryCount`; each failed entry has an `ErrorCode`): only those are sent again,
up to ATTEMPTS calls in all, a short pause between. What is still refused, or can never be sent (an
entry over 256 KB), comes back as `Refused` with the reason, for the caller to dead-letter or retry
later (core/bus.py). Nothing is raised for a refused entry; a bus that cannot be reached at all is
refused entries too, with the client error as the reason.

One log line per published entry (its source, detail-type and id: never its detail, which holds the
customer's data): what `make run`'s live view shows.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay.aws import queues
from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.container import Container

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
#: PutEvents calls per batch at most (the first and two retries of what failed).
ATTEMPTS = 3
#: Seconds before a retry: 0.1, then 0.2 (boto3's own retries come on top, for throttled calls).
RETRY_PAUSE_SECONDS = 0.1

Entry = dict[str, Any]


@dataclass(frozen=True)
class Refused:
    """An entry the bus did not take, and why (the last error code and message, or the client's error)."""

    entry: Entry
    reason: str


def entry_size(entry: Entry) -> int:
    """An entry's size as EventBridge counts it against the 256 KB of a call."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    size += sum(len(str(resource).encode("utf-8")) for resource in entry.get("Resources") or ())
    return size


def batches(entries: Iterable[Entry]) -> tuple[list[list[Entry]], list[Refused]]:
    """Entries in calls of at most 10 and 256 KB each, in order; an entry over 256 KB alone is refused."""
    calls: list[list[Entry]] = []
    refused: list[Refused] = []
    current: list[Entry] = []
    used = 0
    for entry in entries:
        size = entry_size(entry)
        if size > MAX_REQUEST_BYTES:
            refused.append(Refused(entry, f"the entry is {size:,} bytes; PutEvents takes {MAX_REQUEST_BYTES:,}"))
            continue
        if current and (len(current) == MAX_ENTRIES or used + size > MAX_REQUEST_BYTES):
            calls.append(current)
            current, used = [], 0
        current.append(entry)
        used += size
    if current:
        calls.append(current)
    return calls, refused


def _event_id(entry: Entry) -> str | None:
    try:
        return str(json.loads(entry["Detail"]).get("id"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _put_batch(client: Any, batch: list[Entry], sleep: Callable[[float], None]) -> list[Refused]:
    pending = batch
    reasons: dict[int, str] = {}
    for attempt in range(ATTEMPTS):
        if attempt:
            sleep(RETRY_PAUSE_SECONDS * 2 ** (attempt - 1))
        try:
            response = client.put_events(Entries=pending)
        except Exception as exc:  # botocore's errors (endpoint, credentials, the bus missing): all entries failed
            reasons = {id(entry): f"PutEvents failed: {type(exc).__name__}: {exc}"[:1000] for entry in pending}
            continue
        failed: list[Entry] = []
        results = list(response.get("Entries") or [])
        results += [{"ErrorCode": "NoResult", "ErrorMessage": "PutEvents gave no result for it"}] * len(pending)
        for entry, result in zip(pending, results, strict=False):  # an entry without a result is not published
            result = result if isinstance(result, dict) else {"ErrorCode": "NoResult"}
            if result.get("ErrorCode"):
                failed.append(entry)
                reasons[id(entry)] = f"{result['ErrorCode']}: {result.get('ErrorMessage') or ''}".strip()
            else:
                logger.info(
                    "event published",
                    extra={
                        "event_source": entry.get("Source"),
                        "detail_type": entry.get("DetailType"),
                        "event_id": _event_id(entry),
                        "eventbridge_id": result.get("EventId"),
                    },
                )
        pending = failed
        if not pending:
            return []
    return [Refused(entry, reasons.get(id(entry), "not published")) for entry in pending]


def put(container: Container, entries: list[Entry], *, sleep: Callable[[float], None] = time.sleep) -> list[Refused]:
    """Put `entries` on their bus; returns those refused after ATTEMPTS calls (empty: all published)."""
    if not entries:
        return []
    calls, refused = batches(entries)
    client = container.aws("events")
    for batch in calls:
        refused.extend(_put_batch(client, batch, sleep))
    return refused


def _letter(item: Refused) -> tuple[str, str]:
    """A refused entry's dead letter (body, reason): the entry as it is; past what SQS keeps (an entry far over
    EventBridge's 256 KB, never publishable), its Detail gzip-compressed, base64; past that too, its id and size,
    the reason saying which. Never too large to be dead-lettered: nothing is lost without a word."""
    body = json.dumps(item.entry)
    size = len(body.encode("utf-8"))
    if size <= queues.MAX_QUEUED_MESSAGE_BYTES:
        return body, item.reason
    detail = str(item.entry.get("Detail") or "").encode("utf-8")
    head = {name: item.entry[name] for name in ("EventBusName", "Source", "DetailType") if name in item.entry}
    packed = json.dumps({**head, "DetailGzipBase64": base64.b64encode(gzip.compress(detail, 6)).decode("ascii")})
    past = f"{item.reason}; as a dead letter the entry is {size:,} bytes, past what SQS keeps"
    if len(packed) <= queues.MAX_QUEUED_MESSAGE_BYTES:
        return packed, f"{past}: its Detail is kept gzip-compressed, base64, as DetailGzipBase64"
    stand_in = json.dumps({**head, "id": _event_id(item.entry), "detailBytes": len(detail)})
    return stand_in, f"{past}, even compressed: its detail is not kept (its id and size are)"


def dead_letter(container: Container, queue_url: str | None, refused: list[Refused], *, operation: str) -> int:
    """Each refused entry on the events' dead-letter queue, its reason beside it; returns how many.

    Without a queue (or when SQS refuses too) the entry is lost to the bus: logged as an error, with
    its source, detail-type and id only.
    """
    kept = 0
    for item in refused:
        event_id = _event_id(item.entry) or "unknown"
        body, reason = _letter(item)
        try:
            queues.dead_letter(
                container,
                queue_url,
                body=body,
                reason=reason,
                operation=operation,
                message_id=event_id,
            )
            kept += 1
        except Exception as exc:
            logger.error(
                "event lost: neither published nor dead-lettered",
                extra={
                    "event_source": item.entry.get("Source"),
                    "detail_type": item.entry.get("DetailType"),
                    "event_id": event_id,
                    "reason": f"{item.reason}; dead letter: {type(exc).__name__}",
                },
            )
    return kept
