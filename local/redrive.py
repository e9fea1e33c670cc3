"""`make redrive FUNCTION=<function>`: move a function's dead-lettered messages back to its queue.

Run it after fixing what made them fail. Works on the local stack (`make run`) and, with
`STACK=<name>`, on a deployed stack (queue URLs from its CloudFormation outputs). Each message keeps
its body, its FIFO message group and its original place in its customer's order (the `relayOrder`
attribute); the failure attributes the relay added are dropped, and its last reason is printed.

Each message moves at most once per run: only what was in the DLQ when the run started (by SQS's
clock, the Date of its answers, which SentTimestamp is on: never this machine's). A message that fails
again comes back to the DLQ as a new message (sent after the run started, naming the moved one as its
sourceMessageId); it is counted as come back, with its new reason, and left there: a run never loops on
a message that still fails.
Letters waiting for their order's record (`awaitsOrder`) are moved after the other letters of their FIFO group.
Bounded: at most `--limit` messages per run.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from talon_relay.core import ordering
from talon_relay.webhooks.errors import AWAITS_ORDER

FAILURE_ATTRIBUTES = frozenset({"failureReason", "operation", "sourceMessageId", "talonStatus", AWAITS_ORDER})
NO_REASON = "(no reason: moved by SQS after too many receives)"


def logical_name(function: str) -> str:
    """`update_customer_session` (or `UpdateCustomerSessionFunction`) -> `UpdateCustomerSession`."""
    name = function.removesuffix("Function")
    if "_" in name or name.islower():
        name = "".join(part.capitalize() for part in name.split("_"))
    return name


def function_names() -> list[str]:
    """The functions `make redrive FUNCTION=...` takes: the operation table's function folders of the entries
    with a queue (a GET has none, so no dead letters)."""
    from talon_relay.operations import OPERATIONS

    return sorted(op.function for op in OPERATIONS.values() if op.queued)


def queue_name(function: str) -> str:
    """The logical-id prefix of the queue a function's messages are on: its own (`UpdateCustomerProfile`), or
    its shared queue's (`return_cart_items`, `update_customer_session_v2` -> `Sessions`)."""
    from talon_relay.operations import OPERATIONS

    name = logical_name(function)
    for op in OPERATIONS.values():
        if logical_name(op.function) == name and op.shared_queue and op.webhook is None:
            return "".join(part.capitalize() for part in op.shared_queue.split("_"))
    return name


@dataclass
class RedriveResult:
    moved: int = 0
    #: Messages moved in this run that failed again and were back in the DLQ before it ended.
    came_back: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    came_back_reasons: dict[str, int] = field(default_factory=dict)


def _key(message: dict[str, Any]) -> str:
    """What identifies a message across a move: its body and its FIFO group."""
    group = (message.get("Attributes") or {}).get("MessageGroupId") or ""
    return hashlib.sha256(f"{group}\n{message['Body']}".encode()).hexdigest()


def _reason(message: dict[str, Any]) -> str:
    attributes = message.get("MessageAttributes") or {}
    return str((attributes.get("failureReason") or {}).get("StringValue") or NO_REASON)


def redrive(
    sqs: Any,
    *,
    dlq_url: str,
    queue_url: str,
    limit: int = 1000,
    wait_seconds: int = 1,
    settle_seconds: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    now: float | None = None,
) -> RedriveResult:
    """Move up to `limit` of the messages `dlq_url` holds now to `queue_url`, each at most once.

    A message is deleted from the DLQ only once re-sent. Afterwards the DLQ is watched for
    `settle_seconds` more (on `clock`), to count the moved messages that fail again and come back.
    `now`: when the run starts, in epoch seconds on SQS's clock (default: read from SQS's first answer).
    """
    result = RedriveResult()
    fifo = queue_url.endswith(".fifo")
    # on SQS's clock (what SentTimestamp is on), not this machine's
    started_ms: int | None = None if now is None else int(now * 1000)
    moved_ids: set[str] = set()
    sent_ids: set[str] = set()  # the messages this run put back on the queue
    deferred_ids: set[str] = set()  # letters awaiting their order, put behind their group in the DLQ
    moved_keys: dict[str, int] = {}
    seen_back: set[str] = set()
    skipped: list[str] = []  # receipt handles of messages left in the DLQ: visible again at the end
    deadline = clock() + 600
    settle_until: float | None = None
    while clock() < deadline:
        if result.moved >= limit and settle_until is None:
            settle_until = clock() + settle_seconds
        if settle_until is not None and clock() >= settle_until:
            break
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        started_ms = started_ms or _run_start_ms(response)
        messages = response.get("Messages", [])
        if not messages:
            if settle_until is None:
                settle_until = clock() + settle_seconds
            continue
        for message in messages:
            held = started_ms is not None and _sent_ms(message) < started_ms  # in the DLQ when the run started
            if (
                fifo
                and held
                and result.moved < limit
                and _awaits_order(message)
                and message["MessageId"] not in deferred_ids
            ):
                deferred_ids.add(_behind_its_group(sqs, dlq_url, message))
                continue
            key = _key(message)
            # One of this run's own moves that failed again (the relay names it as sourceMessageId; SQS keeps
            # its id), sent after the run started, or already moved: not something this run found in the DLQ.
            source = ((message.get("MessageAttributes") or {}).get("sourceMessageId") or {}).get("StringValue")
            own = message["MessageId"] in sent_ids or source in sent_ids
            after = not held and message["MessageId"] not in deferred_ids
            if own or message["MessageId"] in moved_ids or after or result.moved >= limit:
                skipped.append(message["ReceiptHandle"])
                if moved_keys.get(key) and message["MessageId"] not in seen_back:
                    seen_back.add(message["MessageId"])
                    result.came_back += 1
                    reason = _reason(message)
                    result.came_back_reasons[reason] = result.came_back_reasons.get(reason, 0) + 1
                continue
            reason = _reason(message)
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
            attributes = message.get("MessageAttributes") or {}
            params: dict[str, Any] = {
                "QueueUrl": queue_url,
                "MessageBody": message["Body"],
                "MessageAttributes": {
                    **{k: v for k, v in attributes.items() if k not in FAILURE_ATTRIBUTES},
                    # its place in its customer's order goes with it (ordering.py): an old update redriven
                    # after newer ones were applied is then superseded, not applied over them
                    **ordering.redriven(message),
                },
            }
            if fifo:
                params["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId") or "redrive"
                params["MessageDeduplicationId"] = f"redrive-{uuid.uuid4().hex}"
            sent_ids.add(sqs.send_message(**params)["MessageId"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved_ids.add(message["MessageId"])
            moved_keys[key] = moved_keys.get(key, 0) + 1
            result.moved += 1
    for handle in skipped:  # left where they are, and visible at once (alarms, the next run)
        try:
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
        except Exception:  # noqa: S112 - best effort: it becomes visible after 60 s anyway
            continue
    return result


def _sent_ms(message: dict[str, Any]) -> int:
    return int((message.get("Attributes") or {}).get("SentTimestamp") or 0)


def _awaits_order(message: dict[str, Any]) -> bool:
    return AWAITS_ORDER in (message.get("MessageAttributes") or {})


def _behind_its_group(sqs: Any, dlq_url: str, message: dict[str, Any]) -> str:
    """A letter that waits for its order's record (a refund that came before its paid order) put again at the
    end of its FIFO group in the DLQ, keeping its place in its customer's order, so this run moves it after
    the group's other letters (its paid order among them, should an outage have dead-lettered that too).
    Sent before the original is deleted: never lost. Returns the copy's id."""
    attributes = message.get("MessageAttributes") or {}
    sent = sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=message["Body"],
        MessageAttributes={**attributes, **ordering.redriven(message)},
        MessageGroupId=(message.get("Attributes") or {}).get("MessageGroupId") or "redrive",
        MessageDeduplicationId=f"behind-{uuid.uuid4().hex}",
    )
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return str(sent["MessageId"])


def _run_start_ms(response: dict[str, Any]) -> int | None:
    """When the run started on SQS's clock (the one SentTimestamp is on, not this machine's): its first
    receive, as SQS records it on a message received for the first time; else the end of the second SQS
    dated its answer (one of this run's moves that fails again within it is still known by its id)."""
    firsts = [
        int(attributes["ApproximateFirstReceiveTimestamp"])
        for attributes in (message.get("Attributes") or {} for message in response.get("Messages", []))
        if attributes.get("ApproximateReceiveCount") == "1" and "ApproximateFirstReceiveTimestamp" in attributes
    ]
    if firsts:
        return min(firsts)
    date = ((response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}).get("date")
    try:
        return (int(parsedate_to_datetime(str(date)).timestamp()) + 1) * 1000
    except (TypeError, ValueError):
        return None  # not known yet: nothing counts as held when the run started


def queue_urls_from_stack(stack_name: str, name: str) -> tuple[str, str]:
    """(queue URL, DLQ URL) of `name` from a deployed stack's outputs."""
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    try:
        return outputs[f"{name}QueueUrl"], outputs[f"{name}DeadLetterQueueUrl"]
    except KeyError:
        raise SystemExit(f"stack {stack_name} has no outputs {name}QueueUrl / {name}DeadLetterQueueUrl") from None
