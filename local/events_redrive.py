"""`make redrive FUNCTION=events`: the way back's dead letters (RelayEventsDeadLetterQueue) sent on again.

Two kinds of message wait there (docs/events.md):

- an entry the bus refused after the functions' retries: its body the `PutEvents` entry, its reason in
  `failureReason` (aws/events.py). It is put on the stack's bus again (the bus of now, whatever the entry
  named), where every rule sees it;
- an event the subscriber rule could not deliver: its body the event as EventBridge delivers it, its reason
  in EventBridge's `ERROR_CODE` / `ERROR_MESSAGE`, its subscriber in `TARGET_ARN`. It goes to that target
  again when it is an SQS queue (RelayEventsQueue, or a queue of yours), and to that one alone: the other
  subscribers had it already. Another target: put on the bus again.

Either way the event keeps its detail's `id`, so a subscriber that had it already recognises it. A message is
deleted from the DLQ only once the bus or the queue took it; one refused again stays there, counted as come
back with the new reason, and is tried at most once per run (no loop). Bounded: at most `limit` per run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from local.redrive import NO_REASON, RedriveResult

#: The names `make redrive FUNCTION=...` takes for the events' dead-letter queue.
EVENTS_NAMES = frozenset({"events", "relay_events", "RelayEvents", "RelayEventsDeadLetterQueue"})
NOT_AN_EVENT = "neither a PutEvents entry nor an EventBridge event: left in the dead-letter queue"
TOO_LARGE = (
    "an entry over EventBridge's 256 KB (kept as its DetailGzipBase64, or its id and size): it can never be "
    "published; left in the dead-letter queue"
)


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = ((message.get("MessageAttributes") or {}).get(name) or {}).get("StringValue")
    return str(value) if value else None


def reason(message: dict[str, Any]) -> str:
    """Why it was dead-lettered: the relay's `failureReason`, else EventBridge's error code and message."""
    relay = _attribute(message, "failureReason")
    if relay:
        return relay
    code, text = _attribute(message, "ERROR_CODE"), _attribute(message, "ERROR_MESSAGE")
    return f"{code}: {text}" if code and text else code or NO_REASON


def _put(events: Any, entry: dict[str, Any]) -> str | None:
    """Put one entry on the bus; None when it took it, else why not."""
    try:
        response = events.put_events(Entries=[entry])
    except Exception as exc:  # botocore's errors: the bus missing, no access, no endpoint
        return f"PutEvents failed: {type(exc).__name__}: {exc}"[:1000]
    [result] = response.get("Entries") or [{"ErrorCode": "NoResult"}]
    if result.get("ErrorCode"):
        return f"{result['ErrorCode']}: {result.get('ErrorMessage') or ''}".strip()
    return None


def _to_queue(sqs: Any, target_arn: str, body: str) -> str | None:
    """Send the event to the SQS queue `target_arn` names; None when it took it, else why not."""
    *_, account, name = target_arn.split(":")
    try:
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body)
    except Exception as exc:  # the queue gone, no access
        return f"SendMessage to {name} failed: {type(exc).__name__}: {exc}"[:1000]
    return None


def deliver(sqs: Any, events: Any, message: dict[str, Any], bus_name: str) -> str | None:
    """Send one dead letter on again; None when done, else the reason it could not be."""
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return NOT_AN_EVENT
    if not isinstance(body, dict):
        return NOT_AN_EVENT
    if "DetailGzipBase64" in body or "detailBytes" in body:  # too large for SQS as it was (aws/events.py)
        return TOO_LARGE
    if {"Source", "DetailType", "Detail"} <= body.keys():  # an entry the bus refused
        entry = {k: body[k] for k in ("Source", "DetailType", "Detail", "Resources", "Time") if k in body}
        return _put(events, {**entry, "EventBusName": bus_name})
    if {"source", "detail-type", "detail"} <= body.keys():  # an event a rule could not deliver
        target = _attribute(message, "TARGET_ARN") or ""
        if target.startswith("arn:") and target.split(":")[2:3] == ["sqs"]:
            return _to_queue(sqs, target, message["Body"])
        entry = {"Source": body["source"], "DetailType": body["detail-type"], "Detail": json.dumps(body["detail"])}
        return _put(events, {**entry, "EventBusName": bus_name})
    return NOT_AN_EVENT


def redrive_events(
    sqs: Any,
    events: Any,
    *,
    dlq_url: str,
    bus_name: str,
    limit: int = 1000,
    wait_seconds: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> RedriveResult:
    """Send up to `limit` of the events' dead letters on again, each at most once; `came_back` counts those
    refused again (left in the DLQ, visible at once, with the new reason in `came_back_reasons`)."""
    result = RedriveResult()
    tried: set[str] = set()
    left: list[str] = []  # receipt handles of what stays in the DLQ: visible again at the end
    deadline = clock() + 600
    while clock() < deadline and result.moved + result.came_back < limit:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in tried]
        left.extend(message["ReceiptHandle"] for message in messages if message["MessageId"] in tried)
        if not fresh:
            break
        for message in fresh:
            tried.add(message["MessageId"])
            if result.moved + result.came_back >= limit:
                left.append(message["ReceiptHandle"])
                continue
            problem = deliver(sqs, events, message, bus_name)
            if problem is None:
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                result.moved += 1
                why = reason(message)
                result.reasons[why] = result.reasons.get(why, 0) + 1
            else:
                left.append(message["ReceiptHandle"])
                result.came_back += 1
                result.came_back_reasons[problem] = result.came_back_reasons.get(problem, 0) + 1
    for handle in left:
        try:
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
        except Exception:  # noqa: S112 - best effort: it becomes visible after 60 s anyway
            continue
    return result


def urls_from_stack(stack_name: str) -> tuple[str, str]:
    """(events DLQ URL, bus name) of a deployed stack, from its outputs."""
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    try:
        return outputs["RelayEventsDeadLetterQueueUrl"], outputs["RelayEventBusName"]
    except KeyError:
        raise SystemExit(
            f"stack {stack_name} has no outputs RelayEventsDeadLetterQueueUrl / RelayEventBusName"
        ) from None
