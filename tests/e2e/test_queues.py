"""The operations through their queues: real SQS in moto, the gateway's pollers, on to the emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from local.stack import LocalStack
from talon_relay.operations import OPERATIONS
from template.entry import logical_prefix
from tests.e2e.helpers import AWKWARD_ID, Http, Queues, attribute, segment, talon_requests, wait_until

pytestmark = pytest.mark.e2e

#: Bound for a message to be picked up, relayed and deleted (pollers long-poll 1 s).
DELIVERY_TIMEOUT = 10.0


@dataclass(frozen=True)
class QueuedCase:
    operation: str
    queue: str
    message: dict[str, Any]
    method: str
    path: str
    status: int


QUEUED_CASES = [
    QueuedCase(
        "updateCustomerSession",
        "Sessions",
        {"customerSessionId": AWKWARD_ID, "body": {"profileId": "p-1", "total": 12.5}},
        "PUT",
        f"/v1/customer_sessions/{segment(AWKWARD_ID)}",
        200,
    ),
    QueuedCase(
        "updateCustomerProfile",
        "UpdateCustomerProfile",
        {"integrationId": AWKWARD_ID, "body": {"attributes": {"tier": "gold"}}},
        "PUT",
        f"/v1/customer_profiles/{segment(AWKWARD_ID)}",
        200,
    ),
    QueuedCase(
        "trackEvent",
        "TrackEvent",
        {"body": {"sessionId": "s-1", "type": "x", "attributes": {}}, "idempotencyKey": "evt-1"},
        "POST",
        "/v1/events",
        201,
    ),
    QueuedCase(
        "createReferral",
        "CreateReferral",
        {"body": {"campaignId": 3, "advocateProfileIntegrationId": "p-1"}},
        "POST",
        "/v1/referrals",
        201,
    ),
]


@pytest.mark.parametrize("case", QUEUED_CASES, ids=[c.operation for c in QUEUED_CASES])
def test_queued_operation_reaches_talon_one(stack: LocalStack, queues: Queues, case: QueuedCase) -> None:
    # Given the operation's queue, polled by the gateway as Lambda's event source mapping would
    queue = f"{case.queue}Queue"

    # When a message in the queue message format (docs/api.md) is sent to it (on the shared sessions queue,
    # naming its operation)
    queues.send(queue, case.message, operation=case.operation if case.queue == "Sessions" else None)

    # Then Talon.One gets the request once, and the message leaves the queue (not for the DLQ)
    seen = wait_until(lambda: talon_requests(stack), timeout=DELIVERY_TIMEOUT, what=f"{case.operation} at Talon.One")
    queues.wait_empty(queue, timeout=DELIVERY_TIMEOUT)
    (request,) = talon_requests(stack)
    assert request["id"] == seen[0]["id"]
    assert (request["method"], request["path"], request["operation"]) == (case.method, case.path, case.operation)
    assert request["body"] == case.message["body"]
    assert request["status"] == case.status
    assert queues.depth(f"{case.queue}DeadLetterQueue") == 0
    function = "UpdateCustomerSessionV2Function" if case.queue == "Sessions" else f"{case.queue}Function"
    assert (function, "sqs") in stack.gateway.invocations


def test_queued_deletion_is_done_by_the_schedule(stack: LocalStack, http: Http, queues: Queues) -> None:
    # Given a customer with attributes in Talon.One, and their deletion request on the erasure queue
    http.talon("PUT", f"/v1/customer_profiles/{segment(AWKWARD_ID)}", {"attributes": {"email": "a@example.com"}})
    http.talon("PUT", "/v1/customer_sessions/s-erase", {"profileId": AWKWARD_ID, "attributes": {"note": "x"}})
    stack.emulator.clear_requests()
    queues.send("DeleteCustomerDataQueue", {"integrationId": AWKWARD_ID})

    # Then nothing polls that queue: the request waits for the off-peak run
    assert talon_requests(stack) == []
    assert queues.depth("DeleteCustomerDataQueue") == 1

    # When the erasure schedule runs
    answer = http.run_schedule("DeleteCustomerDataFunction")

    # Then its summary counts one deletion, Talon.One erased the customer's attributes, the queue is empty
    assert answer.status == 200
    assert answer.json == {"requested": 1, "deleted": 1, "not_found": 0, "failed": 0, "dead_lettered": 0}
    (request,) = talon_requests(stack)
    assert (request["method"], request["path"], request["status"]) == (
        "DELETE",
        f"/v1/customer_data/{segment(AWKWARD_ID)}",
        204,
    )
    state = stack.emulator.state()
    assert state["profiles"][AWKWARD_ID]["attributes"] == {}
    assert state["sessions"]["s-erase"]["attributes"] == {}
    assert queues.depth("DeleteCustomerDataQueue") == 0


def test_schedule_input_deletes_the_ids_given(stack: LocalStack, http: Http) -> None:
    # Given one known customer and one Talon.One never saw
    http.talon("PUT", "/v1/customer_profiles/p-known", {"attributes": {"a": 1}})

    # When the schedule is invoked with an explicit list of ids
    answer = http.run_schedule("DeleteCustomerDataFunction", {"integrationIds": ["p-known", "p-unknown"]})

    # Then one is deleted and the other counted as not found
    assert answer.json == {"requested": 2, "deleted": 1, "not_found": 1, "failed": 0, "dead_lettered": 0}
    assert stack.emulator.state()["profiles"]["p-known"]["attributes"] == {}


POISON = [
    ("Sessions", "not json at all", "message body is not valid JSON"),
    ("Sessions", {"customerSessionId": "s-1", "body": {"cartItems": "many"}}, "/body/cartItems"),
    ("UpdateCustomerProfile", {"body": {"attributes": {}}}, "integrationId"),
    ("TrackEvent", {"body": {"type": "purchase", "attributes": {}}}, "/body/sessionId"),
    ("TrackEvent", {"sessionId": "s-1", "body": {}}, "unknown top-level key(s) ['sessionId']"),
    ("CreateReferral", {"body": {"campaignId": 3}}, "/body/advocateProfileIntegrationId"),
    ("CreateReferral", {"body": {"campaignId": 3, "advocateProfileIntegrationId": "p"}, "idempotencyKey": 7}, "idem"),
]


@pytest.mark.parametrize(("queue", "message", "reason"), POISON)
def test_poison_message_is_dead_lettered_with_its_reason(
    stack: LocalStack, queues: Queues, queue: str, message: Any, reason: str
) -> None:
    # Given a message that can never succeed, on an operation's queue
    named = "updateCustomerSession" if queue == "Sessions" else None
    message_id = queues.send(f"{queue}Queue", message, operation=named)

    # When the gateway's poller hands it to the function
    # Then it lands in the function's DLQ, unchanged, with the reason and where it came from
    dead = wait_until(
        lambda: queues.take_all(f"{queue}DeadLetterQueue"), timeout=DELIVERY_TIMEOUT, what="the dead letter"
    )
    (letter,) = dead
    expected_body = message if isinstance(message, str) else json.dumps(message)
    assert letter["Body"] == expected_body
    assert reason in (attribute(letter, "failureReason") or "")
    assert attribute(letter, "sourceMessageId") == message_id
    assert attribute(letter, "operation") == named or next(
        op.name for op in OPERATIONS.values() if logical_prefix(op) == queue
    )
    assert attribute(letter, "talonStatus") is None
    # and it left its queue, first time round (not by redrive), without reaching Talon.One
    queues.wait_empty(f"{queue}Queue", timeout=DELIVERY_TIMEOUT)
    assert letter["Attributes"]["ApproximateReceiveCount"] == "1"
    assert talon_requests(stack) == []


def test_talon_one_refusal_is_dead_lettered_with_its_status(stack: LocalStack, queues: Queues) -> None:
    # Given an event Talon.One refuses for good (event types starting with "talon_" are reserved)
    message = {"body": {"sessionId": "s-1", "type": "talon_reserved", "attributes": {}}}

    # When it is queued
    message_id = queues.send("TrackEventQueue", message)

    # Then Talon.One saw it once (a 400 is not retried) and it is dead-lettered with that status
    (letter,) = wait_until(lambda: queues.take_all("TrackEventDeadLetterQueue"), timeout=DELIVERY_TIMEOUT, what="DLQ")
    assert attribute(letter, "talonStatus") == "400"
    assert (attribute(letter, "failureReason") or "").startswith("Talon.One 400: ")
    assert attribute(letter, "sourceMessageId") == message_id
    assert [r["status"] for r in talon_requests(stack)] == [400]
    queues.wait_empty("TrackEventQueue", timeout=DELIVERY_TIMEOUT)


def test_message_that_keeps_failing_is_redriven_to_the_dlq(stack: LocalStack, queues: Queues) -> None:
    # Given Talon.One answers every referral with 503
    stack.emulator.inject_fault(status=503, count=1000, path="/v1/referrals")
    max_receives = int(stack.aws.resolver.parameters["MaxReceiveCount"]) if stack.aws.resolver else 0
    assert max_receives == 3

    # When a referral is queued
    message = {"body": {"campaignId": 3, "advocateProfileIntegrationId": "p-1"}}
    message_id = queues.send("CreateReferralQueue", message)

    # Then it is tried once per receive (POST is never retried by the client: it may have been
    # processed), comes back after each backoff, and on its last receive (MaxReceiveCount) the relay
    # moves it to the DLQ itself, with the reason and its original place: nothing is lost
    (letter,) = wait_until(
        lambda: queues.take_all("CreateReferralDeadLetterQueue"), timeout=20, interval=0.2, what="redrive"
    )
    assert attribute(letter, "sourceMessageId") == message_id
    assert json.loads(letter["Body"]) == message
    reason = attribute(letter, "failureReason") or ""
    assert reason.startswith(f"still failing on its last receive ({max_receives}): Talon.One 503")
    assert attribute(letter, "relayOrder")
    attempts = talon_requests(stack)
    assert [r["status"] for r in attempts] == [503] * max_receives
    assert queues.depth("CreateReferralQueue") == 0
