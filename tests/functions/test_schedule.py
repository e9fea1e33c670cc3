"""delete_customer_data on its schedule: draining the erasure queue, and direct id lists."""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from talon_relay.adapters.scheduled import HIDE_PAST_RUN_SECONDS
from talon_relay.errors import ErasureIncomplete
from tests.functions.conftest import Stack
from tests.support import FakeClock, LambdaContext, LogCapture, load_event, reset_handlers


def erasure_answers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/customer_data/p-exists", method="DELETE").respond_with_data("", 204)
    httpserver.expect_request("/v1/customer_data/p-also", method="DELETE").respond_with_data("", 204)
    httpserver.expect_request("/v1/customer_data/p-unknown", method="DELETE").respond_with_json(
        {"message": "Customer not found"}, 404
    )
    httpserver.expect_request("/v1/customer_data/p-failing", method="DELETE").respond_with_data("", 503)


def remaining_on_queue(stack: Stack) -> list[str]:
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return [attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]]


class ClockedContext(LambdaContext):
    """A Lambda context whose remaining time is read from `clock` (the one moto's SQS reads: `sqs_clock`)."""

    def __init__(self, clock: FakeClock, timeout_seconds: float) -> None:
        super().__init__(timeout_seconds=timeout_seconds)
        self.clock, self.started_at = clock, clock()

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.timeout_seconds - (self.clock() - self.started_at)) * 1000), 0)


def test_schedule_drains_the_erasure_queue(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given queued deletions for existing, unknown and failing customers, plus one broken message
    erasure_answers(httpserver)
    for integration_id in ["p-exists", "p-unknown", "p-failing", "p-also"]:
        stack.send({"integrationId": integration_id})
    stack.send({"integrationId": ""})

    # When the schedule fires with its sample event
    summary = load_handler("delete_customer_data")(load_event("delete_customer_data", "schedule"), LambdaContext())

    # Then the run reports what happened to each request
    assert summary == {"requested": 4, "deleted": 2, "not_found": 1, "failed": 1, "dead_lettered": 1}
    # And only the failing one is still on the queue (visible again or still in flight)
    assert sum(int(n) for n in remaining_on_queue(stack)) == 1
    (dead,) = stack.dlq_messages()
    assert "integrationId" in dead["MessageAttributes"]["failureReason"]["StringValue"]
    deleted = sorted(r.path for r, _ in httpserver.log if r.path != "/v1/customer_data/p-failing")
    assert deleted == [
        "/v1/customer_data/p-also",
        "/v1/customer_data/p-exists",
        "/v1/customer_data/p-unknown",
    ]


def test_failing_deletion_reaches_the_dlq_after_max_receive_count_runs(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, sqs_clock: FakeClock
) -> None:
    # Given a deletion that Talon.One keeps failing, on a queue with maxReceiveCount 2, visibility 1 s
    erasure_answers(httpserver)
    stack.send({"integrationId": "p-failing"})
    handler = load_handler("delete_customer_data")
    # When the schedule runs three times, each once the run before is over (20 s runs here)
    for _ in range(3):
        handler({}, ClockedContext(sqs_clock, 20))
        sqs_clock.advance(20 + HIDE_PAST_RUN_SECONDS + 1)
    # Then the message was tried in two runs (once each), and SQS moved it to the DLQ (nothing lost)
    attempts = [r for r, _ in httpserver.log if r.path == "/v1/customer_data/p-failing"]
    assert len(attempts) == 2 * 3  # two receives, each with 2 in-process retries
    assert remaining_on_queue(stack) == ["0", "0"]
    (dead,) = stack.dlq_messages()
    assert json.loads(dead["Body"]) == {"integrationId": "p-failing"}


def test_schedule_input_deletes_the_given_ids(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a schedule input with explicit ids that all exist or are already gone
    erasure_answers(httpserver)
    event = {"integrationIds": ["p-exists", "p-unknown"]}
    # When the function runs with it
    summary = load_handler("delete_customer_data")(event, LambdaContext())
    # Then each id was deleted directly, and the queue was not touched
    assert summary == {"requested": 2, "deleted": 1, "not_found": 1, "failed": 0, "dead_lettered": 0}
    assert remaining_on_queue(stack) == ["0", "0"]


def test_a_failed_erasure_fails_the_scheduled_run(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture
) -> None:
    # Given explicit ids, one of which Talon.One keeps failing
    erasure_answers(httpserver)
    event = {"integrationIds": ["p-exists", "p-failing"]}
    # When the function runs with it
    # Then the run fails (the scheduler retries it, then its DLQ and alarm get it), after doing the rest
    with pytest.raises(ErasureIncomplete, match="1 of 2 erasures failed"):
        load_handler("delete_customer_data")(event, LambdaContext())
    assert [r.path for r, _ in httpserver.log].count("/v1/customer_data/p-exists") == 1
    (summary,) = [r for r in logs.records() if r.get("message") == "erasure run finished"]
    assert (summary["deleted"], summary["failed"]) == (1, 1)


def test_a_queued_erasure_talon_one_refuses_is_dead_lettered_with_the_reason(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a queued erasure Talon.One refuses for good (400)
    httpserver.expect_request("/v1/customer_data/p-refused", method="DELETE").respond_with_json(
        {"message": "Invalid integration id"}, 400
    )
    stack.send({"integrationId": "p-refused"})
    # When the schedule drains the queue
    summary = load_handler("delete_customer_data")({}, LambdaContext())
    # Then it is in the DLQ with Talon.One's reason, not back on the queue every night
    assert summary == {"requested": 1, "deleted": 0, "not_found": 0, "failed": 0, "dead_lettered": 1}
    (dead,) = stack.dlq_messages()
    assert dead["MessageAttributes"]["talonStatus"]["StringValue"] == "400"
    assert "Invalid integration id" in dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert remaining_on_queue(stack) == ["0", "0"]


def test_sample_schedule_ids_event(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given the sample schedule event with ids, all of which exist
    event = load_event("delete_customer_data", "schedule_ids")
    for integration_id in event["integrationIds"]:
        httpserver.expect_request(f"/v1/customer_data/{integration_id}", method="DELETE").respond_with_data("", 204)
    # When it runs
    summary = load_handler("delete_customer_data")(event, LambdaContext())
    # Then all were deleted
    assert summary["deleted"] == len(event["integrationIds"]) == summary["requested"]


@pytest.mark.parametrize("ids", ["p-1", [1, 2], [None]])
def test_invalid_schedule_input_fails_the_run_naming_the_field(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, ids: Any
) -> None:
    # Given a schedule input whose ids are not strings
    # When it runs
    # Then the run fails with an error naming the field, and nothing is deleted
    with pytest.raises(ValueError, match="integrationIds must be a list of strings"):
        load_handler("delete_customer_data")({"integrationIds": ids}, LambdaContext())
    assert httpserver.log == []


def test_a_failure_is_not_retried_again_in_the_same_run(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, sqs_clock: FakeClock
) -> None:
    # Given a deletion that fails slowly: 1.3 s of SQS's clock, longer than the queue's 1 s visibility timeout
    monkeypatch.setenv("TALON_MAX_RETRIES", "0")
    reset_handlers()

    def slow_failure(request: Request) -> Response:
        sqs_clock.advance(1.3)
        return Response("", 503)

    httpserver.expect_request("/v1/customer_data/p-slow", method="DELETE").respond_with_handler(slow_failure)
    stack.send({"integrationId": "p-slow"})
    # When the schedule runs (the message becomes visible again while the run goes on)
    summary = load_handler("delete_customer_data")({}, LambdaContext())
    # Then it was tried once in this run, and is left for the next run
    assert summary == {"requested": 1, "deleted": 0, "not_found": 0, "failed": 1, "dead_lettered": 0}
    assert len(httpserver.log) == 1


class Gauge:
    """How many requests a local Talon.One serves at once (its peak); each is answered once `together` of
    them are in (a run that never has that many at once fails on the barrier's timeout)."""

    def __init__(self, together: int) -> None:
        self.together = threading.Barrier(together)
        self.lock = threading.Lock()
        self.now = self.peak = self.served = 0

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        self.together.wait(timeout=10)
        with self.lock:
            self.now -= 1
            self.served += 1
        return Response(status=204)


def test_a_run_erases_concurrently_within_its_budget(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 60 queued erasures, a budget of 6 at once, and Talon.One answering them 6 at a time
    monkeypatch.setenv("ERASURE_CONCURRENCY", "6")
    reset_handlers()
    gauge = Gauge(6)
    httpserver.expect_request(re.compile(r"^/v1/customer_data/.+"), method="DELETE").respond_with_handler(gauge)
    for start in range(0, 60, 10):
        stack.sqs.send_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"integrationId": f"p-{i}"})} for i in range(start, start + 10)
            ],
        )
    # When the schedule runs once
    summary = load_handler("delete_customer_data")({}, LambdaContext(timeout_seconds=60))
    # Then every erasure is done in one run, the budget's 6 at a time (one at a time would never get an
    # answer) but never more
    assert summary == {"requested": 60, "deleted": 60, "not_found": 0, "failed": 0, "dead_lettered": 0}
    assert remaining_on_queue(stack) == ["0", "0"]
    assert gauge.served == 60
    assert gauge.peak == 6


def test_explicit_ids_are_erased_concurrently_too(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 12 ids in the schedule's input, a budget of 4, and Talon.One answering them 4 at a time
    monkeypatch.setenv("ERASURE_CONCURRENCY", "4")
    reset_handlers()
    gauge = Gauge(4)
    httpserver.expect_request(re.compile(r"^/v1/customer_data/.+"), method="DELETE").respond_with_handler(gauge)
    # When the run erases them
    summary = load_handler("delete_customer_data")({"integrationIds": [f"p-{i}" for i in range(12)]}, LambdaContext())
    # Then all are done, 4 at a time but never more
    assert summary["deleted"] == 12
    assert 2 <= gauge.peak <= 4


def test_a_long_run_receives_each_message_once_and_a_failure_waits_for_the_next_run(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, sqs_clock: FakeClock
) -> None:
    # Given the deployed defaults: a 900 s run, a 180 s visibility timeout and maxReceiveCount 5 (five runs)
    dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=stack.dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    queue = stack.sqs.create_queue(
        QueueName=f"erasure-{uuid.uuid4().hex[:8]}",
        Attributes={
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", queue)
    monkeypatch.setenv("ERASURE_CONCURRENCY", "1")
    reset_handlers()
    # And one erasure Talon.One keeps failing, then a backlog that takes the run 13 minutes (40 s each)
    httpserver.expect_request("/v1/customer_data/p-failing", method="DELETE").respond_with_data("", 503)

    def slow_success(request: Request) -> Response:
        sqs_clock.advance(40)
        return Response(status=204)

    httpserver.expect_request(re.compile(r"^/v1/customer_data/p-\d+$"), method="DELETE").respond_with_handler(
        slow_success
    )
    stack.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"integrationId": "p-failing"}))
    for start in (0, 10):
        stack.sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"integrationId": f"p-{i}"})} for i in range(start, start + 10)
            ],
        )
    handler = load_handler("delete_customer_data")

    def receives_of_the_failing_one() -> list[str]:
        """Peeks at the queue (each peek is a receive too, undone at once); the counts SQS keeps."""
        found = stack.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])
        counts = []
        for message in found.get("Messages", []):
            stack.sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            if json.loads(message["Body"])["integrationId"] == "p-failing":
                counts.append(message["Attributes"]["ApproximateReceiveCount"])
        return counts

    # When the schedule runs for its 15 minutes (more than four visibility timeouts)
    started = sqs_clock()
    summary = handler({}, ClockedContext(sqs_clock, 900))
    run_on_the_clock = sqs_clock() - started

    # Then the run outlived the visibility timeout many times over, and received the failing erasure once
    assert run_on_the_clock >= 4 * 180
    assert summary == {"requested": 21, "deleted": 20, "not_found": 0, "failed": 1, "dead_lettered": 0}
    failing = [r for r, _ in httpserver.log if r.path == "/v1/customer_data/p-failing"]
    assert len(failing) == 3  # one receive, with its 2 in-process retries
    # And once the run is over it is back at once, received once so far (the peek is the second): four runs
    # remain before SQS moves it
    assert receives_of_the_failing_one() == ["2"]
    assert stack.dlq_messages() == []


def test_a_run_given_more_ids_than_its_time_allows_stops_starting_them_and_says_which_were_not_tried(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, sqs_clock: FakeClock
) -> None:
    # Given one erasure at a time, Talon.One taking a second an erasure (on the run's clock), a 20 s run
    monkeypatch.setenv("ERASURE_CONCURRENCY", "1")
    reset_handlers()

    def slow(request: Request) -> Response:
        sqs_clock.advance(1)
        return Response("", status=204)

    httpserver.expect_request(re.compile(r"^/v1/customer_data/.+"), method="DELETE").respond_with_handler(slow)
    # When the run is given 60 ids
    with pytest.raises(ErasureIncomplete, match="not attempted") as raised:
        load_handler("delete_customer_data")(
            {"integrationIds": [f"p-{i}" for i in range(60)]}, ClockedContext(sqs_clock, 20)
        )
    # Then it started none once less than its reserve was left (a Lambda timeout would cut one mid-call and
    # lose the run's report), and failed naming how many it did not try: the scheduler runs it again
    erased = len(httpserver.log)
    assert 13 <= erased <= 18  # (the reserve is checked when one is handed to the pool: two wait there)
    assert f"{60 - erased} of 60" in str(raised.value)
