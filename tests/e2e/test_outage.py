"""An outage longer than the horizon, then a redrive, end to end: the update that waited it out in the
DLQ does not overwrite the newer one applied since, and one with nothing newer is applied."""

from __future__ import annotations

from typing import Any

from local.redrive import redrive
from local.stack import LocalStack
from tests.e2e.helpers import PARAMETERS, Queues, attribute, talon_requests, wait_until

QUEUE, DLQ = "SessionsQueue", "SessionsDeadLetterQueue"


def update(session: str, seq: int) -> dict[str, Any]:
    return {"customerSessionId": session, "body": {"profileId": f"owner-{session}", "attributes": {"seq": seq}}}


def applied_seqs(stack: LocalStack, session: str) -> list[int]:
    return [
        r["body"]["attributes"]["seq"]
        for r in talon_requests(stack, method="PUT", prefix=f"/v1/customer_sessions/{session}")
        if r["status"] == 200
    ]


def test_a_redrive_after_an_outage_longer_than_the_horizon_brings_the_latest_state(
    stack: LocalStack, queues: Queues
) -> None:
    # Given Talon.One down for 10 s, longer than the 3 receives 3 s apart cover (the tests' horizon)
    assert PARAMETERS["MaxReceiveCount"] == 3
    stack.emulator.inject_fault(status=503, seconds=10, path="/v1/customer_sessions/")
    # When one update of two sessions each is queued meanwhile
    queues.send(QUEUE, operation="updateCustomerSession", message=update("s-newer", 1))
    queues.send(QUEUE, operation="updateCustomerSession", message=update("s-alone", 1))
    # Then on their last receive the relay dead-letters them, with the reason and their place in the order
    wait_until(lambda: queues.depth(DLQ) == 2, timeout=20, interval=0.2, what="both dead-lettered")
    peek = queues.sqs.receive_message(
        QueueUrl=queues.url(DLQ), MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
    )["Messages"]
    assert all((attribute(m, "failureReason") or "").startswith("still failing on its last receive (3)") for m in peek)
    assert all(attribute(m, "relayOrder") for m in peek)
    # When Talon.One is back and a newer update of one session is applied
    wait_until(lambda: not stack.emulator.faults(), timeout=15, what="the outage to end")
    queues.send(QUEUE, operation="updateCustomerSession", message=update("s-newer", 2))
    wait_until(lambda: applied_seqs(stack, "s-newer") == [2], timeout=15, what="the newer update")
    # And the dead letters are redriven after the outage
    assert redrive(queues.sqs, dlq_url=queues.url(DLQ), queue_url=queues.url(QUEUE), wait_seconds=0).moved == 2
    queues.wait_empty(QUEUE, timeout=15)
    # Then the old update is superseded, never applied over the newer one: the session is at its latest
    assert applied_seqs(stack, "s-newer") == [2]
    sessions = stack.emulator.state()["sessions"]
    assert sessions["s-newer"]["attributes"] == {"seq": 2}
    # And the session with nothing newer gets its update; nothing is left in the DLQ
    assert applied_seqs(stack, "s-alone") == [1]
    assert sessions["s-alone"]["attributes"] == {"seq": 1}
    assert queues.depth(DLQ) == 0
