"""Outages and order on the queue side, against moto and a local Talon.One: a failed message comes back
after its backoff (at least Talon.One's Retry-After), its last receive dead-letters it with its reason and
its place in its customer's order, and an old update redriven after a newer one was applied is superseded."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.gateway import sqs_record
from local.redrive import redrive
from tests.functions.conftest import Stack
from tests.support import FakeClock, LambdaContext, LogCapture, integration_state, reset_handlers

SESSION_PATH = "/v1/customer_sessions/s-1"


def receive_event(stack: Stack, queue_url: str) -> dict[str, Any]:
    """What Lambda's event source mapping hands the function: the visible messages as SQS records."""
    arn = stack.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages = stack.sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return {"Records": [sqs_record(message, arn) for message in messages]}


def settle(stack: Stack, queue_url: str, event: dict[str, Any], result: dict[str, Any]) -> None:
    """Delete what succeeded, as the event source mapping does."""
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            stack.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])


def hidden(stack: Stack, queue_url: str) -> int:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def use(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_handlers()


def session_message(total: float) -> str:
    return json.dumps({"customerSessionId": "s-1", "body": {"profileId": "p-1", "total": total}})


def test_a_failed_message_comes_back_after_its_backoff_not_the_visibility_timeout(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    monkeypatch: pytest.MonkeyPatch,
    logs: LogCapture,
    sqs_clock: FakeClock,
) -> None:
    # Given Talon.One down, a queue whose visibility timeout is 1 s, and a first retry after 3 s (SQS's clock)
    use(monkeypatch, QUEUE_RETRY_BASE_SECONDS="3", QUEUE_RETRY_MAX_SECONDS="60")
    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_data("", status=503)
    stack.send(session_message(1))
    event = receive_event(stack, stack.queue_url)
    # When the function fails it
    result = load_handler("update_customer_session")(event, LambdaContext())
    settle(stack, stack.queue_url, event, result)
    # Then it is reported for retry, and stays hidden past the queue's 1 s ...
    assert [item["itemIdentifier"] for item in result["batchItemFailures"]] == [event["Records"][0]["messageId"]]
    sqs_clock.advance(1.5)
    assert receive_event(stack, stack.queue_url)["Records"] == []
    # ... until its 3 s backoff has passed, when it comes back for its second receive
    sqs_clock.advance(1.6)
    again = receive_event(stack, stack.queue_url)["Records"]
    assert [record["attributes"]["ApproximateReceiveCount"] for record in again] == ["2"]
    (line,) = [r for r in logs.records() if r["message"] == "retryable failure; message comes back later"]
    assert (line["retry_in_seconds"], line["status"]) == (3, 503)


def test_a_429_retry_after_beyond_the_invocation_keeps_the_message_hidden_that_long(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    monkeypatch: pytest.MonkeyPatch,
    logs: LogCapture,
    sqs_clock: FakeClock,
) -> None:
    # Given Talon.One rate limiting with Retry-After 120 (more than the invocation has), backoff 1 s
    use(monkeypatch, QUEUE_RETRY_BASE_SECONDS="1", QUEUE_RETRY_MAX_SECONDS="1")
    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_json(
        {"message": "Too many requests"}, status=429, headers={"Retry-After": "120"}
    )
    stack.send(session_message(1))
    event = receive_event(stack, stack.queue_url)
    # When the function handles it
    result = load_handler("update_customer_session")(event, LambdaContext(timeout_seconds=5))
    settle(stack, stack.queue_url, event, result)
    # Then it did not wait in the invocation (one request), and the message is hidden for Talon.One's 120 s:
    # past its 1 s backoff and up to 120 s, then it comes back
    assert len(httpserver.log) == 1
    sqs_clock.advance(1.5)
    assert hidden(stack, stack.queue_url) == 1
    sqs_clock.advance(118)
    assert hidden(stack, stack.queue_url) == 1
    sqs_clock.advance(1)
    assert len(receive_event(stack, stack.queue_url)["Records"]) == 1
    (line,) = [r for r in logs.records() if r["message"] == "retryable failure; message comes back later"]
    assert (line["retry_in_seconds"], line["status"]) == (120, 429)


def test_the_last_receive_dead_letters_with_the_reason_and_the_original_place(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Talon.One still down when a message is received for the last time (maxReceiveCount 1 here)
    use(monkeypatch, MAX_RECEIVE_COUNT="1")
    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_data("", status=503)
    stack.send(session_message(1))
    event = receive_event(stack, stack.queue_url)
    sent = event["Records"][0]["attributes"]["SentTimestamp"]
    # When the function fails it once more
    result = load_handler("update_customer_session")(event, LambdaContext())
    settle(stack, stack.queue_url, event, result)
    # Then the relay moved it to the DLQ itself: nothing left to retry, the reason said, the place kept
    assert result == {"batchItemFailures": []}
    (dead,) = stack.dlq_messages()
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["failureReason"].startswith("still failing on its last receive (1): Talon.One 503")
    assert attributes["relayOrder"] == f"{sent}.0"
    assert attributes["talonStatus"] == "503"


def fifo_queues(stack: Stack, monkeypatch: pytest.MonkeyPatch, max_receive_count: int | None = None) -> tuple[str, str]:
    """The function's FIFO queue and DLQ, as the session queue is deployed; with `max_receive_count`, SQS
    moves a message to the DLQ by itself after that many receives (and the function is told so)."""
    suffix = uuid.uuid4().hex[:8]
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq = stack.sqs.create_queue(QueueName=f"dlq-{suffix}.fifo", Attributes=attributes)["QueueUrl"]
    own = {**attributes, "VisibilityTimeout": "1"}
    told: dict[str, str] = {}
    if max_receive_count is not None:
        dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        own["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        told["MAX_RECEIVE_COUNT"] = str(max_receive_count)
    queue = stack.sqs.create_queue(QueueName=f"q-{suffix}.fifo", Attributes=own)["QueueUrl"]
    use(monkeypatch, QUEUE_URL=queue, DEAD_LETTER_QUEUE_URL=dlq, **told)
    return queue, dlq


@pytest.fixture
def fifo(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Given the function's queue and DLQ are FIFO, as the session queue is deployed."""
    return fifo_queues(stack, monkeypatch)


def send_fifo(stack: Stack, queue: str, body: str) -> None:
    stack.sqs.send_message(QueueUrl=queue, MessageBody=body, MessageGroupId="s-1")


def test_an_old_update_redriven_after_a_newer_one_is_superseded(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    fifo: tuple[str, str],
    logs: LogCapture,
    sqs_clock: FakeClock,
) -> None:
    # Given Talon.One refusing session s-1's first update (a fault fixed later) and accepting the rest
    queue, dlq = fifo
    applied: list[float] = []

    def answer(request: Request) -> Response:
        total = json.loads(request.get_data())["total"]
        if total == 1 and not applied:
            return Response(json.dumps({"message": "refused"}), status=400, content_type="application/json")
        applied.append(total)
        return Response(json.dumps(integration_state()), status=200, content_type="application/json")

    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_handler(answer)
    handler = load_handler("update_customer_session")
    # And two updates of the session, in order: total 1, then total 2
    send_fifo(stack, queue, session_message(1))
    send_fifo(stack, queue, session_message(2))
    # When they are delivered: the first is dead-lettered, the second applied
    event = receive_event(stack, queue)
    settle(stack, queue, event, handler(event, LambdaContext()))
    assert applied == [2]
    # And after the fix (a second later on SQS's clock) the dead letter is redriven and delivered
    sqs_clock.advance(1)
    assert redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock()).moved == 1
    event = receive_event(stack, queue)
    assert len(event["Records"]) == 1
    result = handler(event, LambdaContext())
    settle(stack, queue, event, result)
    # Then the old update was acknowledged as superseded: not applied over the newer one, not retried
    assert result == {"batchItemFailures": []}
    assert applied == [2]
    assert [r["message"] for r in logs.records() if r["message"].startswith("superseded")] == [
        "superseded: a newer update of this customer was applied; acknowledged, not applied"
    ]
    # And a later update still goes through
    send_fifo(stack, queue, session_message(3))
    event = receive_event(stack, queue)
    settle(stack, queue, event, handler(event, LambdaContext()))
    assert applied == [2, 3]


def test_a_redriven_update_with_nothing_newer_applied_is_applied(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, fifo: tuple[str, str], sqs_clock: FakeClock
) -> None:
    # Given a session update dead-lettered by a refusal, and nothing newer for that session since
    queue, dlq = fifo
    answers = iter([400, 200])
    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_handler(
        lambda request: Response(json.dumps(integration_state()), status=next(answers), content_type="application/json")
    )
    handler = load_handler("update_customer_session")
    send_fifo(stack, queue, session_message(1))
    event = receive_event(stack, queue)
    settle(stack, queue, event, handler(event, LambdaContext()))
    # When it is redriven (a second later on SQS's clock) and delivered
    sqs_clock.advance(1)
    redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock())
    event = receive_event(stack, queue)
    settle(stack, queue, event, handler(event, LambdaContext()))
    # Then it is applied (it is the latest the session has)
    assert len(httpserver.log) == 2
    assert stack.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"
    ] == {"ApproximateNumberOfMessages": "0"}


def test_a_dead_letter_sqs_moved_without_a_place_gets_one_from_the_redrive(
    stack: Stack, fifo: tuple[str, str], sqs_clock: FakeClock
) -> None:
    # Given a message SQS moved to the DLQ by itself (no relayOrder), and one the relay dead-lettered
    queue, dlq = fifo
    stack.sqs.send_message(QueueUrl=dlq, MessageBody=session_message(1), MessageGroupId="s-1")
    stack.sqs.send_message(
        QueueUrl=dlq,
        MessageBody=session_message(2),
        MessageGroupId="s-1",
        MessageAttributes={"relayOrder": {"DataType": "String", "StringValue": "1700000000000.42"}},
    )
    in_dlq = stack.sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
    )
    first_sent = in_dlq["Messages"][0]["Attributes"]["SentTimestamp"]
    # When both are redriven, a second later on SQS's clock
    sqs_clock.advance(1)
    assert redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock()).moved == 2
    # Then the first carries its DLQ send time as its place, and the second keeps the place it had
    moved = stack.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    places = [m["MessageAttributes"]["relayOrder"]["StringValue"] for m in moved["Messages"]]
    assert places == [f"{first_sent}.0", "1700000000000.42"]


def test_a_fifo_group_behind_a_failed_head_comes_back_with_it(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    fifo: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    sqs_clock: FakeClock,
) -> None:
    # Given Talon.One down, a first retry after 3 s, and two updates of one session in one batch
    queue, _ = fifo
    use(monkeypatch, QUEUE_RETRY_BASE_SECONDS="3", QUEUE_RETRY_MAX_SECONDS="3")
    monkeypatch.setenv("QUEUE_URL", queue)
    reset_handlers()
    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_data("", status=503)
    send_fifo(stack, queue, session_message(1))
    send_fifo(stack, queue, session_message(2))
    event = receive_event(stack, queue)
    # When the first fails (the second is not tried: it must not overtake the first)
    result = load_handler("update_customer_session")(event, LambdaContext())
    settle(stack, queue, event, result)
    assert len(result["batchItemFailures"]) == 2
    assert len(httpserver.log) == 3  # the first, with its two in-process retries
    # Then both stay hidden for the head's 3 s (the queue's visibility timeout is 1 s) and come back together
    sqs_clock.advance(1.5)
    assert hidden(stack, queue) == 2
    sqs_clock.advance(1.6)
    again = receive_event(stack, queue)["Records"]
    assert [json.loads(r["body"])["body"]["total"] for r in again] == [1, 2]


@pytest.mark.parametrize(
    ("forged", "words"),
    [
        ("999999999999999.0", "relayOrder: 999999999999999.0 is later than the message was sent"),
        ("tomorrow", "relayOrder: 'tomorrow' is not a place"),
    ],
    ids=["far-future", "unparseable"],
)
def test_a_relay_order_the_relay_cannot_trust_is_dead_lettered_and_the_updates_behind_it_apply(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, fifo: tuple[str, str], forged: str, words: str
) -> None:
    # Given a session update sent to the queue with a relayOrder of its own making, then two ordinary updates
    queue, dlq = fifo
    applied: list[float] = []

    def answer(request: Request) -> Response:
        applied.append(json.loads(request.get_data())["total"])
        return Response(json.dumps(integration_state()), status=200, content_type="application/json")

    httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_handler(answer)
    stack.sqs.send_message(
        QueueUrl=queue,
        MessageBody=session_message(1),
        MessageGroupId="s-1",
        MessageAttributes={"relayOrder": {"DataType": "String", "StringValue": forged}},
    )
    send_fifo(stack, queue, session_message(2))
    send_fifo(stack, queue, session_message(3))
    handler = load_handler("update_customer_session")

    # When the queue delivers them
    event = receive_event(stack, queue)
    assert len(event["Records"]) == 3
    sent = event["Records"][0]["attributes"]["SentTimestamp"]
    result = handler(event, LambdaContext())
    settle(stack, queue, event, result)

    # Then the forged one is a dead letter saying why, carrying the place SQS gave it, not the forged one
    assert result == {"batchItemFailures": []}
    (dead,) = stack.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert words in attributes["failureReason"]
    assert attributes["relayOrder"].split(".")[0] == sent
    # And both ordinary updates reached Talon.One, none "superseded" by the forged place
    assert applied == [2, 3]


WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def ordering_items(stack: Stack) -> list[dict[str, Any]]:
    """The customers' ordering records in the relay's table (core/ordering.py)."""
    items = boto3.client("dynamodb").scan(TableName=stack.table)["Items"]
    return [item for item in items if item["id"]["S"].startswith("ordering#")]


def holes(stack: Stack) -> list[str]:
    return sorted(hole for item in ordering_items(stack) for hole in item.get("holes", {}).get("SS", []))


class Deliveries:
    """Talon.One applying session s-1's updates but refusing those in `refused` (a fault fixed later), and
    the function fed its queue's visible messages, counting the DynamoDB requests each delivery made."""

    def __init__(self, stack: Stack, httpserver: HTTPServer, handler: Any, queue: str, calls: Any) -> None:
        self.stack, self.handler, self.queue, self.calls = stack, handler, queue, calls
        self.applied: list[float] = []
        self.refused: set[float] = set()
        httpserver.expect_request(SESSION_PATH, method="PUT").respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        total = json.loads(request.get_data())["total"]
        if total in self.refused:
            return Response(json.dumps({"message": "refused"}), status=400, content_type="application/json")
        self.applied.append(total)
        return Response(json.dumps(integration_state()), status=200, content_type="application/json")

    def deliver(self) -> list[str]:
        """The visible messages delivered once; the DynamoDB writes that made."""
        before = len(self.calls())
        event = receive_event(self.stack, self.queue)
        assert event["Records"]
        settle(self.stack, self.queue, event, self.handler(event, LambdaContext()))
        return [call for call in self.calls()[before:] if call in WRITES]


def superseded_and_back_to_two_writes(stack: Stack, talon: Deliveries, logs: LogCapture, queue: str) -> None:
    """Then the redriven update was superseded and its hole is out; and the next update (total 3) is applied
    with two writes: the idempotency record's claim and its answer."""
    assert [r["message"] for r in logs.records() if r["message"].startswith("superseded")] == [
        "superseded: a newer update of this customer was applied; acknowledged, not applied"
    ]
    assert holes(stack) == []
    send_fifo(stack, queue, session_message(3))
    assert talon.deliver() == ["UpdateItem", "UpdateItem"]
    assert talon.applied == [2, 3]


def test_an_update_in_order_writes_twice_and_one_dead_lettered_marks_its_customer_until_it_is_back(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    fifo: tuple[str, str],
    logs: LogCapture,
    sqs_clock: FakeClock,
    dynamodb_calls: Any,
) -> None:
    # Given Talon.One refusing session s-1's first update (a fault fixed later) and accepting the rest
    queue, dlq = fifo
    talon = Deliveries(stack, httpserver, load_handler("update_customer_session"), queue, dynamodb_calls)
    talon.refused = {1}
    # When the first is dead-lettered
    send_fifo(stack, queue, session_message(1))
    talon.deliver()
    # Then its customer's ordering record holds its place as a hole (written before it left its queue)
    (dead,) = stack.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    place = dead["MessageAttributes"]["relayOrder"]["StringValue"]
    assert [hole.partition("@")[0] for hole in holes(stack)] == [place]
    # And while it is away, an update applied records its place: claim, answer, and the place (3 writes)
    send_fifo(stack, queue, session_message(2))
    assert talon.deliver() == ["UpdateItem", "UpdateItem", "UpdateItem"]
    assert talon.applied == [2]
    # When the fault is fixed and the dead letter redriven (a second later on SQS's clock)
    talon.refused = set()
    sqs_clock.advance(1)
    assert redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock()).moved == 1
    # Then it is superseded, not applied over the newer update, and takes its hole out (one write)
    assert talon.deliver() == ["UpdateItem"]
    assert talon.applied == [2]
    superseded_and_back_to_two_writes(stack, talon, logs, queue)


def test_a_close_redriven_after_a_newer_update_is_applied_late_not_superseded(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    fifo: tuple[str, str],
    logs: LogCapture,
    sqs_clock: FakeClock,
    dynamodb_calls: Any,
) -> None:
    # Given Talon.One refusing session s-1's close (a fault fixed later), which is dead-lettered
    queue, dlq = fifo
    talon = Deliveries(stack, httpserver, load_handler("update_customer_session"), queue, dynamodb_calls)
    talon.refused = {1}
    close = json.dumps({"customerSessionId": "s-1", "body": {"profileId": "p-1", "total": 1, "state": "closed"}})
    send_fifo(stack, queue, close)
    talon.deliver()
    # And a cart update sent after it applied while it is away
    send_fifo(stack, queue, session_message(2))
    talon.deliver()
    assert talon.applied == [2]
    # When the fault is fixed and the close redriven
    talon.refused = set()
    sqs_clock.advance(1)
    assert redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock()).moved == 1
    talon.deliver()
    # Then the close is applied, late, not superseded: the session ends closed, as in order (the update sent
    # after it would have been refused as late), not left open with the order never closed in Talon.One
    assert talon.applied == [2, 1]
    assert not [r for r in logs.records() if r["message"].startswith("superseded")]
    # And its hole is out; the newer place stays the record's (its own, older, is not recorded over it)
    assert holes(stack) == []


class Crash(BaseException):
    """The function's process dying mid-call (a timeout, out of memory): nothing of the relay's runs after."""


def crash_on_first_update(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The function dies (an exception no disposition catches) each time it calls Talon.One for session s-1's
    first update (total 1); the others go through. Returns the fix (the crash gone)."""
    from talon_relay.core import service

    execute = service.execute

    def crashing(container: Any, request: Any, **kwargs: Any) -> Any:
        if request.body["total"] == 1:
            raise Crash
        return execute(container, request, **kwargs)

    monkeypatch.setattr(service, "execute", crashing)
    return lambda: monkeypatch.setattr(service, "execute", execute)


def test_an_update_sqs_moved_by_itself_after_crashes_is_superseded_when_redriven_after_a_newer_one(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    monkeypatch: pytest.MonkeyPatch,
    logs: LogCapture,
    sqs_clock: FakeClock,
    dynamodb_calls: Any,
) -> None:
    # Given a FIFO queue whose DLQ takes a message after 2 receives (maxReceiveCount 2, and the function
    # told so), and the function crashing on session s-1's first update every time it calls Talon.One
    queue, dlq = fifo_queues(stack, monkeypatch, max_receive_count=2)
    talon = Deliveries(stack, httpserver, load_handler("update_customer_session"), queue, dynamodb_calls)
    fix = crash_on_first_update(monkeypatch)
    send_fifo(stack, queue, session_message(1))
    # When it crashes on both its receives (the invocation dies: nothing settled, back after the visibility timeout)
    marked = []
    for _receive in (1, 2):
        with pytest.raises(Crash):
            talon.deliver()
        marked.append(len(holes(stack)))
        sqs_clock.advance(1.5)
    # Then only its last receive marked its customer's record, before the call (SQS may move it without a word)
    assert marked == [0, 1]
    # And when a newer update is sent, SQS moves the first to the DLQ by itself and the newer one is applied
    send_fifo(stack, queue, session_message(2))
    assert talon.deliver() == ["UpdateItem", "UpdateItem", "UpdateItem"]  # claim, answer, its place (a hole is open)
    assert talon.applied == [2]
    assert len(stack.sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0).get("Messages", [])) == 1
    # When the crash is fixed and `make redrive` moves it back (a second later on SQS's clock)
    fix()
    sqs_clock.advance(1)
    assert redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock()).moved == 1
    # Then it is superseded, not applied over the newer update, and its hole is out
    talon.deliver()
    assert talon.applied == [2]
    superseded_and_back_to_two_writes(stack, talon, logs, queue)


def test_an_update_dead_lettered_unread_on_its_last_receive_marks_its_customer_too(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, fifo: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a session update on its last receive (maxReceiveCount 1) with too little of the invocation left
    queue, dlq = fifo
    use(monkeypatch, MAX_RECEIVE_COUNT="1")
    send_fifo(stack, queue, session_message(1))
    event = receive_event(stack, queue)
    # When the function gets it, it dead-letters it without reading it (SQS would move it without a word)
    settle(stack, queue, event, load_handler("update_customer_session")(event, LambdaContext(timeout_seconds=1)))
    (dead,) = stack.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    assert dead["MessageAttributes"]["failureReason"]["StringValue"].startswith("not attempted on its last receive")
    # Then its customer's ordering record holds its place as a hole all the same (Talon.One never called)
    assert [hole.partition("@")[0] for hole in holes(stack)] == [dead["MessageAttributes"]["relayOrder"]["StringValue"]]
    assert len(httpserver.log) == 0


def test_an_update_a_fifo_dlq_took_with_a_new_timestamp_is_still_superseded_by_one_applied_while_away(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    monkeypatch: pytest.MonkeyPatch,
    logs: LogCapture,
    sqs_clock: FakeClock,
    dynamodb_calls: Any,
) -> None:
    # Given a FIFO queue whose DLQ takes a message after 2 receives (the function told so), and the function
    # crashing on session s-1's first update every time it calls Talon.One
    queue, dlq = fifo_queues(stack, monkeypatch)
    use(monkeypatch, QUEUE_URL=queue, DEAD_LETTER_QUEUE_URL=dlq, MAX_RECEIVE_COUNT="2")
    talon = Deliveries(stack, httpserver, load_handler("update_customer_session"), queue, dynamodb_calls)
    fix = crash_on_first_update(monkeypatch)
    send_fifo(stack, queue, session_message(1))
    for _receive in (1, 2):
        with pytest.raises(Crash):
            talon.deliver()
        sqs_clock.advance(1.5)
    # And a newer update sent behind it while it is still on its queue
    send_fifo(stack, queue, session_message(2))
    # When SQS moves the first to its DLQ by itself a minute later: a FIFO DLQ resets its enqueue timestamp, so
    # the copy's SentTimestamp is the move's, later than the newer update was sent (as AWS documents it)
    sqs_clock.advance(60)
    (first,) = stack.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
    stack.sqs.delete_message(QueueUrl=queue, ReceiptHandle=first["ReceiptHandle"])
    stack.sqs.send_message(QueueUrl=dlq, MessageBody=first["Body"], MessageGroupId="s-1")
    # And the newer update is applied while it is away
    talon.deliver()
    assert talon.applied == [2]
    # When the crash is fixed and `make redrive` moves it back
    fix()
    sqs_clock.advance(1)
    assert redrive(stack.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, now=sqs_clock()).moved == 1
    # Then it is superseded, not applied over the newer update, and its hole is out
    talon.deliver()
    assert talon.applied == [2]
    superseded_and_back_to_two_writes(stack, talon, logs, queue)
