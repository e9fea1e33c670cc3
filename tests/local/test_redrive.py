"""`make redrive`: dead-lettered messages go back to their queue, in their group, without failure marks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws import local_client
from local.redrive import logical_name, redrive


@pytest.fixture(scope="module")
def sqs(moto_endpoint: str) -> Iterator[Any]:
    yield local_client("sqs", moto_endpoint)


def fifo_pair(sqs: Any) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue = sqs.create_queue(
        QueueName=f"q-{suffix}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    return queue, dlq


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("update_customer_session", "UpdateCustomerSession"),
        ("UpdateCustomerSessionFunction", "UpdateCustomerSession"),
        ("delete_customer_data", "DeleteCustomerData"),
    ],
)
def test_function_names_map_to_template_names(given: str, expected: str) -> None:
    assert logical_name(given) == expected


def test_redrive_moves_messages_back_in_their_group(sqs: Any) -> None:
    # Given two dead-lettered messages of different sessions, with the relay's failure attributes
    queue, dlq = fifo_pair(sqs)
    for session in ("s-1", "s-2"):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=json.dumps({"customerSessionId": session, "body": {}}),
            MessageGroupId=session,
            MessageDeduplicationId=f"d-{session}",
            MessageAttributes={
                "failureReason": {"DataType": "String", "StringValue": "Talon.One 400: bad state"},
                "traceparent": {"DataType": "String", "StringValue": "keep-me"},
            },
        )
    # When they are redriven
    result = redrive(sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0)
    # Then both are back on the queue in their own groups, the DLQ is empty, and the reasons are counted
    assert result.moved == 2
    assert result.reasons == {"Talon.One 400: bad state": 2}
    back = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Attributes"]["MessageGroupId"] for m in back) == ["s-1", "s-2"]
    assert all("failureReason" not in m.get("MessageAttributes", {}) for m in back)
    assert all(m["MessageAttributes"]["traceparent"]["StringValue"] == "keep-me" for m in back)
    assert sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", []) == []


def test_redrive_stops_at_the_limit(sqs: Any) -> None:
    # Given three dead-lettered messages on a standard queue pair
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"q-{suffix}")["QueueUrl"]
    for index in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": index}))
    # When at most two are redriven
    result = redrive(sqs, dlq_url=dlq, queue_url=queue, limit=2, wait_seconds=0)
    # Then exactly two moved, and one is still in the DLQ
    assert result.moved == 2
    remaining = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert remaining["Attributes"]["ApproximateNumberOfMessages"] == "1"
