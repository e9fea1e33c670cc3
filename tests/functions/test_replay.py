"""Replay protection and signature v2: a captured signed request is accepted once, and what v2 signs
(Idempotency-Key, Prefer) cannot be changed; v1 keeps working during the migration."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.callers import signatures as callers
from talon_relay.container import Container
from talon_relay.errors import CredentialsError
from tests.functions.conftest import SIGNING_SECRET, Stack
from tests.functions.test_api_gateway import api_event, sign_event
from tests.functions.test_guarantees import unauthorized_reason
from tests.support import LambdaContext, integration_state, reset_handlers

EVENT = "track_event"
PURCHASE = {"profileId": "p-1", "sessionId": "s-1", "type": "purchase", "attributes": {}}


def answer_events(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(integration_state(), 201)


def purchase(version: str = "v2", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A signed purchase event as its sender sent it (signed with `version`)."""
    event = api_event(EVENT, body=PURCHASE, headers=headers, secret=None)
    event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, SIGNING_SECRET, version=version)
    return event


def variant(event: dict[str, Any], **headers: str | None) -> dict[str, Any]:
    """The captured `event` sent again with headers set (a value) or removed (None), signature unchanged."""
    again = copy.deepcopy(event)
    for name, value in headers.items():
        name = name.replace("_", "-")
        if value is None:
            again["headers"].pop(name, None)
        else:
            again["headers"][name] = value
    return again


def test_one_signed_purchase_sent_six_times_reaches_talon_one_once(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a captured signed purchase event (v2) with an Idempotency-Key
    answer_events(httpserver)
    captured = purchase(headers={"Idempotency-Key": "order-77"})
    handler = load_handler(EVENT)
    # When it is sent as captured, then again as is, with a new key, without a key, and asynchronously
    first = handler(captured, LambdaContext())
    replays = [
        variant(captured),
        variant(captured, Idempotency_Key="order-78"),
        variant(captured, Idempotency_Key=None),
        variant(captured, Prefer="respond-async"),
        variant(captured, Idempotency_Key=None, Prefer="respond-async"),
    ]
    answers = [handler(event, LambdaContext()) for event in replays]
    # Then only the first reached Talon.One (one purchase, one set of loyalty points); each replay is
    # a 401 saying why, and nothing was queued
    assert first["statusCode"] == 201
    assert len(httpserver.log) == 1
    reasons = [unauthorized_reason(answer) for answer in answers]
    assert "used before" in reasons[0]
    assert all("v2 does not match" in reason for reason in reasons[1:])
    assert stack.sqs.receive_message(QueueUrl=stack.queue_url).get("Messages", []) == []


def test_a_v1_signature_still_works_during_the_migration_and_only_once(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a sender that still signs with v1 (which does not cover Idempotency-Key and Prefer)
    answer_events(httpserver)
    captured = purchase(version="v1", headers={"Idempotency-Key": "order-1"})
    handler = load_handler(EVENT)
    # When it is sent, and then replayed with another key
    first = handler(captured, LambdaContext())
    replay = handler(variant(captured, Idempotency_Key="order-2"), LambdaContext())
    # Then the first is served and the replay refused: v1's gap is closed by remembering the signature
    assert first["statusCode"] == 201
    assert "used before" in unauthorized_reason(replay)
    assert len(httpserver.log) == 1


def test_a_v1_value_stripped_off_a_v1_and_v2_header_is_refused(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a sender migrating: its header carries both v1 and v2 of the same request, at one moment
    answer_events(httpserver)
    event = api_event(EVENT, body=PURCHASE, secret=None)
    moment, body = f"{time.time():.6f}", event["body"].encode()
    v1 = callers.sign(SIGNING_SECRET, moment, "POST", "/v1/events", body, version="v1")  # t=...,v1=...
    v2 = callers.sign(SIGNING_SECRET, moment, "POST", "/v1/events", body).split(",", 1)[1]  # v2=...
    event["headers"][callers.SIGNATURE_HEADER] = f"{v1},{v2}"
    handler = load_handler(EVENT)
    # When it is sent, and an attacker replays its v1 value alone with a key of its choosing
    first = handler(event, LambdaContext())
    stripped = variant(event, Idempotency_Key="attacker")
    stripped["headers"][callers.SIGNATURE_HEADER] = v1
    replay = handler(stripped, LambdaContext())
    # Then the v1 value was used up with the request it came with
    assert first["statusCode"] == 201
    assert "used before" in unauthorized_reason(replay)
    assert len(httpserver.log) == 1


def test_v1_is_refused_once_the_migration_is_over(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CALLER_SIGNATURE_V1=refused (every sender signs with v2)
    monkeypatch.setenv("CALLER_SIGNATURE_V1", "refused")
    answer_events(httpserver)
    handler = load_handler(EVENT)
    # When a v1 request and a v2 request arrive
    old = handler(purchase(version="v1"), LambdaContext())
    new = handler(purchase(version="v2"), LambdaContext())
    # Then v1 is a 401 saying to sign with v2, and v2 is served
    assert "v1 is no longer accepted" in unauthorized_reason(old)
    assert new["statusCode"] == 201


@pytest.mark.parametrize(("ahead", "accepted"), [(55, True), (65, False), (600, False)])
def test_timestamps_more_than_a_minute_ahead_are_refused(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, ahead: int, accepted: bool
) -> None:
    # Given a request signed with a clock `ahead` seconds fast
    answer_events(httpserver)
    event = api_event(EVENT, body=PURCHASE, secret=None)
    event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, SIGNING_SECRET, timestamp=time.time() + ahead)
    # When handled
    response = load_handler(EVENT)(event, LambdaContext())
    # Then up to a minute ahead is accepted, more is a 401 naming the cause
    if accepted:
        assert response["statusCode"] == 201
    else:
        assert "in the future; at most 60 s" in unauthorized_reason(response)
        assert httpserver.log == []


@pytest.mark.parametrize("secret", ["", "   ", "\t\n"])
def test_a_blank_signing_secret_lets_no_one_in(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, secret: str
) -> None:
    # Given the signing secret's current value was left blank (whitespace)
    from aws_lambda_powertools.utilities import parameters

    stack.secrets.put_secret_value(SecretId=stack.signing_secret_arn, SecretString=json.dumps({"current": secret}))
    parameters.clear_caches()
    answer_events(httpserver)
    event = api_event(EVENT, body=PURCHASE, secret=None)
    event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, secret or " ")
    # When a request signed with that blank value arrives
    response = load_handler(EVENT)(event, LambdaContext())
    # Then it is not let in: the relay reports itself misconfigured (an operator must set a secret)
    assert response["statusCode"] == 500
    assert "misconfigured" in json.loads(response["body"])["message"]
    assert httpserver.log == []
    with pytest.raises(CredentialsError, match="only whitespace"):
        callers.signing_secrets(Container(), stack.signing_secret_arn, max_age=0, force=True)


def test_a_blank_previous_value_is_not_a_key(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a rotation left "previous" blank
    from aws_lambda_powertools.utilities import parameters

    stack.secrets.put_secret_value(
        SecretId=stack.signing_secret_arn, SecretString=json.dumps({"current": SIGNING_SECRET, "previous": "  "})
    )
    parameters.clear_caches()
    # When a request signed with that blank value arrives
    event = api_event(EVENT, body=PURCHASE, secret="  ")
    # Then it is refused as not matching
    assert "does not match" in unauthorized_reason(load_handler(EVENT)(event, LambdaContext()))
    assert httpserver.log == []


def test_without_a_table_signatures_still_work_and_the_missing_protection_is_said(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, logs: Any
) -> None:
    # Given no idempotency table (library use; the template always sets one, and so does the bench), in a new container
    monkeypatch.delenv("IDEMPOTENCY_TABLE_NAME")
    reset_handlers()
    answer_events(httpserver)
    # When a signed request arrives
    response = load_handler(EVENT)(purchase(), LambdaContext())
    # Then it is served, and the log says that signatures are not protected against replay
    assert response["statusCode"] == 201
    assert "signatures are not protected against replay" in logs.text
