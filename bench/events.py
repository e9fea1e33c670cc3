"""What the benchmark sends: the repo's sample events, the same requests for raw urllib3, batches."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from talon_relay.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

#: Callers of RelayApi sign requests (talon_relay.callers.signatures): header and scheme, as a sender does it.
SIGNATURE_HEADER = "X-Relay-Signature"


@dataclass(frozen=True)
class Op:
    """One function: its Integration API route and the status of success (the relay answers the same)."""

    folder: str
    method: str
    path: str
    status: int
    #: Whether it has a queue (Operation.queued; a GET has none: no SQS trigger to measure)
    queued: bool = True
    #: Whether its answers are kept by the read cache (Operation.cache_seconds)
    cached: bool = False

    @property
    def function_name(self) -> str:
        return "talon-relay-" + self.folder.replace("_", "-")

    def raw_path(self, params: dict[str, Any]) -> str:
        """The Talon.One path for these path parameters (sample ids need no percent-encoding)."""
        return self.path.format(**params)


#: Every function the relay deploys for an Integration API operation, from the operation table
#: (webhook receivers take a platform's webhooks, not an Integration API request: not benched).
OPS: dict[str, Op] = {
    op.function: Op(op.function, op.method, op.path, op.success_status, op.queued, op.cache_seconds > 0)
    for op in OPERATIONS.values()
    if op.webhook is None
}


def with_query(path: str, query: dict[str, str] | None) -> str:
    """The path with its query sorted by name and percent-encoded, as the relay sends it."""
    if not query:
        return path
    return path + "?" + urlencode(sorted(query.items()), quote_via=quote, safe="")


def load_event(folder: str, name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / folder / f"{name}.json").read_text())
    return event


def sign_api_event(event: dict[str, Any], secret: str, now: float | None = None) -> dict[str, Any]:
    """A copy of an API Gateway event carrying a fresh caller signature (RelayApi's scheme v2).

    `v2 = HMAC-SHA256(secret, "v2\\n<t>\\n<METHOD>\\n<path>\\n<Idempotency-Key>\\n<Prefer>\\n" + body)`
    (the sample events send neither header); a relay that does not check signatures ignores it.
    """
    signed = copy.deepcopy(event)
    timestamp = f"{time.time() if now is None else now:.6f}"
    body = (signed.get("body") or "").encode()
    path = with_query(signed["path"], signed.get("queryStringParameters"))
    message = f"v2\n{timestamp}\n{signed['httpMethod'].upper()}\n{path}\n\n\n".encode() + body
    value = f"t={timestamp},v2={hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"
    signed.setdefault("headers", {})[SIGNATURE_HEADER] = value
    if signed.get("multiValueHeaders") is not None:
        signed["multiValueHeaders"][SIGNATURE_HEADER] = [value]
    return signed


def api_raw_request(op: Op, event: dict[str, Any]) -> dict[str, Any]:
    """The Talon.One request the relay makes for an API event (same method, path and body)."""
    body = event.get("body")
    path = with_query(event["path"], event.get("queryStringParameters"))
    return {"method": op.method, "path": path, "body": body or None, "expect": op.status}


def one_record(event: dict[str, Any]) -> dict[str, Any]:
    """The SQS sample event cut to its first record."""
    single = copy.deepcopy(event)
    single["Records"] = single["Records"][:1]
    return single


def sqs_raw_request(op: Op, event: dict[str, Any]) -> dict[str, Any]:
    """The Talon.One request the relay makes for the (first) record of an SQS event."""
    message = json.loads(event["Records"][0]["body"])
    params = {name: value for name, value in message.items() if name not in ("body", "idempotencyKey", "query")}
    body = message.get("body")
    return {
        "method": op.method,
        "path": with_query(op.raw_path(params), message.get("query")),
        "body": json.dumps(body, separators=(",", ":")) if body is not None else None,
        "expect": op.status,
    }


def session_batches(records: int, batch_size: int) -> list[dict[str, Any]]:
    """SQS FIFO events of update_customer_session: every record its own session and message group."""
    template = load_event("update_customer_session", "sqs")["Records"][0]
    message = json.loads(template["body"])
    arn = template["eventSourceARN"].removesuffix(".fifo") + ".fifo"
    out: list[dict[str, Any]] = []
    for start in range(0, records, batch_size):
        batch = []
        for n in range(start + 1, min(start + batch_size, records) + 1):
            record = copy.deepcopy(template)
            body = dict(message, customerSessionId=f"s-{n}")
            body.pop("idempotencyKey", None)
            record["messageId"] = f"00000000-0000-4000-8000-{n:012d}"
            record["body"] = json.dumps(body, separators=(",", ":"))
            record["md5OfBody"] = hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
            record["eventSourceARN"] = arn
            record["attributes"] = dict(
                template["attributes"],
                MessageGroupId=f"session-s-{n}",
                MessageDeduplicationId=f"dedup-{n}",
                SequenceNumber=str(18849496460467696128 + n),
            )
            batch.append(record)
        out.append({"Records": batch})
    return out


def catalog_batch(records: int) -> dict[str, Any]:
    """An SQS FIFO batch of sync_catalog: `records` queued ADDs of distinct SKUs in one catalog (one message
    group), which the relay coalesces into one syncCatalog request (core/coalescing.py)."""
    template = load_event("sync_catalog", "sqs")["Records"][0]
    message = json.loads(template["body"])
    batch = []
    for n in range(1, records + 1):
        record = copy.deepcopy(template)
        body = copy.deepcopy(message)
        body["body"]["actions"][0]["payload"]["sku"] = f"SKU-{n}"
        # keys of its own: the one-record event's (events/sync_catalog/sqs.json) is sync-catalog-1, same SKU, and a
        # replay of it (applied by that row in the same table) would not be sent
        body["idempotencyKey"] = f"sync-catalog-batch-{n}"
        record["messageId"] = f"00000000-0000-4000-9000-{n:012d}"
        record["body"] = json.dumps(body, separators=(",", ":"))
        record["md5OfBody"] = hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
        record["attributes"] = dict(
            template["attributes"], MessageDeduplicationId=f"dedup-{n}", SequenceNumber=str(18849496460467696128 + n)
        )
        batch.append(record)
    return {"Records": batch}


def with_body_kb(event: dict[str, Any], kb: int) -> dict[str, Any]:
    """update_customer_session_v2's API event with its cart grown to about `kb` KB (copies of its first item
    under new SKUs): the same request, only bigger, for the "per KB of body" growth row."""
    grown = copy.deepcopy(event)
    body = json.loads(grown["body"])
    items = body["customerSession"]["cartItems"]
    first = items[0]
    n = 0
    while len(json.dumps(body, separators=(",", ":"))) < kb * 1024:
        n += 1
        items.append(dict(first, sku=f"SKU-BENCH-{n:06d}"))
    grown["body"] = json.dumps(body, separators=(",", ":"))
    return grown


def fresh_keys(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    """An SQS event's records as new messages: message ids and idempotency keys with `suffix`."""
    fresh = copy.deepcopy(event)
    for record in fresh["Records"]:
        record["messageId"] = f"{record['messageId']}-{suffix}"
        message = json.loads(record["body"])
        if isinstance(message, dict) and message.get("idempotencyKey"):
            message["idempotencyKey"] = f"{message['idempotencyKey']}-{suffix}"
            record["body"] = json.dumps(message, separators=(",", ":"))
            record["md5OfBody"] = hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
    return fresh
