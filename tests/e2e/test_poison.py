"""Issue 11 end to end, as reproduced against `make run`: poison on the erasure queue and in a FIFO
group, bad bodies over HTTP, a replayed signed purchase, a large answer repeated, async limits."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local.stack import LocalStack
from talon_relay.callers import signatures as callers
from tests.e2e.helpers import Http, Queues, attribute, record_invocations, talon_requests, wait_until
from tests.poison import POISON_VALUES, erasure_message, session_body, session_message

pytestmark = pytest.mark.e2e


def points(answer_json: dict[str, Any]) -> float:
    """The loyalty balance an IntegrationState reports (program 1 of the default campaigns, as today's ledger)."""
    return float(answer_json["loyalty"]["programs"]["1"]["ledger"]["currentBalance"])


def test_poison_on_the_erasure_queue_does_not_stop_the_off_peak_run(
    stack: LocalStack, http: Http, queues: Queues
) -> None:
    # Given the erasure queue holds poison (2,000 levels deep, a 5,000-digit integer, a lone
    # surrogate) next to a valid erasure of a known customer
    http.talon("PUT", "/v1/customer_profiles/p-4", {"attributes": {"tier": "gold"}})
    stack.emulator.clear_requests()
    for body in (
        erasure_message(POISON_VALUES["depth-2000"][0]),
        erasure_message(POISON_VALUES["5000-digit-integer"][0]),
        '{"integrationId":"\\ud800"}',
    ):
        queues.send("DeleteCustomerDataQueue", body)
    queues.send("DeleteCustomerDataQueue", {"integrationId": "p-4"})

    # When `make cleanup` runs the schedule
    answer = http.run_schedule("DeleteCustomerDataFunction")

    # Then the run succeeds, Talon.One received the DELETE, and each poison message is in the DLQ
    # with a failureReason after one receive
    assert answer.status == 200, answer.data
    assert answer.json == {"requested": 1, "deleted": 1, "not_found": 0, "failed": 0, "dead_lettered": 3}
    assert [(r["method"], r["path"]) for r in talon_requests(stack)] == [("DELETE", "/v1/customer_data/p-4")]
    dead = queues.take_all("DeleteCustomerDataDeadLetterQueue")
    assert len(dead) == 3
    assert all(attribute(message, "failureReason") for message in dead)
    assert queues.depth("DeleteCustomerDataQueue") == 0


def test_poison_in_a_fifo_group_goes_to_the_dlq_at_once_and_the_update_behind_it_is_delivered(
    stack: LocalStack, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given group g-deep: a session update 300 levels deep, then a valid update of the same session
    seen = record_invocations(monkeypatch, stack, "UpdateCustomerSessionV2Function")  # the sessions queue's consumer
    poison_id = queues.send(
        "SessionsQueue",
        session_message("s-deep", POISON_VALUES["depth-300"][0]),
        group="g-deep",
        operation="updateCustomerSession",
    )
    queues.send(
        "SessionsQueue",
        {"customerSessionId": "s-deep", "body": {"profileId": "p-1"}},
        group="g-deep",
        operation="updateCustomerSession",
    )

    # When the queue's poller delivers them
    wait_until(lambda: talon_requests(stack, method="PUT"), timeout=20, what="the valid update to reach Talon.One")
    queues.wait_empty("SessionsQueue", timeout=20)

    # Then the valid update reached Talon.One, and the poison is in the DLQ with its reason after one receive
    (request,) = talon_requests(stack, method="PUT")
    assert (request["path"], request["body"]) == ("/v1/customer_sessions/s-deep", {"profileId": "p-1"})
    (dead,) = queues.take_all("SessionsDeadLetterQueue")
    assert "message body nests 303 levels" in (attribute(dead, "failureReason") or "")
    receives = [r for invocation in seen for r in invocation.records if r["messageId"] == poison_id]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in receives] == ["1"]


@pytest.mark.parametrize("name", ["depth-300", "depth-2000", "5000-digit-integer", "lone-surrogate", "nan"])
def test_bad_bodies_get_a_400_over_http_never_a_500(stack: LocalStack, http: Http, name: str) -> None:
    # Given a signed session update with poison in an attribute
    value, words = POISON_VALUES[name]
    # When it is sent to the relay
    answer = http.relay("PUT", "/v1/customer_sessions/s-bad", session_body(value).encode())
    # Then it is a 400 naming the fault, and Talon.One never saw it
    assert answer.status == 400, answer.data
    assert words in json.dumps(answer.json)
    assert talon_requests(stack) == []


def test_one_signed_purchase_replayed_gives_one_talon_one_call_and_one_set_of_points(
    stack: LocalStack, http: Http
) -> None:
    # Given a captured signed purchase event with an Idempotency-Key
    body = json.dumps({"profileId": "p-replay", "sessionId": "s-replay", "type": "purchase", "attributes": {}})
    key = {"Idempotency-Key": f"purchase-{uuid.uuid4()}"}
    signature = {callers.SIGNATURE_HEADER: http.signature("POST", "/v1/events", body, headers=key)}
    first = http.relay("POST", "/v1/events", body, {**key, **signature})

    # When it is sent again as is, with a new key, without a key, and asynchronously
    replays = [
        {**key, **signature},
        {"Idempotency-Key": "another", **signature},
        dict(signature),
        {"Prefer": "respond-async", **key, **signature},
        {"Prefer": "respond-async", **signature},
    ]
    answers = [http.relay("POST", "/v1/events", body, headers) for headers in replays]

    # Then Talon.One recorded one purchase (10 points), and every replay is a 401 with the reason
    assert first.status == 201, first.json
    assert points(first.json) == 10
    assert [a.status for a in answers] == [401] * 5
    assert all(a.json["errors"][0]["source"] == {"parameter": callers.SIGNATURE_HEADER} for a in answers)
    assert len(talon_requests(stack, method="POST")) == 1


def test_a_large_answer_is_not_recorded_twice(stack: LocalStack, http: Http) -> None:
    # Given a purchase event with a 450,000-character attribute (Talon.One's answer is over 400 KB)
    body = {"profileId": "p-big", "sessionId": "s-big", "type": "purchase", "attributes": {"note": "n" * 450_000}}
    key = {"Idempotency-Key": f"big-{uuid.uuid4()}"}

    # When the sender sends it and repeats it with the same key
    first = http.relay("POST", "/v1/events", body, key)
    second = http.relay("POST", "/v1/events", body, key)

    # Then Talon.One was called once (10 points, not 20), and the repeat gets the first answer
    assert first.status == second.status == 201, second.data[:300]
    assert second.data == first.data
    assert points(second.json) == 10
    assert len(talon_requests(stack, method="POST")) == 1


def test_async_limits_are_413_and_group_ids_fit_sqs(stack: LocalStack, http: Http, queues: Queues) -> None:
    # Given async requests: one with a 2 MB body, two for a session whose id SQS cannot take as a group
    big = session_body(json.dumps("x" * 2_000_000)).encode()
    too_large = http.relay("PUT", "/v1/customer_sessions/s-2mb", big, {"Prefer": "respond-async"})
    long_id = "ü" * 130
    path = f"/v1/customer_sessions/{'%C3%BC' * 130}"
    accepted = [
        http.relay("PUT", path, {"profileId": "p-1", "total": total}, {"Prefer": "respond-async"}) for total in (1, 2)
    ]

    # Then the 2 MB one is a 413 saying why, and the others are queued (SQS took their group id) and
    # delivered to Talon.One in order
    assert too_large.status == 413, too_large.json
    assert "1,048,576" in json.dumps(too_large.json)
    assert [a.status for a in accepted] == [202, 202], [a.json for a in accepted]
    wait_until(lambda: len(talon_requests(stack, method="PUT")) == 2, timeout=20, what="both updates delivered")
    assert [r["body"]["total"] for r in talon_requests(stack, method="PUT")] == [1, 2]
    assert stack.emulator.state()["sessions"][long_id]["total"] == 2


def test_redrive_moves_a_message_that_still_fails_once(stack: LocalStack, queues: Queues) -> None:
    # Given a message with a bad body in the session DLQ (it fails again whenever it is delivered)
    from local.redrive import redrive

    dlq, queue = queues.url("SessionsDeadLetterQueue"), queues.url("SessionsQueue")
    queues.send("SessionsDeadLetterQueue", "not json", group="g-bad", operation="updateCustomerSession")
    sent_to_talon_one = len(talon_requests(stack))

    # When `make redrive FUNCTION=update_customer_session` runs while the function consumes the queue
    result = redrive(queues.sqs, dlq_url=dlq, queue_url=queue, wait_seconds=0, settle_seconds=4)

    # Then it moved the message once and saw it come back with its reason; it is in the DLQ, once
    assert (result.moved, result.came_back) == (1, 1)
    assert any("not valid JSON" in reason for reason in result.came_back_reasons)
    back = queues.take_all("SessionsDeadLetterQueue")
    assert [m["Body"] for m in back] == ["not json"]
    assert len(talon_requests(stack)) == sent_to_talon_one
