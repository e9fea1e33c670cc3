"""The off-peak erasure schedule draining its queue: deleted, not found, failed and retried later."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import Http, Queues, segment, talon_requests, wait_until

pytestmark = pytest.mark.e2e

QUEUE = "DeleteCustomerDataQueue"


def _visible(queues: Queues) -> int:
    attributes = queues.sqs.get_queue_attributes(
        QueueUrl=queues.url(QUEUE), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_drain_deletes_counts_missing_and_keeps_failures_for_the_next_run(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given two customers in Talon.One, and erasure requests for them and for one Talon.One never saw
    for customer in ("erase-me", "erase-later"):
        assert http.talon("PUT", f"/v1/customer_profiles/{customer}", {"attributes": {"email": "x@y.z"}}).status == 200
    for customer in ("erase-me", "never-seen", "erase-later"):
        queues.send(QUEUE, {"integrationId": customer})
    # and Talon.One failing every deletion of "erase-later" with 503
    failing = f"/v1/customer_data/{segment('erase-later')}"
    stack.emulator.inject_fault(status=503, count=1000, path=failing, method="DELETE")
    stack.emulator.clear_requests()

    # When the schedule runs
    first = http.run_schedule("DeleteCustomerDataFunction")

    # Then one customer is deleted, the unknown one counts as not found, the failing one as failed
    assert first.status == 200
    assert first.json == {"requested": 3, "deleted": 1, "not_found": 1, "failed": 1, "dead_lettered": 0}
    state = stack.emulator.state()
    assert state["profiles"]["erase-me"]["attributes"] == {}
    assert state["profiles"]["erase-later"]["attributes"] == {"email": "x@y.z"}
    # and only the failed request stays on the queue (hidden until its visibility timeout passes)
    assert queues.depth(QUEUE) == 1
    assert queues.depth("DeleteCustomerDataDeadLetterQueue") == 0
    failed_attempts = [r for r in talon_requests(stack) if r["path"] == failing]
    assert failed_attempts and all(r["status"] == 503 for r in failed_attempts)

    # When Talon.One recovers, the visibility timeout passes, and the schedule runs again
    stack.emulator.clear_faults()
    stack.emulator.clear_requests()
    wait_until(lambda: _visible(queues) == 1, timeout=10, interval=0.1, what="the failed request to reappear")
    second = http.run_schedule("DeleteCustomerDataFunction")

    # Then the second run deletes it, and the erasure queue is empty
    assert second.json == {"requested": 1, "deleted": 1, "not_found": 0, "failed": 0, "dead_lettered": 0}
    assert [(r["method"], r["path"], r["status"]) for r in talon_requests(stack)] == [("DELETE", failing, 204)]
    assert stack.emulator.state()["profiles"]["erase-later"]["attributes"] == {}
    assert queues.depth(QUEUE) == 0
    assert queues.depth("DeleteCustomerDataDeadLetterQueue") == 0


def test_poison_erasure_request_is_dead_lettered_by_the_run(stack: LocalStack, http: Http, queues: Queues) -> None:
    # Given an erasure request without an integrationId, next to a good one
    http.talon("PUT", "/v1/customer_profiles/p-ok", {"attributes": {"a": 1}})
    bad_id = queues.send(QUEUE, {"customerId": "p-ok"})
    queues.send(QUEUE, {"integrationId": "p-ok"})

    # When the schedule runs
    summary = http.run_schedule("DeleteCustomerDataFunction").json

    # Then the good one is done, the bad one is in the DLQ with its reason, and the queue is empty
    assert summary == {"requested": 1, "deleted": 1, "not_found": 0, "failed": 0, "dead_lettered": 1}
    (letter,) = queues.take_all("DeleteCustomerDataDeadLetterQueue")
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert "customerId" in reason
    assert letter["MessageAttributes"]["sourceMessageId"]["StringValue"] == bad_id
    assert queues.depth(QUEUE) == 0
