"""Issue 11's reproductions at the function level: no input gets a 500, wedges a FIFO group or stops
an erasure run; limits are told as 400/413/415 with a reason; large answers stay idempotent."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import random
import re
import string
import uuid
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.aws import queues
from talon_relay.core import input_limits as limits
from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import api_event, resigned
from tests.functions.test_guarantees import fifo_event, use_fifo_queue
from tests.poison import POISON_VALUES, erasure_message, session_body, session_message
from tests.support import LambdaContext, integration_state, load_event, reset_handlers

SESSION = "update_customer_session"
#: SQS's rule for a MessageGroupId.
SQS_GROUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def error_details(response: dict[str, Any]) -> str:
    return " ".join(str(error["details"]) for error in json.loads(response["body"])["errors"])


# --- the API: a 4xx naming the fault, never a 500 ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(POISON_VALUES))
def test_poison_body_is_a_400_naming_the_fault(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, name: str
) -> None:
    # Given a signed session update whose attribute is past a limit (deep, long number, lone surrogate, NaN)
    value, words = POISON_VALUES[name]
    event = api_event(SESSION, body=session_body(value))
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then it is a 400 that says what is wrong, and Talon.One never saw it
    assert response["statusCode"] == 400, response
    assert words in error_details(response)
    assert httpserver.log == []


def test_body_over_the_size_limit_is_a_413(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a body one byte over the documented 1 MiB
    filler = "x" * (limits.MAX_BODY_BYTES - len(session_body('""')) + 1)
    event = api_event(SESSION, body=session_body(json.dumps(filler)))
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then 413 names the size and the limit
    assert response["statusCode"] == 413
    assert "1,048,577 bytes; at most 1,048,576" in error_details(response)
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("content_type", "words"),
    [("text/plain", "is not JSON"), ("application/json; charset=utf-16", "send UTF-8")],
)
def test_a_body_that_is_not_utf8_json_is_a_415(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, content_type: str, words: str
) -> None:
    # Given a body declared as something other than JSON in UTF-8
    event = api_event(SESSION, headers={"Content-Type": content_type})
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then 415 names the header
    assert response["statusCode"] == 415
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": "Content-Type"}
    assert words in error["details"]
    assert httpserver.log == []


SESSION_JSON = json.dumps({"profileId": "p-1", "attributes": {"note": "caf\u00e9"}})


@pytest.mark.parametrize(
    ("raw", "headers", "parameter", "words"),
    [
        (SESSION_JSON.encode("utf-16"), {}, "Content-Type", "JSON in UTF-16: send UTF-8"),
        (SESSION_JSON.encode("utf-16-le"), {}, "Content-Type", "JSON in UTF-16: send UTF-8"),
        (SESSION_JSON.encode("utf-32"), {}, "Content-Type", "JSON in UTF-32: send UTF-8"),
        (gzip.compress(SESSION_JSON.encode()), {}, "Content-Type", "gzip-compressed"),
        (gzip.compress(SESSION_JSON.encode()), {"Content-Encoding": "gzip"}, "Content-Encoding", "'gzip'"),
    ],
    ids=["utf-16-bom", "utf-16-le-no-bom", "utf-32", "gzip-bytes", "content-encoding-gzip"],
)
def test_a_body_in_utf16_or_compressed_without_a_charset_is_a_415(
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Any,
    raw: bytes,
    headers: dict[str, str],
    parameter: str,
    words: str,
) -> None:
    # Given a body declared as plain application/json (no charset) but sent in UTF-16/32, or compressed,
    # through the key API (API Gateway checked the key; the body reaches the function base64-encoded)
    event = api_event(SESSION, headers={"Content-Type": "application/json", **headers}, secret=None)
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    event["requestContext"]["identity"] = {**(event["requestContext"].get("identity") or {}), "apiKeyId": "k-1"}
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then it is a 415, as for any body that is not JSON in UTF-8, naming the header to fix
    assert response["statusCode"] == 415, response
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": parameter}
    assert words in error["details"]
    assert httpserver.log == []


def test_json_with_a_charset_is_accepted(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given the usual Content-Type with its charset
    event = api_event(SESSION, headers={"Content-Type": "application/json; charset=UTF-8"})
    httpserver.expect_request(re.compile("/v1/customer_sessions/.*"), method="PUT").respond_with_json(
        integration_state()
    )
    # When handled, then it is served
    assert load_handler(SESSION)(event, LambdaContext())["statusCode"] == 200


def test_talon_ones_429_reaches_the_caller_with_its_retry_after(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given Talon.One throttles events (POST is not retried in-process) and says when to come back
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(
        {"message": "slow down"}, 429, headers={"Retry-After": "7"}
    )
    # When an event is tracked
    response = load_handler("track_event")(api_event("track_event"), LambdaContext())
    # Then the caller gets the 429 with Talon.One's body and its Retry-After
    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "7"
    assert json.loads(response["body"]) == {"message": "slow down"}


# --- async: SQS's limits are 413s and valid group ids -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        # 2 MB: over the body limit already
        (session_body(json.dumps("x" * 2_000_000)), "at most 1,048,576"),
        # within the body limit, but over what SQS takes once queued (with room for dead-letter attributes)
        (session_body(json.dumps("x" * 1_045_000)), "as a queued message"),
    ],
    ids=["2MB", "over-the-queue-limit"],
)
def test_async_request_over_what_sqs_takes_is_a_413_and_nothing_is_queued(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, body: str, words: str
) -> None:
    # Given Prefer: respond-async with a body SQS cannot take
    event = api_event(SESSION, body=body, headers={"Prefer": "respond-async"})
    # When handled
    response = load_handler(SESSION)(event, LambdaContext())
    # Then 413 says so (not a 503 "try again later"), and nothing was queued
    assert response["statusCode"] == 413, response
    assert words in error_details(response)
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages", []) == []


def test_async_long_and_non_ascii_ids_get_valid_stable_message_groups(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a FIFO session queue, and sessions whose ids SQS would refuse as a MessageGroupId
    fifo = use_fifo_queue(stack, monkeypatch)
    handler = load_handler(SESSION)
    ids = ["s" * 200, "sessión-ünï", "has space", "s-plain"]
    # When each is queued twice (two updates of the same session)
    for session in ids + ids:
        event = api_event(SESSION, params={"customerSessionId": session}, headers={"Prefer": "respond-async"})
        event["body"] = json.dumps({"profileId": "p-1", "attributes": {"n": str(uuid.uuid4())}})
        response = handler(resigned(event), LambdaContext())
        assert response["statusCode"] == 202, response
    # Then every group id fits SQS's rules, each session keeps one group (its order), and a plain id is kept
    queued = []
    while batch := stack.sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        queued.extend(batch)
    groups: dict[str, set[str]] = {}
    for message in queued:
        groups.setdefault(json.loads(message["Body"])["customerSessionId"], set()).add(
            message["Attributes"]["MessageGroupId"]
        )
    assert sorted(groups) == sorted(ids)
    assert all(len(group) == 1 and SQS_GROUP_ID.fullmatch(next(iter(group))) for group in groups.values())
    assert groups["s-plain"] == {"s-plain"}
    assert len({next(iter(group)) for group in groups.values()}) == len(ids)


# --- SQS: a poison message is dead-lettered on its first receive; its group moves on ----------------


@pytest.mark.parametrize("name", sorted(POISON_VALUES))
def test_poison_in_a_fifo_group_is_dead_lettered_at_once_and_the_next_update_is_delivered(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, name: str
) -> None:
    # Given group g-deep: a poison session update, then a valid one of the same session
    value, words = POISON_VALUES[name]
    httpserver.expect_request("/v1/customer_sessions/s-deep", method="PUT").respond_with_json(integration_state())
    event = fifo_event([("g-deep", "poison", {}), ("g-deep", "valid", {})])
    event["Records"][0]["body"] = session_message("s-deep", value)
    event["Records"][1]["body"] = json.dumps({"customerSessionId": "s-deep", "body": {"profileId": "p-1"}})
    for record in event["Records"]:
        record["messageId"] = f"{record['messageId']}-{uuid.uuid4()}"
    # When the batch is received once
    result = load_handler(SESSION)(event, LambdaContext())
    # Then nothing is left for retry: the poison is in the DLQ with its reason, the valid one reached Talon.One
    assert result == {"batchItemFailures": []}
    (dead,) = stack.dlq_messages()
    assert words in dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert dead["Body"] == event["Records"][0]["body"]
    assert [json.loads(r.get_data()) for r, _ in httpserver.log] == [{"profileId": "p-1"}]


# --- the schedule: poison next to a valid erasure -------------------------------------------------------


def test_poison_on_the_erasure_queue_does_not_stop_the_run(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given the erasure queue holds poison (deep, long number, lone surrogate) next to a valid erasure
    httpserver.expect_request("/v1/customer_data/p-4", method="DELETE").respond_with_data("", 204)
    poison = [erasure_message(POISON_VALUES[name][0]) for name in ("depth-2000", "5000-digit-integer")]
    poison.append('{"integrationId":"\\ud800"}')
    for body in poison:
        stack.send(body)
    stack.send({"integrationId": "p-4"})
    # When the off-peak schedule runs
    summary = load_handler("delete_customer_data")(load_event("delete_customer_data", "schedule"), LambdaContext())
    # Then the valid erasure is done, and each poison message is in the DLQ with its reason
    assert summary == {"requested": 1, "deleted": 1, "not_found": 0, "failed": 0, "dead_lettered": 3}
    assert [r.path for r, _ in httpserver.log] == ["/v1/customer_data/p-4"]
    reasons = sorted(m["MessageAttributes"]["failureReason"]["StringValue"] for m in stack.dlq_messages())
    assert len(reasons) == 3
    assert any("nests 2,001 levels" in r for r in reasons)
    assert any("5,000 characters" in r for r in reasons)
    assert any("surrogate" in r for r in reasons)


# --- idempotency for answers over DynamoDB's 400 KB item limit ------------------------------------------


@pytest.mark.parametrize("kind", ["compressible", "incompressible"])
def test_a_large_answer_keeps_its_idempotency_record(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, kind: str
) -> None:
    # Given Talon.One answers an event with a 450,000-character attribute (over 400 KB as one item)
    text = "x" * 450_000 if kind == "compressible" else "".join(random.choices(string.ascii_letters, k=450_000))
    answer = integration_state(attributes={"note": text})
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(answer, 201)
    event = api_event(
        "track_event",
        body={"sessionId": "s-1", "type": "purchase", "attributes": {"note": "big"}},
        headers={"Idempotency-Key": f"big-{uuid.uuid4()}"},
    )
    handler = load_handler("track_event")
    # When the sender sends it, then repeats it with the same key (its retry)
    first = handler(event, LambdaContext())
    second = handler(resigned(event), LambdaContext())
    # Then Talon.One was called once, and the repeat returns the first answer byte for byte
    assert first["statusCode"] == second["statusCode"] == 201, second
    assert second["body"] == first["body"]
    assert json.loads(second["body"])["profile"]["attributes"]["note"] == text
    assert len(httpserver.log) == 1


def test_a_queued_copy_of_a_large_answer_request_is_not_sent_twice(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a queued event whose answer is over 400 KB, delivered twice by SQS (at least once)
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(
        integration_state(attributes={"note": "y" * 450_000}), 201
    )
    event = copy.deepcopy(load_event("track_event", "sqs"))
    event["Records"] = event["Records"][:1]
    event["Records"][0]["messageId"] = f"m-{uuid.uuid4()}"
    handler = load_handler("track_event")
    # When both deliveries are handled
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert handler(copy.deepcopy(event), LambdaContext()) == {"batchItemFailures": []}
    # Then the event reached Talon.One once
    assert len(httpserver.log) == 1


# --- a dead letter near SQS's 1 MiB: its reason must not keep it in its group (issue 24) ----------------


@pytest.mark.parametrize("room", [250, 0], ids=["room-for-a-short-reason", "no-room-at-all"])
def test_a_poison_message_too_large_for_its_reason_still_leaves_its_fifo_group_at_once(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, logs: Any, room: int
) -> None:
    # Given FIFO session queue and DLQ (moto counts body and attributes against 1 MiB, as SQS does), and in
    # one session's group a poison message leaving `room` bytes of SQS's 1 MiB, then a valid update
    from tests.functions.test_outages import receive_event

    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    suffix = uuid.uuid4().hex[:8]
    queue = stack.sqs.create_queue(QueueName=f"big-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    dlq = stack.sqs.create_queue(QueueName=f"big-dlq-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", queue)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    reset_handlers()
    httpserver.expect_request("/v1/customer_sessions/s-big", method="PUT").respond_with_json(integration_state())
    head = '{"customerSessionId":"s-big","bogus":"'
    poison = head + "x" * (queues.SQS_MAX_MESSAGE_BYTES - room - len(head) - 2) + '"}'
    assert len(poison.encode()) == queues.SQS_MAX_MESSAGE_BYTES - room
    for body in (poison, json.dumps({"customerSessionId": "s-big", "body": {"profileId": "p-1"}})):
        stack.sqs.send_message(QueueUrl=queue, MessageBody=body, MessageGroupId="s-big")
    event = receive_event(stack, queue)
    assert len(event["Records"]) == 2

    # When the batch is received once
    result = load_handler(SESSION)(event, LambdaContext())

    # Then nothing waits for a retry: the poison is in the DLQ byte for byte, the update behind it applied
    assert result == {"batchItemFailures": []}
    (dead,) = stack.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert dead["Body"] == poison
    assert [json.loads(r.get_data()) for r, _ in httpserver.log] == [{"profileId": "p-1"}]
    # And the dead letter carries what fits of its reason (its place first); the whole reason is in the log
    attributes = {name: value["StringValue"] for name, value in dead.get("MessageAttributes", {}).items()}
    if room:
        assert attributes["failureReason"].startswith("Invalid request: /bogus: unknown top-level key")
        assert attributes["failureReason"].endswith(" [truncated]")
        assert "relayOrder" in attributes and "sourceMessageId" in attributes
    else:
        assert attributes == {}
    (logged,) = [r for r in logs.records() if r["message"] == "dead-lettering message"]
    assert "unknown top-level key(s) ['bogus']" in logged["reason"]
    assert any(r["message"].startswith("dead letter too large for its reason") for r in logs.records())


# --- query parameters that are not valid Unicode (adversarial pass) ---------------------------------------


@pytest.mark.parametrize(
    ("folder", "query", "signed"),
    [
        ("update_customer_session_v2", {"dry": "\ud800"}, True),  # signed: its path is made before any check
        ("get_loyalty_balances", {"subledgerId": "ok\udfff"}, False),  # key API: a free-text parameter
    ],
    ids=["signed-boolean", "key-api-free-text"],
)
def test_a_query_parameter_with_a_lone_surrogate_is_a_400_naming_it(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, query: dict[str, str], signed: bool
) -> None:
    # Given a request whose query parameter holds a lone surrogate (text that cannot be sent as UTF-8)
    event = copy.deepcopy(load_event(folder, "api"))
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
    if signed:
        event["headers"]["X-Relay-Signature"] = "t=1764499200,v2=" + "0" * 64
    else:
        event["requestContext"]["identity"] = {**(event["requestContext"].get("identity") or {}), "apiKeyId": "k-1"}
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then it is refused with a 4xx naming what is wrong (never a 500), and Talon.One never saw it
    assert 400 <= response["statusCode"] < 500, response
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == ({"parameter": "X-Relay-Signature"} if signed else {"parameter": "subledgerId"})
    if not signed:
        assert "not valid Unicode" in error["details"]
    assert httpserver.log == []


@pytest.mark.parametrize("key", ["refund-€", "refund\n7", "réfund 7"], ids=["euro", "newline", "latin-1-space"])
def test_a_queued_return_whose_key_is_no_header_value_still_reaches_talon_one_and_holds_nothing_up(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, key: str
) -> None:
    # Given one session's FIFO group: a return whose idempotencyKey (any non-empty string, docs/api.md) cannot
    # be sent as Talon.One's Idempotency-Key header as it is, then an update of the same session
    httpserver.expect_request("/v2/customer_sessions/s-ret/returns", method="POST").respond_with_json(
        {"effects": [], "customerSession": {}}
    )
    httpserver.expect_request("/v2/customer_sessions/s-ret", method="PUT").respond_with_json({"effects": []})
    message = json.loads(load_event("return_cart_items", "sqs")["Records"][0]["body"])
    event = fifo_event(
        [
            ("s-ret", f"return-{uuid.uuid4()}", {**message, "customerSessionId": "s-ret", "idempotencyKey": key}),
            ("s-ret", f"update-{uuid.uuid4()}", {"customerSessionId": "s-ret", "body": {"customerSession": {}}}),
        ]
    )
    operation = {"relayOperation": {"stringValue": "returnCartItems", "dataType": "String"}}
    event["Records"][0]["messageAttributes"] = operation
    event["Records"][1]["messageAttributes"] = {}
    # When the batch is received once
    result = load_handler("update_customer_session_v2")(event, LambdaContext())
    # Then nothing waits for a retry: the return went out once, its key as the SHA-256 of the key (the same at
    # every delivery, as one longer than 255 characters goes), and the update behind it was applied
    assert result == {"batchItemFailures": []}
    (returned, _), (updated, _) = httpserver.log
    assert returned.path == "/v2/customer_sessions/s-ret/returns"
    assert returned.headers["Idempotency-Key"] == hashlib.sha256(key.encode()).hexdigest()
    assert updated.path == "/v2/customer_sessions/s-ret"
    assert stack.dlq_messages() == []
