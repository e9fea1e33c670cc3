"""What an invocation tells CloudWatch about Talon.One (one EMF document of counts), and the API's own
deadline in a function whose timeout is longer (the erasure function)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from urllib3.util import Timeout
from werkzeug import Response

from talon_relay.core.service import SAFETY_MARGIN_SECONDS
from tests.functions.conftest import API_KEY, Stack
from tests.functions.test_sqs import sqs_event
from tests.support import LambdaContext, SilentServer, integration_state, load_event, reset_handlers


def emf_documents(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_an_invocation_emits_its_talon_one_calls_errors_and_retries_once(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Talon.One failing one session (503, twice retried in-process) and accepting another
    httpserver.expect_request("/v1/customer_sessions/s-down", method="PUT").respond_with_data("", status=503)
    httpserver.expect_request("/v1/customer_sessions/s-ok", method="PUT").respond_with_json(integration_state())
    event = sqs_event(
        "update_customer_session",
        [{"customerSessionId": "s-down", "body": {}}, {"customerSessionId": "s-ok", "body": {}}],
    )
    # When one batch is handled
    load_handler("update_customer_session")(event, LambdaContext())
    # Then one EMF document carries the invocation's counts, per operation and service
    (counts,) = [doc for doc in emf_documents(capsys.readouterr().out) if "TalonOneCalls" in doc]
    assert counts["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["operation", "service"]]
    assert (counts["operation"], counts["service"]) == ("updateCustomerSession", "talon-relay")
    assert (counts["TalonOneCalls"], counts["TalonOneErrors"], counts["TalonOneRetries"]) == ([2.0], [1.0], [2.0])


def test_a_429_is_counted_as_throttled(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Talon.One rate limiting once (Retry-After 0), then accepting
    answers = iter([429, 200])
    httpserver.expect_request("/v1/customer_sessions/s-1", method="PUT").respond_with_handler(
        lambda request: Response(
            json.dumps(integration_state()),
            status=next(answers),
            headers={"Retry-After": "0"},
            mimetype="application/json",
        )
    )
    # When a session update goes through
    load_handler("update_customer_session")(
        sqs_event("update_customer_session", [{"customerSessionId": "s-1", "body": {}}]), LambdaContext()
    )
    # Then the 429 and its retry are counted, and the call is not an error
    (counts,) = [doc for doc in emf_documents(capsys.readouterr().out) if "TalonOneCalls" in doc]
    assert (counts["TalonOneThrottled"], counts["TalonOneRetries"]) == ([1.0], [1.0])
    assert "TalonOneErrors" not in counts


def test_api_requests_keep_their_deadline_in_a_function_with_a_long_timeout(
    stack: Stack,
    load_handler: Any,
    monkeypatch: pytest.MonkeyPatch,
    silent_server: SilentServer,
    attempt_timeouts: list[Timeout],
) -> None:
    # Given the erasure function (timeout 900 s for its scheduled run) with API_TIMEOUT_SECONDS 2, a read
    # timeout of 10 s, and a Talon.One that never answers
    monkeypatch.setenv("API_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("TALON_READ_TIMEOUT", "10")
    monkeypatch.setenv("CALLER_AUTH", "disabled")
    reset_handlers()
    stack.secrets.put_secret_value(
        SecretId=stack.secret_arn, SecretString=json.dumps({"baseUrl": silent_server.url, "apiKey": API_KEY})
    )
    event = load_event("delete_customer_data", "api")
    event["pathParameters"] = {"integrationId": "p-1"}
    # When an API request reaches it
    answer = load_handler("delete_customer_data")(event, LambdaContext(timeout_seconds=900))
    # Then it gives up within the API's deadline (a 504), not the function's: its one attempt waited for an
    # answer no longer than what the API's 2 s leave after the margin kept to answer
    assert answer["statusCode"] == 504
    (attempt,) = attempt_timeouts
    assert attempt.read_timeout is not None and attempt.read_timeout <= 2.0 - SAFETY_MARGIN_SECONDS
