"""Delivery guarantees end to end: signed callers or API keys, idempotency, async mode."""

from __future__ import annotations

import time
import uuid

import pytest

from local.gateway import LOCAL_RELAY_API_KEY
from local.stack import LocalStack
from talon_relay.callers import signatures as callers
from tests.e2e.helpers import Http, Queues, talon_requests, wait_until

pytestmark = pytest.mark.e2e

PROFILE = {"attributes": {"tier": "gold"}}


# --- who may call --------------------------------------------------------------------------------


def test_unsigned_request_is_a_401_that_never_reaches_talon_one(stack: LocalStack, http: Http) -> None:
    # Given the relay requires signed callers (CallerAuthentication=required, as deployed)
    # When a request comes without a signature
    answer = http.relay("PUT", "/v1/customer_profiles/p-1", PROFILE, sign=False)

    # Then it is refused with a 401 ErrorResponse naming the header, and Talon.One never saw it
    assert answer.status == 401
    assert answer.json["errors"][0]["source"] == {"parameter": callers.SIGNATURE_HEADER}
    assert talon_requests(stack) == []


@pytest.mark.parametrize("tamper", ["none", "other-customer", "other-body", "stale", "unknown-secret"])
def test_signature_that_does_not_fit_the_request_is_refused(stack: LocalStack, http: Http, tamper: str) -> None:
    # Given a profile update signed for one customer and body, at one time, with the stack's secret
    method, path, body = "PUT", "/v1/customer_profiles/p-ada", PROFILE
    secret = http.secret
    assert secret
    moment = int(time.time())
    if tamper == "stale":
        moment -= 10 * 60
    if tamper == "unknown-secret":
        secret = "not-the-stacks-secret"
    signature = callers.sign(secret, moment, method, path, b'{"attributes": {"tier": "gold"}}')

    # When the signature is sent with another customer's path, another body, too late, or is forged
    if tamper == "other-customer":
        path = "/v1/customer_profiles/p-bob"
    if tamper == "other-body":
        body = {"attributes": {"tier": "platinum"}}
    answer = http.relay(method, path, body, {callers.SIGNATURE_HEADER: signature})

    # Then the relay refuses it, and Talon.One never sees it (the untampered one goes through)
    if tamper == "none":
        assert answer.status == 200, answer.json
        assert len(talon_requests(stack)) == 1
        return
    assert answer.status == 401, answer.json
    assert talon_requests(stack) == []


def test_signed_request_with_an_awkward_id_is_accepted(stack: LocalStack, http: Http) -> None:
    # Given an id that the sender percent-encodes as one segment, and signs in that form
    path = "/v1/customer_data/" + "ada%2Flovelace%20%C3%BC"
    http.talon("PUT", "/v1/customer_profiles/ada%2Flovelace%20%C3%BC", PROFILE)

    # When the signed deletion is sent
    answer = http.relay("DELETE", path)

    # Then the relay verifies the signature over the same canonical path and relays it
    assert answer.status == 204
    assert [r["path"] for r in talon_requests(stack, method="DELETE")] == [path]


def test_key_api_lets_in_a_valid_api_key_without_a_signature(stack: LocalStack, http: Http) -> None:
    # Given a sender that can only send a static header: the x-api-key of the key API
    # When it calls the relay with the right key, and another with a wrong one
    good = http.relay("PUT", "/v1/customer_profiles/p-key", PROFILE, {"x-api-key": LOCAL_RELAY_API_KEY}, sign=False)
    invocations = len(stack.gateway.invocations)
    bad = http.relay("PUT", "/v1/customer_profiles/p-key", PROFILE, {"x-api-key": "guessed"}, sign=False)

    # Then API Gateway's key check lets the first through (no signature needed) and answers the
    # second 403 with a reason naming the header (its shaped gateway response), without invoking
    # the function; Talon.One saw only the first
    assert good.status == 200, good.json
    assert bad.status == 403
    assert bad.json["message"] == "Forbidden"
    (error,) = bad.json["errors"]
    assert error["source"] == {"parameter": "x-api-key"} and "x-api-key" in error["details"]
    assert len(stack.gateway.invocations) == invocations
    assert [r["path"] for r in talon_requests(stack)] == ["/v1/customer_profiles/p-key"]


# --- exactly once ------------------------------------------------------------------------------


def test_same_idempotency_key_reaches_talon_one_once(stack: LocalStack, http: Http) -> None:
    # Given a webhook sender that retries with the same Idempotency-Key
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    body = {"profileId": "p-1", "coupon": "WELCOME10", "total": 30}

    # When it sends the same session update twice, then the key once more with another body
    first = http.relay("PUT", "/v1/customer_sessions/s-idem", body, key)
    second = http.relay("PUT", "/v1/customer_sessions/s-idem", body, key)
    reused = http.relay("PUT", "/v1/customer_sessions/s-idem", {**body, "total": 99}, key)

    # Then Talon.One got one request, the retry got the first answer, the reuse a 409
    assert first.status == second.status == 200
    assert second.json == first.json
    assert reused.status == 409
    assert len(talon_requests(stack)) == 1


def test_duplicate_queued_deliveries_reach_talon_one_once(stack: LocalStack, queues: Queues) -> None:
    # Given a referral request a producer sent twice (SQS delivers at least once), same idempotencyKey
    message = {
        "body": {"campaignId": 3, "advocateProfileIntegrationId": "p-twice"},
        "idempotencyKey": f"ref-{uuid.uuid4()}",
    }

    # When both copies are queued at once (processed side by side in one batch, or retried)
    queues.send_batch("CreateReferralQueue", [message, message])

    # Then both leave the queue, Talon.One created one referral, and nothing was dead-lettered
    queues.wait_empty("CreateReferralQueue", timeout=15)
    assert len(stack.emulator.state()["referrals"]) == 1
    assert [r["status"] for r in talon_requests(stack)] == [201]
    assert queues.depth("CreateReferralDeadLetterQueue") == 0


# --- async mode --------------------------------------------------------------------------------


def test_async_request_is_queued_then_delivered_once(stack: LocalStack, http: Http, queues: Queues) -> None:
    # Given a sender that does not want to wait for Talon.One
    headers = {"Prefer": "respond-async", "Idempotency-Key": f"evt-{uuid.uuid4()}"}
    event = {"profileId": "p-async", "sessionId": "s-async", "type": "purchase", "attributes": {"n": 1}}

    # When it posts an event asynchronously, and (its retry) the same request again
    first = http.relay("POST", "/v1/events", event, headers)
    second = http.relay("POST", "/v1/events", event, headers)

    # Then each answer is a 202 naming the queued message, before Talon.One has it
    for answer in (first, second):
        assert answer.status == 202
        assert answer.json["status"] == "queued"
        assert answer.json["messageId"]
        assert answer.headers["Preference-Applied"] == "respond-async"
    # and the queue delivers it to Talon.One exactly once (the retry was deduplicated)
    wait_until(lambda: talon_requests(stack), timeout=10, what="the queued event at Talon.One")
    queues.wait_empty("TrackEventQueue", timeout=10)
    (request,) = talon_requests(stack)
    assert (request["method"], request["path"], request["status"]) == ("POST", "/v1/events", 201)
    assert request["body"] == event
    assert queues.depth("TrackEventDeadLetterQueue") == 0
