"""Delivery guarantees at the function level: idempotency, caller authentication, async mode, order."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from talon_relay.callers import signatures as callers
from talon_relay.operations import OPERATIONS, Operation
from tests.functions.conftest import PREVIOUS_SIGNING_SECRET, SIGNING_SECRET, Stack
from tests.functions.test_api_gateway import api_event, resigned, sign_event
from tests.functions.test_sqs import sqs_event
from tests.support import LambdaContext, LogCapture, integration_state, load_event

SESSION = "update_customer_session"


def session_path(event: dict[str, Any]) -> str:
    return "/v1/customer_sessions/" + str(event["pathParameters"]["customerSessionId"])


# --- idempotency --------------------------------------------------------------------------------


def test_same_idempotency_key_twice_calls_talon_once_and_replays_the_answer(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a webhook with an Idempotency-Key, and Talon.One answering with effects
    event = api_event(SESSION, headers={"Idempotency-Key": f"order-{uuid.uuid4()}"})
    httpserver.expect_request(session_path(event), method="PUT").respond_with_json(integration_state())
    handler = load_handler(SESSION)
    # When the sender delivers it twice (its retry after a timeout on its side)
    first = handler(event, LambdaContext())
    second = handler(resigned(event), LambdaContext(aws_request_id="req-0002"))
    # Then Talon.One was called once and the replay carries the first answer
    assert len(httpserver.log) == 1
    assert first["statusCode"] == second["statusCode"] == 200
    assert json.loads(second["body"]) == json.loads(first["body"])


def test_same_key_with_another_payload_is_409(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a key already used for one session update
    key = f"k-{uuid.uuid4()}"
    first = api_event(SESSION, body={"profileId": "p-1", "total": 10}, headers={"Idempotency-Key": key})
    httpserver.expect_request(session_path(first), method="PUT").respond_with_json(integration_state())
    handler = load_handler(SESSION)
    assert handler(first, LambdaContext())["statusCode"] == 200
    # When the same key comes with a different body
    second = api_event(SESSION, body={"profileId": "p-1", "total": 99}, headers={"Idempotency-Key": key})
    response = handler(second, LambdaContext())
    # Then it is refused with a clear 409, and Talon.One saw only the first
    assert response["statusCode"] == 409
    assert "different" in json.loads(response["body"])["message"]
    assert len(httpserver.log) == 1


def test_a_failed_call_leaves_no_record_so_the_retry_goes_through(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given Talon.One fails the first attempt of a keyed request (400), then accepts
    event = api_event(SESSION, headers={"Idempotency-Key": f"k-{uuid.uuid4()}"})
    httpserver.expect_ordered_request(session_path(event), method="PUT").respond_with_json({"message": "no"}, 400)
    httpserver.expect_ordered_request(session_path(event), method="PUT").respond_with_json(integration_state())
    handler = load_handler(SESSION)
    # When the sender retries with the same key
    assert handler(event, LambdaContext())["statusCode"] == 400
    response = handler(resigned(event), LambdaContext())
    # Then the retry reached Talon.One
    assert response["statusCode"] == 200
    assert len(httpserver.log) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
def test_invalid_idempotency_key_header_is_400(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, key: str
) -> None:
    # Given a header value that cannot be a key
    event = api_event(SESSION, headers={"Idempotency-Key": key})
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then 400 names the header
    assert response["statusCode"] == 400
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": "Idempotency-Key"}
    assert httpserver.log == []


def test_same_sqs_message_delivered_twice_calls_talon_once(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a queued session update (no idempotencyKey: the message id is the key)
    httpserver.expect_request("/v1/customer_sessions/s-dup", method="PUT").respond_with_json(integration_state())
    event = sqs_event(SESSION, [{"customerSessionId": "s-dup", "body": {"profileId": "p-1"}}])
    event["Records"][0]["messageId"] = f"m-{uuid.uuid4()}"
    handler = load_handler(SESSION)
    # When SQS delivers it twice (at-least-once)
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert handler(copy.deepcopy(event), LambdaContext()) == {"batchItemFailures": []}
    # Then exactly one call reached Talon.One
    assert len(httpserver.log) == 1


def test_idempotency_key_field_dedupes_distinct_messages(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given two messages (different ids) carrying the same idempotencyKey and body
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(integration_state(), 201)
    message = {
        "idempotencyKey": f"evt-{uuid.uuid4()}",
        "body": {"sessionId": "s-1", "type": "purchase", "attributes": {}},
    }
    handler = load_handler("track_event")
    # When both are processed
    for _ in range(2):
        event = sqs_event("track_event", [message])
        event["Records"][0]["messageId"] = f"m-{uuid.uuid4()}"
        assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    # Then the event was tracked once (no double-counted loyalty points)
    assert len(httpserver.log) == 1


# --- caller authentication ------------------------------------------------------------------------


def unauthorized_reason(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 401
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": "X-Relay-Signature"}
    return str(error["details"])


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda e: e["headers"].pop(callers.SIGNATURE_HEADER), "missing"),
        (lambda e: e["headers"].__setitem__(callers.SIGNATURE_HEADER, "sha256=abc"), "malformed"),
        (lambda e: e["headers"].__setitem__(callers.SIGNATURE_HEADER, sign_event(e, "wrong-secret")), "does not match"),
        (
            lambda e: e["headers"].__setitem__(
                callers.SIGNATURE_HEADER, sign_event(e, SIGNING_SECRET, timestamp=int(time.time()) - 301)
            ),
            "outside the 5-minute window",
        ),
        (
            lambda e: e["headers"].__setitem__(
                callers.SIGNATURE_HEADER, sign_event(e, SIGNING_SECRET, timestamp=int(time.time()) + 400)
            ),
            "in the future; at most 60 s",
        ),
        (lambda e: e.__setitem__("body", e["body"].replace("p-1", "p-2")), "does not match"),
        (lambda e: e["pathParameters"].__setitem__("customerSessionId", "someone-else"), "does not match"),
    ],
    ids=["missing", "malformed", "wrong-secret", "expired", "future", "tampered-body", "other-path"],
)
def test_unauthenticated_requests_are_401_and_reach_nothing(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, tamper: Any, reason: str
) -> None:
    # Given a correctly signed session update, then tampered with
    event = api_event(SESSION, body={"profileId": "p-1", "total": 10})
    tamper(event)
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then 401 says why, and neither Talon.One nor the queue saw it
    assert reason in unauthorized_reason(response)
    assert httpserver.log == []
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages", []) == []


def test_both_secrets_are_accepted_during_a_rotation(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given the signing secret is being rotated: a new current value, the old one as previous
    from aws_lambda_powertools.utilities import parameters

    stack.secrets.put_secret_value(
        SecretId=stack.signing_secret_arn,
        SecretString=json.dumps({"current": "brand-new-secret", "previous": PREVIOUS_SIGNING_SECRET}),
    )
    parameters.clear_caches()
    event = api_event(SESSION, secret="brand-new-secret")
    httpserver.expect_request(session_path(event), method="PUT").respond_with_json(integration_state())
    handler = load_handler(SESSION)
    # When one sender signs with the new secret and another with the previous one
    new = handler(event, LambdaContext())
    old = handler(api_event(SESSION, secret=PREVIOUS_SIGNING_SECRET), LambdaContext())
    # Then both are let in, and the retired secret is not
    assert new["statusCode"] == old["statusCode"] == 200
    assert "does not match" in unauthorized_reason(handler(api_event(SESSION, secret=SIGNING_SECRET), LambdaContext()))


def test_a_request_api_gateway_checked_by_api_key_needs_no_signature(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a request that came through the key API (API Gateway sets the key's id)
    event = api_event(SESSION, secret=None)
    event["requestContext"]["identity"]["apiKeyId"] = "abc123key"
    httpserver.expect_request(session_path(event), method="PUT").respond_with_json(integration_state())
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then it is served
    assert response["statusCode"] == 200


def test_authentication_can_be_disabled(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CALLER_AUTH=disabled (a relay reachable only from a trusted network)
    monkeypatch.setenv("CALLER_AUTH", "disabled")
    event = api_event(SESSION, secret=None)
    httpserver.expect_request(session_path(event), method="PUT").respond_with_json(integration_state())
    # When an unsigned request arrives
    # Then it is served
    assert load_handler(SESSION)(event, LambdaContext())["statusCode"] == 200


def test_signing_secret_never_appears_in_logs(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture
) -> None:
    # Given a valid and an invalid request
    event = api_event(SESSION)
    httpserver.expect_request(session_path(event), method="PUT").respond_with_json(integration_state())
    handler = load_handler(SESSION)
    handler(event, LambdaContext())
    handler(api_event(SESSION, secret="attacker-guess"), LambdaContext())
    # Then the logs hold neither the secret nor a signature
    assert SIGNING_SECRET not in logs.text
    assert event["headers"][callers.SIGNATURE_HEADER] not in logs.text
    assert "unauthenticated request" in logs.text


# --- storage-first async mode -----------------------------------------------------------------------


def use_fifo_queue(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """Given the function's own queue is a FIFO session queue (as deployed)."""
    fifo = str(
        stack.sqs.create_queue(
            QueueName=f"sessions-{uuid.uuid4().hex[:8]}.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
    )
    monkeypatch.setenv("QUEUE_URL", fifo)
    return fifo


# the preference alone, with a parameter (RFC 7240: `respond-async; wait=10`), or among others, in any case
@pytest.mark.parametrize("prefer", ["respond-async", "respond-async; wait=10", "handling=lenient, Respond-Async"])
def test_prefer_respond_async_queues_the_request_and_answers_202(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, prefer: str
) -> None:
    # Given a FIFO session queue and an async request with an idempotency key
    fifo = use_fifo_queue(stack, monkeypatch)
    event = api_event(SESSION, headers={"Prefer": prefer, "Idempotency-Key": "async-1"})
    handler = load_handler(SESSION)
    # When handled while Talon.One is not even asked
    response = handler(event, LambdaContext())
    # Then the caller gets 202 with the message id, and the message is queued in the session's group
    assert response["statusCode"] == 202
    assert response["headers"]["Preference-Applied"] == "respond-async"
    message_id = json.loads(response["body"])["messageId"]
    assert httpserver.log == []
    (queued,) = stack.sqs.receive_message(QueueUrl=fifo, AttributeNames=["All"])["Messages"]
    assert queued["MessageId"] == message_id
    assert queued["Attributes"]["MessageGroupId"] == event["pathParameters"]["customerSessionId"]
    message = json.loads(queued["Body"])
    assert message["customerSessionId"] == event["pathParameters"]["customerSessionId"]
    assert message["idempotencyKey"] == "async-1"
    assert message["body"] == json.loads(event["body"])
    # And when that message is processed later, Talon.One gets the request once
    httpserver.expect_request(session_path(event), method="PUT").respond_with_json(integration_state())
    record = copy.deepcopy(load_event(SESSION, "sqs")["Records"][0])
    record.update(messageId=queued["MessageId"], body=queued["Body"])
    assert handler({"Records": [record]}, LambdaContext()) == {"batchItemFailures": []}
    assert len(httpserver.log) == 1


def test_async_request_is_validated_before_it_is_queued(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given an async request with an invalid body
    event = api_event(SESSION, body={"cartItems": [{"sku": ""}]}, headers={"Prefer": "respond-async"})
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then it is a 400, and nothing was queued
    assert response["statusCode"] == 400
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages", []) == []


@pytest.mark.parametrize("op", [op for op in OPERATIONS.values() if not op.queued], ids=lambda op: op.function)
def test_an_operation_without_a_queue_answers_at_once_even_when_asked_to_queue(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, op: Operation
) -> None:
    # Given an operation without a queue (a GET: a read is answered at once; it is deployed with no queue)
    event = api_event(op.function, headers={"Prefer": "respond-async"})
    path = op.canonical_path(event.get("pathParameters"))
    httpserver.expect_request(path, method=op.method).respond_with_json({"effects": []})
    handler = load_handler(op.function)
    # When a caller asks for it to be queued
    response = handler(event, LambdaContext())
    # Then it is answered now with Talon.One's answer, and nothing was queued
    assert response["statusCode"] == op.success_status, response
    assert "Preference-Applied" not in (response.get("headers") or {})
    assert len(httpserver.log) == 1
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages", []) == []
    # And an SQS event (no event source mapping delivers one) is refused, not processed
    with pytest.raises(ValueError, match="it has no queue"):
        handler({"Records": [{"body": "{}", "messageId": "m-1"}]}, LambdaContext())


# --- per-customer order, parallel across customers ---------------------------------------------------


def fifo_event(messages: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """An SQS FIFO batch: (group, message id, message) per record, in queue order."""
    template = load_event(SESSION, "sqs")["Records"][0]
    records = []
    for index, (group, message_id, message) in enumerate(messages):
        record = copy.deepcopy(template)
        record["messageId"] = message_id
        record["body"] = json.dumps(message)
        record["attributes"] = {**record["attributes"], "MessageGroupId": group, "SequenceNumber": str(index)}
        records.append(record)
    return {"Records": records}


def test_a_failure_stops_its_group_only_and_groups_run_in_parallel(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a stand-in that fails one update of session A, and records how many calls overlap
    lock = threading.Lock()
    state = {"inflight": 0, "max": 0}
    seen: list[str] = []
    both_in_flight = threading.Event()

    def answer(request: Request) -> Response:
        body = json.loads(request.get_data())
        with lock:
            state["inflight"] += 1
            state["max"] = max(state["max"], state["inflight"])
            seen.append(body["attributes"]["step"])
            if state["inflight"] >= 2:
                both_in_flight.set()
        both_in_flight.wait(timeout=2)  # bounded: a sequential processor never gets here twice at once
        with lock:
            state["inflight"] -= 1
        if body["attributes"]["step"] == "a2":
            return Response('{"message": "down"}', 503, content_type="application/json")
        return Response(json.dumps(integration_state()), 200, content_type="application/json")

    httpserver.expect_request("/v1/customer_sessions/s-a", method="PUT").respond_with_handler(answer)
    httpserver.expect_request("/v1/customer_sessions/s-b", method="PUT").respond_with_handler(answer)

    def update(session: str, step: str) -> dict[str, Any]:
        return {"customerSessionId": session, "body": {"attributes": {"step": step}}}

    event = fifo_event(
        [
            ("s-a", "a1", update("s-a", "a1")),
            ("s-b", "b1", update("s-b", "b1")),
            ("s-a", "a2", update("s-a", "a2")),
            ("s-b", "b2", update("s-b", "b2")),
            ("s-a", "a3", update("s-a", "a3")),
            ("s-b", "b3", update("s-b", "b3")),
        ]
    )
    # When the batch is handled
    result = load_handler(SESSION)(event, LambdaContext())
    # Then a2 (failed) and a3 (after it in its group) are retried; session B is untouched by A's failure
    assert result == {"batchItemFailures": [{"itemIdentifier": "a2"}, {"itemIdentifier": "a3"}]}
    assert "a3" not in seen
    # And each session's updates reached Talon.One in order, the two sessions side by side
    assert [s for s in seen if s.startswith("a")] == ["a1", "a2", "a2", "a2"]  # a2: 1 try + 2 retries
    assert [s for s in seen if s.startswith("b")] == ["b1", "b2", "b3"]
    assert state["max"] >= 2


def test_async_reuse_of_a_key_with_another_body_is_not_dropped_by_sqs_deduplication(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a FIFO queue, and two async requests with the same key but different bodies
    fifo = use_fifo_queue(stack, monkeypatch)
    handler = load_handler(SESSION)
    headers = {"Prefer": "respond-async", "Idempotency-Key": "reused-key"}
    # When both are sent
    for total in (10, 99):
        response = handler(
            api_event(SESSION, body={"profileId": "p-1", "total": total}, headers=headers), LambdaContext()
        )
        assert response["statusCode"] == 202
    # Then SQS's deduplication did not silently drop the second: both are queued for the consumer,
    # whose idempotency check refuses the second (a dead letter with the reason)
    queued = stack.sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["body"]["total"] for m in queued) == [10, 99]
