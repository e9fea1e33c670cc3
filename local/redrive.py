"""`make redrive FUNCTION=<operation>`: move a function's dead-lettered messages back to its queue.

Run it after fixing what made them fail. Works on the local stack (`make run`) and, with
`STACK=<name>`, on a deployed stack (queue URLs from its CloudFormation outputs). Each message keeps
its body, its FIFO message group and its original place in its customer's order (the `relayOrder`
attribute); the failure attributes the relay added are dropped, and its last reason is printed.
Bounded: at most `--limit` messages per run.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from talon_relay import ordering

FAILURE_ATTRIBUTES = frozenset({"failureReason", "operation", "sourceMessageId", "talonStatus"})


def logical_name(function: str) -> str:
    """`update_customer_session` (or `UpdateCustomerSessionFunction`) -> `UpdateCustomerSession`."""
    name = function.removesuffix("Function")
    if "_" in name or name.islower():
        name = "".join(part.capitalize() for part in name.split("_"))
    return name


@dataclass
class RedriveResult:
    moved: int = 0
    reasons: dict[str, int] | None = None


def redrive(sqs: Any, *, dlq_url: str, queue_url: str, limit: int = 1000, wait_seconds: int = 1) -> RedriveResult:
    """Move up to `limit` messages from `dlq_url` to `queue_url`; each is deleted only once re-sent."""
    result = RedriveResult(reasons={})
    assert result.reasons is not None
    fifo = queue_url.endswith(".fifo")
    deadline = time.monotonic() + 600
    while result.moved < limit and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - result.moved),
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            attributes = message.get("MessageAttributes") or {}
            reason = (attributes.get("failureReason") or {}).get("StringValue") or "(no reason: redriven by SQS)"
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
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
            sqs.send_message(**params)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            result.moved += 1
    return result


def queue_urls_from_stack(stack_name: str, name: str) -> tuple[str, str]:
    """(queue URL, DLQ URL) of `name` from a deployed stack's outputs."""
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    try:
        return outputs[f"{name}QueueUrl"], outputs[f"{name}DeadLetterQueueUrl"]
    except KeyError:
        raise SystemExit(f"stack {stack_name} has no outputs {name}QueueUrl / {name}DeadLetterQueueUrl") from None
