"""`make redrive`: dead-lettered messages go back to their queue, in their group, without failure marks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws import local_client
from local.redrive import function_names, logical_name, queue_name, redrive
from talon_relay.core import ordering
from talon_relay.operations import OPERATIONS
from talon_relay.webhooks.errors import AWAITS_ORDER
from tests.support import FakeClock


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


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("return_cart_items", "Sessions"),
        ("update_customer_session", "Sessions"),
        ("UpdateCustomerSessionV2Function", "Sessions"),
        ("shopify_webhook", "ShopifyWebhook"),
        ("update_customer_profile", "UpdateCustomerProfile"),
    ],
)
def test_a_session_operations_dead_letters_are_the_sessions_queues(given: str, expected: str) -> None:
    # Given a function named to `make redrive FUNCTION=...`
    # Then its messages' queue is its own, or, for a session operation, the sessions queue all of them share
    assert queue_name(given) == expected


def test_redrive_moves_messages_back_in_their_group(sqs: Any, sqs_clock: FakeClock) -> None:
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
    # When they are redriven, a second later (on SQS's clock: what was in the DLQ before the run started moves)
    sqs_clock.advance(1)
    result = redrive(sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock())
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


def test_a_letter_awaiting_its_order_is_moved_after_its_groups_other_letters(sqs: Any, sqs_clock: FakeClock) -> None:
    # Given a customer's FIFO group in the DLQ: a refund dead-lettered first, waiting for its order's record (it
    # came before the paid order), then the paid order itself, dead-lettered later by an outage; and another
    # customer's letter
    queue, dlq = fifo_pair(sqs)
    letters = [
        ("c-1", "refund", {AWAITS_ORDER: {"DataType": "String", "StringValue": "true"}}),
        ("c-1", "paid", {}),
        ("c-2", "other", {}),
    ]
    for group, body, marks in letters:
        reason = {"failureReason": {"DataType": "String", "StringValue": f"why {body}"}}
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=body,
            MessageAttributes=reason | marks,
        )
        sqs_clock.advance(1)
    first = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    placed = ordering.redriven(first)  # the refund's place: its SentTimestamp in the DLQ, where it first stood
    sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)

    # When the operator redrives them, once
    result = redrive(sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock())

    # Then all three moved, the paid order before its refund, and the refund keeps its first place in its
    # customer's order, without the mark
    assert result.moved == 3
    assert result.reasons == {"why refund": 1, "why paid": 1, "why other": 1}
    back: list[dict[str, Any]] = []
    for _ in range(6):  # bounded
        batch = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        back += batch
    in_group = [m["Body"] for m in back if m["Attributes"]["MessageGroupId"] == "c-1"]
    assert in_group == ["paid", "refund"]
    refund = next(m for m in back if m["Body"] == "refund")
    assert refund["MessageAttributes"][ordering.ATTRIBUTE] == placed[ordering.ATTRIBUTE]
    assert AWAITS_ORDER not in refund["MessageAttributes"]
    assert sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", []) == []


def test_redrive_stops_at_the_limit(sqs: Any, sqs_clock: FakeClock) -> None:
    # Given three dead-lettered messages on a standard queue pair
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"q-{suffix}")["QueueUrl"]
    for index in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": index}))
    # When at most two are redriven, a second later (on SQS's clock)
    sqs_clock.advance(1)
    result = redrive(sqs, dlq_url=dlq, queue_url=queue, limit=2, wait_seconds=0, now=sqs_clock())
    # Then exactly two moved, and one is still in the DLQ
    assert result.moved == 2
    remaining = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert remaining["Attributes"]["ApproximateNumberOfMessages"] == "1"


class FailingAgain:
    """The SQS client redrive is given, on SQS's fake clock, with a consumer of the queue that fails every message
    again at once: before each look at the DLQ it puts what the queue holds back on the DLQ as a new message
    with a new reason, as the relay's function does. A long poll that finds nothing takes its wait time off
    the clock (moto is asked without one)."""

    def __init__(self, sqs: Any, *, queue: str, dlq: str, clock: FakeClock) -> None:
        self.sqs, self.queue, self.dlq, self.clock = sqs, queue, dlq, clock
        self.received: list[str] = []

    def receive_message(self, **request: Any) -> Any:
        if request["QueueUrl"] == self.dlq:
            self._fail_what_the_queue_holds()
        answer = self.sqs.receive_message(**(request | {"WaitTimeSeconds": 0}))
        if not answer.get("Messages"):
            self.clock.advance(request.get("WaitTimeSeconds", 0))
        return answer

    def _fail_what_the_queue_holds(self) -> None:
        for message in self.sqs.receive_message(QueueUrl=self.queue, WaitTimeSeconds=0).get("Messages", []):
            self.received.append(message["MessageId"])
            self.sqs.send_message(
                QueueUrl=self.dlq,
                MessageBody=message["Body"],
                MessageAttributes={"failureReason": {"DataType": "String", "StringValue": "still not JSON"}},
            )
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)


def test_a_message_that_fails_again_is_moved_once_and_reported_as_come_back(sqs: Any, sqs_clock: FakeClock) -> None:
    # Given one bad message in a DLQ, and a consumer that fails it again at once: it puts it back on
    # the DLQ as a new message with a new reason, as the relay's function does
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"q-{suffix}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody="not json",
        MessageAttributes={"failureReason": {"DataType": "String", "StringValue": "message body is not valid JSON"}},
    )
    consumer = FailingAgain(sqs, queue=queue, dlq=dlq, clock=sqs_clock)
    # When it is redriven a second later (1 s long polls, and the DLQ watched for 2 s afterwards)
    sqs_clock.advance(1)
    run_start = sqs_clock()
    result = redrive(
        consumer, dlq_url=dlq, queue_url=queue, wait_seconds=1, settle_seconds=2, clock=sqs_clock, now=run_start
    )
    # Then it was moved once (not a thousand times), reported as come back with its new reason, and
    # it is in the DLQ, visible, for the next look
    assert (result.moved, result.came_back) == (1, 1)
    assert result.reasons == {"message body is not valid JSON": 1}
    assert result.came_back_reasons == {"still not JSON": 1}
    assert len(consumer.received) == 1
    # And the run ended once its settle time was over, within 10 s of its clock (not at its 600 s limit)
    assert sqs_clock() < run_start + 10
    back = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in back] == ["not json"]


def test_function_names_are_the_operation_tables() -> None:
    # Given the operation table, then redrive takes the function folders of its entries with a queue (not a GET)
    assert function_names() == sorted(op.function for op in OPERATIONS.values() if op.queued)
    assert "update_customer_session_v2" in function_names()


class SkewedClock:
    """This machine's wall clock, `offset` seconds off (what redrive must not read to decide what moves)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset


@pytest.mark.parametrize("offset", [-3600, 3600], ids=["an-hour-behind", "an-hour-ahead"])
def test_the_machines_clock_does_not_decide_what_moves(sqs: Any, monkeypatch: pytest.MonkeyPatch, offset: int) -> None:
    # Given a machine whose clock is an hour off SQS's, two dead letters, and a consumer that fails each
    # moved message again at once, dead-lettering it as the relay does (a new message naming its source)
    from local import redrive as redrive_module

    monkeypatch.setattr(redrive_module, "time", SkewedClock(offset))
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"q-{suffix}")["QueueUrl"]
    for index in range(2):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": index}))
    received: list[str] = []

    def fail_again() -> None:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            received.append(message["MessageId"])
            source = {"DataType": "String", "StringValue": message["MessageId"]}
            sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"], MessageAttributes={"sourceMessageId": source})
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    original = sqs.receive_message

    def receive_then_fail(**kwargs: Any) -> Any:  # the consumer runs between the redrive's receives
        if kwargs.get("QueueUrl") == dlq:
            fail_again()
        return original(**kwargs)

    monkeypatch.setattr(sqs, "receive_message", receive_then_fail)
    # When they are redriven
    result = redrive(sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, limit=50, clock=FakeClock())
    # Then each moved exactly once (behind: nothing was left out; ahead: the ones that came back were not
    # moved again), and both are back in the DLQ for the next look
    assert (result.moved, result.came_back) == (2, 2)
    assert len(received) == 2
