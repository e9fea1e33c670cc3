"""Every queued function: SQS batch events from events/, partial failures, poison to the DLQ."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.operations import OPERATIONS
from tests.functions.conftest import Stack
from tests.support import LambdaContext, LogCapture, integration_state, load_event, reset_handlers
from tests.support import answer_every_route as answer_all

#: The functions an SQS event source feeds: every Integration API entry with a queue (not a GET) but the one
#: the schedule drains (webhook receivers' queues hold webhooks: test_shopify_webhook.py).
QUEUED = [op.function for op in OPERATIONS.values() if op.queued and op.webhook is None and not op.schedule]


def sqs_event(folder: str, bodies: list[Any]) -> dict[str, Any]:
    """The sample event of `folder` with one record per body (ids msg-0, msg-1, ...).

    On a FIFO queue each record gets its own message group (g-0, g-1, ...), so they are independent.
    """
    template = load_event(folder, "sqs")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"msg-{index}"
        if "MessageGroupId" in record["attributes"]:
            record["attributes"]["MessageGroupId"] = f"g-{index}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


def _prefix(prefix: str) -> Any:
    return re.compile("^" + re.escape(prefix) + ".+")


@pytest.mark.parametrize("folder", QUEUED)
def test_sample_batch_is_delivered_whole(stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str) -> None:
    # Given the operation's sample SQS event and a Talon.One that accepts everything
    event = load_event(folder, "sqs")
    answer_all(httpserver)
    # When the function handles the batch
    result = load_handler(folder)(event, LambdaContext())
    # Then no record failed, each reached Talon.One once, and nothing was dead-lettered
    assert result == {"batchItemFailures": []}
    assert len(httpserver.log) == len(event["Records"])

    # (records of different sessions run concurrently: compare as a multiset)
    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    # (an operation without a body, reopenCustomerSession, sends none)
    sent = sorted(canonical(json.loads(request.get_data() or b"null")) for request, _ in httpserver.log)
    expected = sorted(canonical(json.loads(record["body"]).get("body")) for record in event["Records"])
    assert sent == expected
    assert stack.dlq_messages() == []


def test_one_bad_record_never_fails_its_neighbours(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a batch: good, invalid JSON, invalid body, Talon.One 404, Talon.One 503 (retryable), good
    httpserver.expect_request("/v1/customer_sessions/s-missing", method="PUT").respond_with_json(
        {"message": "Not found", "errors": []}, status=404
    )
    httpserver.expect_request("/v1/customer_sessions/s-down", method="PUT").respond_with_data("", status=503)
    httpserver.expect_request(_prefix("/v1/customer_sessions/s-ok"), method="PUT").respond_with_json(
        integration_state()
    )
    event = sqs_event(
        "update_customer_session",
        [
            {"customerSessionId": "s-ok-1", "body": {"profileId": "p-1", "total": 10}},
            "{broken",
            {"customerSessionId": "s-bad", "body": {"cartItems": [{"name": "x"}]}},
            {"customerSessionId": "s-missing", "body": {"profileId": "p-1"}},
            {"customerSessionId": "s-down", "body": {"profileId": "p-1"}},
            {"customerSessionId": "s-ok-2", "body": {"profileId": "p-2"}},
        ],
    )

    # When the batch is handled
    result = load_handler("update_customer_session")(event, LambdaContext())

    # Then only the retryable record is reported for retry
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-4"}]}
    # And the three that can never succeed sit in the DLQ with their reasons
    dead = {
        m["MessageAttributes"]["sourceMessageId"]["StringValue"]: m["MessageAttributes"] for m in stack.dlq_messages()
    }
    assert set(dead) == {"msg-1", "msg-2", "msg-3"}
    assert "not valid JSON" in dead["msg-1"]["failureReason"]["StringValue"]
    reason = dead["msg-2"]["failureReason"]["StringValue"]
    assert "/body/cartItems/0/sku" in reason and "/body/cartItems/0/quantity" in reason
    assert dead["msg-3"]["talonStatus"]["StringValue"] == "404"
    assert all(d["operation"]["StringValue"] == "updateCustomerSession" for d in dead.values())
    # And the good ones reached Talon.One (503 retried within the invocation: 3 attempts)
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/v1/customer_sessions/s-ok-1") == 1
    assert paths.count("/v1/customer_sessions/s-ok-2") == 1
    assert paths.count("/v1/customer_sessions/s-down") == 3


def test_a_warm_container_starts_each_batch_clean(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a warm function whose last batch's FIFO group failed at its head (the record behind it skipped)
    httpserver.expect_request("/v1/customer_sessions/s-down", method="PUT").respond_with_data("", status=503)
    httpserver.expect_request(_prefix("/v1/customer_sessions/s-ok"), method="PUT").respond_with_json(
        integration_state()
    )
    handler = load_handler("update_customer_session")

    def one_group(bodies: list[dict[str, Any]]) -> dict[str, Any]:
        event = sqs_event("update_customer_session", bodies)
        for record in event["Records"]:
            record["attributes"]["MessageGroupId"] = "g-0"
        return event

    down = [{"customerSessionId": "s-down", "body": {"profileId": "p-1"}}, {"customerSessionId": "s-ok-0", "body": {}}]
    first = handler(one_group(down), LambdaContext())
    assert first == {"batchItemFailures": [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]}
    # When the same container (its batch processor kept) handles the group's next batch
    up = [{"customerSessionId": f"s-ok-{n}", "body": {"profileId": "p-1"}} for n in (1, 2)]
    result = handler(one_group(up), LambdaContext())
    # Then nothing of the last batch's failure is left: every record is applied and none reported
    assert result == {"batchItemFailures": []}
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/v1/customer_sessions/s-ok-1") == 1 and paths.count("/v1/customer_sessions/s-ok-2") == 1
    assert "/v1/customer_sessions/s-ok-0" not in paths


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"body": {"sessionId": "s-1", "type": "x", "attributes": {}}, "extra": 1}, "unknown top-level key"),
        (
            {"body": {"sessionId": "s-1", "type": "x", "attributes": {}}, "idempotencyKey": 5},
            "idempotencyKey",
        ),
        ({"body": {"sessionId": "", "type": "x", "attributes": {}}}, "/body/sessionId"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_poison_messages_name_their_fault(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, message: Any, reason: str
) -> None:
    # Given a message that can never succeed
    event = sqs_event("track_event", [message])
    # When handled
    result = load_handler("track_event")(event, LambdaContext())
    # Then it leaves the queue for the DLQ with a reason naming the fault, and Talon.One saw nothing
    assert result == {"batchItemFailures": []}
    (dead,) = stack.dlq_messages()
    assert reason in dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert httpserver.log == []


def test_poison_without_a_dlq_is_kept_for_redrive(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no DEAD_LETTER_QUEUE_URL is configured
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URL")
    reset_handlers()
    # When a poison message is handled
    result = load_handler("track_event")(sqs_event("track_event", ["{nope"]), LambdaContext())
    # Then it is reported as failed (stays on its queue and reaches the DLQ by redrive), never dropped
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


def test_post_5xx_is_retried_by_sqs_not_in_process(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One answers 502 to a referral
    httpserver.expect_request("/v1/referrals", method="POST").respond_with_data("", status=502)
    event = sqs_event("create_referral", [{"body": {"campaignId": 3, "advocateProfileIntegrationId": "p-1"}}])
    # When handled
    result = load_handler("create_referral")(event, LambdaContext())
    # Then the POST was made once and the record is left for SQS to retry
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert len(httpserver.log) == 1
    assert stack.dlq_messages() == []


@pytest.mark.parametrize("location", [None, "https://elsewhere.example/v1/referrals"])
def test_a_redirect_from_talon_one_is_the_relays_configuration_not_the_messages_fault(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture, location: str | None
) -> None:
    # Given Talon.One's base URL in the relay's secret answers every call with a redirect (with a Location to
    # follow, or without one)
    headers = {"Location": location} if location else {}
    httpserver.expect_request("/v1/referrals", method="POST").respond_with_data("", status=301, headers=headers)
    event = sqs_event("create_referral", [{"body": {"campaignId": 3, "advocateProfileIntegrationId": "p-1"}}])
    # When a queued referral is handled
    result = load_handler("create_referral")(event, LambdaContext())
    # Then it was sent once and never followed elsewhere, and the message stays on its queue for after the fix
    # (not dead-lettered: it is not at fault), with an error naming the redirect for the operator
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert len(httpserver.log) == 1
    assert stack.dlq_messages() == []
    assert any(line["level"] == "ERROR" and "a redirect" in str(line.get("reason")) for line in logs.records())


def test_a_queued_call_talon_one_applied_is_never_dead_lettered(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given Talon.One applies a queued event but answers with a body the relay cannot parse
    httpserver.expect_request("/v1/events", method="POST").respond_with_data("{}", 201)
    event = sqs_event("track_event", [{"body": {"sessionId": "s-1", "type": "purchase", "attributes": {}}}])
    # When handled
    result = load_handler("track_event")(event, LambdaContext())
    # Then the message is done: not retried, not dead-lettered (either would track the event twice)
    assert result == {"batchItemFailures": []}
    assert stack.dlq_messages() == []
    assert len(httpserver.log) == 1


def test_records_are_not_started_when_the_invocation_is_almost_out_of_time(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given an invocation with 1.5 s left, and two good records
    answer_all(httpserver)
    event = sqs_event(
        "update_customer_profile",
        [{"integrationId": "p-1", "body": {}}, {"integrationId": "p-2", "body": {}}],
    )
    # When handled
    result = load_handler("update_customer_profile")(event, LambdaContext(timeout_seconds=1.5))
    # Then neither was started: both are left for retry rather than cut off by a Lambda timeout
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]}
    assert httpserver.log == []
    assert stack.dlq_messages() == []
