"""Errors: what a failed call raises, and what it tells the caller about retrying."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from talon_relay.talon.auth import ApiKeyAuth
from talon_relay.talon.client import IntegrationClient
from talon_relay.talon.errors import TalonOneError
from talon_relay.wire.models import ErrorResponse, NewCustomerSession, NewEvent
from tests.unit import payloads

VALIDATION_ERROR = {
    "message": "Invalid request body",
    "errors": [
        {
            "title": "Invalid value",
            "details": "total must be a number",
            "source": {"pointer": "/total"},
        }
    ],
}


def answer(httpserver: HTTPServer, status: int, body: bytes, content_type: str) -> list[Request]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(body, status=status, content_type=content_type)

    httpserver.expect_request("/v1/customer_sessions/s-1").respond_with_handler(handler)
    httpserver.expect_request("/v1/events").respond_with_handler(handler)
    return seen


@pytest.fixture
def client(httpserver: HTTPServer) -> IntegrationClient:
    # Retries are on (PUT is retryable): a 4xx must still be tried exactly once.
    return IntegrationClient(httpserver.url_for("/"), ApiKeyAuth("k"), max_retries=3, backoff_factor=0.001)


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_4xx_raises_a_permanent_error_with_the_parsed_error_response(
    httpserver: HTTPServer, client: IntegrationClient, status: int
) -> None:
    # Given Talon.One refusing a session update with a JSON error
    seen = answer(httpserver, status, json.dumps(VALIDATION_ERROR).encode(), "application/json")
    # When the client calls
    with pytest.raises(TalonOneError) as exc:
        client.update_customer_session("s-1", NewCustomerSession(total=1))
    error = exc.value
    # Then it raised once, with the status, the parsed ErrorResponse, and "do not retry"
    assert len(seen) == 1
    assert error.status == status
    assert error.retryable is False
    # and a queued message is dead-lettered, unless the refusal is of the relay's own key (403)
    assert error.dead_letter is (status != 403)
    assert error.timed_out is False
    assert isinstance(error.error, ErrorResponse)
    assert error.error.message == "Invalid request body"
    assert error.error.errors is not None
    (api_error,) = error.error.errors
    assert (api_error.title, api_error.details) == ("Invalid value", "total must be a number")
    assert api_error.source.pointer == "/total"
    assert error.message == "Invalid request body"
    assert json.loads(error.body) == VALIDATION_ERROR


def test_a_non_json_error_body_is_kept_raw(httpserver: HTTPServer, client: IntegrationClient) -> None:
    # Given an error page that is not JSON (a proxy in front of Talon.One, say)
    page = b"<html><body>Bad Request</body></html>"
    answer(httpserver, 400, page, "text/html")
    # When the client calls
    with pytest.raises(TalonOneError) as exc:
        client.update_customer_session("s-1", NewCustomerSession())
    # Then the error has the status and the raw body, and no parsed ErrorResponse
    assert exc.value.status == 400
    assert exc.value.error is None
    assert exc.value.body == page
    assert "400" in exc.value.message


def test_json_that_is_not_an_error_response_is_kept_raw(httpserver: HTTPServer, client: IntegrationClient) -> None:
    answer(httpserver, 404, b'{"error": "not found"}', "application/json")
    with pytest.raises(TalonOneError) as exc:
        client.update_customer_session("s-1", NewCustomerSession())
    assert exc.value.status == 404
    assert exc.value.error is None
    assert exc.value.body == b'{"error": "not found"}'


def test_a_success_status_with_a_body_of_the_wrong_shape_is_an_error(
    httpserver: HTTPServer, client: IntegrationClient
) -> None:
    # Given a 201 whose body is not an IntegrationState
    body = payloads.integration_state()
    del body["session"]
    answer(httpserver, 201, json.dumps(body).encode(), "application/json")
    # When the event is tracked
    with pytest.raises(TalonOneError) as exc:
        client.track_event(NewEvent(session_id="s-1", type="t", attributes={}))
    # Then it is a permanent error naming the model and the missing field
    assert exc.value.status == 201
    assert exc.value.retryable is False
    assert "IntegrationState" in exc.value.message
    assert "session" in exc.value.message


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, True),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_retryable_follows_the_status(status: int, retryable: bool) -> None:
    error = TalonOneError.from_response(status, b"")
    assert error.retryable is retryable
    assert error.status == status
    assert f"status={status}" in repr(error)
