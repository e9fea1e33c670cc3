"""Every function behind API Gateway: real proxy events from events/, Talon.One on loopback, moto."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.adapters import gateway
from talon_relay.callers import signatures as callers
from talon_relay.operations import OPERATIONS as OPERATION_TABLE
from talon_relay.operations import Operation
from tests.functions.conftest import API_KEY, SIGNING_SECRET, Stack
from tests.support import (
    LambdaContext,
    LogCapture,
    SilentServer,
    free_port,
    integration_state,
    load_event,
    reset_handlers,
    success_answer,
)

#: Every Integration API entry of the table, each behind API Gateway (a webhook receiver takes its
#: platform's signed webhooks instead: test_shopify_webhook.py).
OPERATIONS = [op for op in OPERATION_TABLE.values() if op.webhook is None]


def expect(httpserver: HTTPServer, method: str, path: str, status: int, body: Any) -> None:
    if body is None:
        httpserver.expect_request(path, method=method).respond_with_data("", status=status)
    else:
        httpserver.expect_request(path, method=method).respond_with_json(body, status=status)


def api_event(
    folder: str,
    *,
    body: Any = ...,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    secret: str | None = SIGNING_SECRET,
) -> dict[str, Any]:
    """The sample event of `folder`, changed as asked, and signed as a sender would sign it."""
    event = copy.deepcopy(load_event(folder, "api"))
    if body is not ...:
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    if params is not None:
        event["pathParameters"] = params
    event["headers"] = {**(event.get("headers") or {}), **(headers or {})}
    if secret is not None:
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, secret)
    return event


def sign_event(event: dict[str, Any], secret: str, timestamp: float | None = None, *, version: str = "v2") -> str:
    """The X-Relay-Signature a sender computes for `event` (v2: its Idempotency-Key and Prefer too).

    The timestamp has microseconds, so each signing is a new signature (each is accepted once)."""
    operation = next(
        op for op in OPERATION_TABLE.values() if op.method == event["httpMethod"] and op.path == event["resource"]
    )
    path = operation.canonical_path(event.get("pathParameters"), event.get("queryStringParameters"))
    body = (event.get("body") or "").encode()
    headers = event.get("headers") or {}
    return callers.sign(
        secret,
        time.time() if timestamp is None else timestamp,
        event["httpMethod"],
        path,
        body,
        idempotency_key=gateway.header(headers, "Idempotency-Key"),
        prefer=gateway.header(headers, "Prefer"),
        version=version,
    )


def resigned(event: dict[str, Any], secret: str = SIGNING_SECRET) -> dict[str, Any]:
    """A copy of `event` signed afresh: what a sender's retry sends (a signature is accepted once)."""
    again = copy.deepcopy(event)
    again["headers"][callers.SIGNATURE_HEADER] = sign_event(again, secret)
    return again


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.function)
def test_success_returns_talon_status_and_body(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, op: Operation
) -> None:
    folder, method, status = op.function, op.method, op.success_status
    # Given the operation's sample API Gateway event and Talon.One answering with success
    event = api_event(folder)
    path = op.path.format(**(event.get("pathParameters") or {}))
    answer = success_answer(op)
    expect(httpserver, method, path, status, answer)

    # When the function handles the event
    response = load_handler(folder)(event, LambdaContext())

    # Then the caller gets Talon.One's status and body, and Talon.One got exactly the request
    assert response["statusCode"] == status
    if answer is None:
        assert response["body"] == ""
    else:
        assert json.loads(response["body"]) == answer
    (request, _), *_ = httpserver.log
    assert request.method == method
    assert request.path == path
    assert request.headers["Authorization"] == f"ApiKey-v1 {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    if event.get("body"):
        assert json.loads(request.get_data()) == json.loads(event["body"])
    else:
        assert request.get_data() == b""


def test_invalid_body_is_400_naming_each_field_and_never_reaches_talon(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a session update with a bad quantity, a wrong state, a total sent as text, and a key the
    # 2019 spec does not know (that one is Talon.One's to judge, not an error of the relay's)
    event = api_event(
        "update_customer_session",
        body={
            "profileId": "p-1",
            "state": "paid",
            "cartItems": [{"name": "Shoe", "sku": "SKU-1", "quantity": 0, "price": 10}],
            "total": "10",
            "discount": 5,
        },
    )

    # When the function handles it
    response = load_handler("update_customer_session")(event, LambdaContext())

    # Then it is a 400 in the ErrorResponse shape with one pointer per bad field, and no call was made
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["message"] == "Invalid request"
    pointers = {err["source"]["pointer"] for err in body["errors"]}
    assert pointers == {"/state", "/cartItems/0/quantity", "/total"}
    assert all(err["title"] and err["details"] for err in body["errors"])
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("raw", "detail"),
    [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object"), (None, "needs a JSON body")],
)
def test_body_that_is_not_a_json_object_is_400(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, raw: str | None, detail: str
) -> None:
    # Given an event whose body is not a JSON object
    event = api_event("track_event", body=raw)
    # When handled
    response = load_handler("track_event")(event, LambdaContext())
    # Then 400 says what is wrong with the body
    assert response["statusCode"] == 400
    (error,) = json.loads(response["body"])["errors"]
    assert detail in error["details"]
    assert httpserver.log == []


def test_dot_segment_path_parameter_is_400(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a customer id that cannot be a single path segment
    event = api_event("delete_customer_data", params={"integrationId": ".."})
    # When handled
    response = load_handler("delete_customer_data")(event, LambdaContext())
    # Then it is refused, naming the parameter
    assert response["statusCode"] == 400
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": "integrationId"}
    assert httpserver.log == []


def test_talon_400_is_passed_through_with_its_body(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One rejects the session update
    event = api_event("update_customer_session")
    talon_error = {
        "message": "Invalid state transition",
        "errors": [{"title": "bad", "source": {"pointer": "/state"}}],
    }
    path = "/v1/customer_sessions/" + event["pathParameters"]["customerSessionId"]
    httpserver.expect_request(path, method="PUT").respond_with_json(talon_error, status=400)
    # When handled
    response = load_handler("update_customer_session")(event, LambdaContext())
    # Then the caller sees Talon.One's 400 and body, and it was not retried
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == talon_error
    assert len(httpserver.log) == 1


def test_talon_409_is_retried_then_passed_through(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One keeps answering 409 (parallel requests) to a profile update
    event = api_event("update_customer_profile")
    path = "/v1/customer_profiles/" + event["pathParameters"]["integrationId"]
    httpserver.expect_request(path, method="PUT").respond_with_json({"message": "avoid parallel requests"}, 409)
    # When handled (TALON_MAX_RETRIES=2)
    response = load_handler("update_customer_profile")(event, LambdaContext())
    # Then it was tried three times and the 409 reaches the caller
    assert len(httpserver.log) == 3
    assert response["statusCode"] == 409
    assert json.loads(response["body"])["message"] == "avoid parallel requests"


def test_talon_409_then_success_is_a_success(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One answers 409 once, then succeeds
    event = api_event("update_customer_profile")
    path = "/v1/customer_profiles/" + event["pathParameters"]["integrationId"]
    httpserver.expect_ordered_request(path, method="PUT").respond_with_json({"message": "busy"}, 409)
    httpserver.expect_ordered_request(path, method="PUT").respond_with_json(integration_state(), 200)
    # When handled
    response = load_handler("update_customer_profile")(event, LambdaContext())
    # Then the retry made it a 200
    assert response["statusCode"] == 200
    assert len(httpserver.log) == 2


def test_talon_5xx_gives_502_with_a_clear_message(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One fails with 503 on every attempt
    event = api_event("update_customer_session")
    path = "/v1/customer_sessions/" + event["pathParameters"]["customerSessionId"]
    httpserver.expect_request(path, method="PUT").respond_with_data("upstream down", status=503)
    # When handled
    response = load_handler("update_customer_session")(event, LambdaContext())
    # Then 502 with a JSON message, never a stack trace
    assert response["statusCode"] == 502
    body = json.loads(response["body"])
    assert "unavailable" in body["message"]
    assert "Traceback" not in response["body"]
    assert len(httpserver.log) == 3


def test_post_is_not_retried_after_reaching_talon(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One answers 500 to an event (it may have recorded it)
    httpserver.expect_request("/v1/events", method="POST").respond_with_data("oops", status=500)
    # When the event is handled
    response = load_handler("track_event")(api_event("track_event"), LambdaContext())
    # Then it is sent once only (no double-counted event) and the caller gets a 502
    assert response["statusCode"] == 502
    assert len(httpserver.log) == 1


def test_talon_timeout_gives_504(
    stack: Stack, load_handler: Any, monkeypatch: pytest.MonkeyPatch, silent_server: SilentServer
) -> None:
    # Given a Talon.One that never answers, a 0.3 s read timeout, and no retries
    monkeypatch.setenv("TALON_MAX_RETRIES", "0")
    monkeypatch.setenv("TALON_READ_TIMEOUT", "0.3")
    reset_handlers()
    stack.secrets.put_secret_value(
        SecretId=stack.secret_arn, SecretString=json.dumps({"baseUrl": silent_server.url, "apiKey": API_KEY})
    )
    # When a request is handled
    response = load_handler("update_customer_profile")(api_event("update_customer_profile"), LambdaContext())
    # Then 504 says Talon.One did not answer in time
    assert response["statusCode"] == 504
    assert "in time" in json.loads(response["body"])["message"]


def test_talon_unreachable_gives_502(stack: Stack, load_handler: Any) -> None:
    # Given the secret points at a port where nothing listens
    stack.secrets.put_secret_value(
        SecretId=stack.secret_arn,
        SecretString=json.dumps({"baseUrl": f"http://127.0.0.1:{free_port()}", "apiKey": API_KEY}),
    )
    # When a request is handled
    response = load_handler("update_customer_profile")(api_event("update_customer_profile"), LambdaContext())
    # Then 502 names the problem
    assert response["statusCode"] == 502
    assert "unreachable" in json.loads(response["body"])["message"]


@pytest.mark.parametrize("location", [None, "https://elsewhere.example/v1/referrals"])
def test_a_redirect_from_talon_one_is_a_502_never_followed_nor_passed_on(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, location: str | None
) -> None:
    # Given Talon.One's base URL answers with a redirect (with a Location to follow, or without one)
    headers = {"Location": location} if location else {}
    httpserver.expect_request("/v1/referrals", method="POST").respond_with_data("", status=302, headers=headers)
    # When a referral is created
    response = load_handler("create_referral")(api_event("create_referral"), LambdaContext())
    # Then the caller gets the relay's 502 naming a redirect (not a 3xx sending it elsewhere), after one call
    assert response["statusCode"] == 502
    assert "Location" not in (response.get("headers") or {})
    assert "a redirect" in json.loads(response["body"])["message"]
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("name", ["Prefer", "Idempotency-Key", "X-Relay-Signature", "Content-Type"])
@pytest.mark.parametrize("how", ["two values", "two cases of the name"])
def test_a_header_that_decides_what_is_done_sent_twice_is_a_400_naming_it(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, name: str, how: str
) -> None:
    # Given a signed request whose header is sent twice, as API Gateway delivers it: `headers` keep one value,
    # `multiValueHeaders` both (or, invoked directly, the name under two cases)
    event = api_event("update_customer_profile", headers={"Prefer": "return=minimal", "Idempotency-Key": "k-1"})
    value = event["headers"][name]
    event["multiValueHeaders"] = {key: [item] for key, item in event["headers"].items()}
    if how == "two values":
        event["multiValueHeaders"][name] = [value, value]
    else:
        event["headers"][name.lower()] = value
        event.pop("multiValueHeaders")
    # When it is handled
    response = load_handler("update_customer_profile")(event, LambdaContext())
    # Then it is a 400 naming the header, and nothing reached Talon.One
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["errors"][0]["source"] == {"parameter": name}
    assert httpserver.log == []


def test_other_headers_sent_twice_are_taken_as_api_gateway_gives_them(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a signed request with a header that decides nothing sent twice (an Accept, a proxy's Via)
    event = api_event("update_customer_profile")
    event["multiValueHeaders"] = {key: [item] for key, item in event["headers"].items()}
    event["multiValueHeaders"]["Via"] = ["1.1 a", "1.1 b"]
    path = "/v1/customer_profiles/" + event["pathParameters"]["integrationId"]
    httpserver.expect_request(path, method="PUT").respond_with_json(integration_state())
    # When it is handled
    response = load_handler("update_customer_profile")(event, LambdaContext())
    # Then it goes through
    assert response["statusCode"] == 200


def test_talon_rejecting_the_relays_key_is_not_the_callers_401(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given Talon.One refuses the relay's API key (before and after a fresh secret read)
    httpserver.expect_request("/v1/referrals", method="POST").respond_with_json({"message": "bad key"}, 401)
    # When a referral is created
    response = load_handler("create_referral")(api_event("create_referral"), LambdaContext())
    # Then the caller gets a 502 about the relay's credentials, after exactly one retry with a fresh read
    assert response["statusCode"] == 502
    assert "credentials" in json.loads(response["body"])["message"]
    assert len(httpserver.log) == 2


def test_missing_configuration_is_a_clear_error(
    stack: Stack, load_handler: Any, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    # Given a function deployed without TALON_SECRET_ARN
    monkeypatch.delenv("TALON_SECRET_ARN")
    reset_handlers()
    # When a request arrives
    response = load_handler("update_customer_profile")(api_event("update_customer_profile"), LambdaContext())
    # Then the caller gets a JSON error and the log names the missing variable
    assert response["statusCode"] == 500
    assert "misconfigured" in json.loads(response["body"])["message"]
    assert "TALON_SECRET_ARN" in logs.text


def test_effects_are_logged_with_operation_and_correlation_id_but_no_attributes(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture
) -> None:
    # Given Talon.One returns two effects and attributes holding personal data
    secret_attr = "jane.doe@example.com"
    state = integration_state(
        effects=[[1, 2, 0, ["setDiscount", "Ten off", 10]], [1, 2, 1, ["acceptCoupon", "SUMMER10"]]],
        attributes={"email": secret_attr},
    )
    event = api_event("update_customer_session", body={"profileId": "p-1", "attributes": {"email": secret_attr}})
    path = "/v1/customer_sessions/" + event["pathParameters"]["customerSessionId"]
    httpserver.expect_request(path, method="PUT").respond_with_json(state)
    # When handled
    response = load_handler("update_customer_session")(event, LambdaContext())
    # Then one log line lists the answer's effects with the operation and the API request id, and no
    # attribute value
    assert response["statusCode"] == 200
    out = logs.text
    [line] = [record for record in logs.records() if record.get("message") == "effects"]
    assert line["effects_named"] == ["setDiscount", "acceptCoupon"]
    effects = logs.effects()
    assert [e["effect"] for e in effects] == ["setDiscount", "acceptCoupon"]
    request_id = event["requestContext"]["requestId"]
    assert all(e["operation"] == "updateCustomerSession" for e in effects)
    assert all(e["correlation_id"] == request_id for e in effects)
    assert secret_attr not in out
    assert API_KEY not in out


def test_a_success_whose_body_is_not_in_the_spec_shape_is_still_a_success(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture
) -> None:
    # Given Talon.One applies an event but answers 201 with a body missing required fields, and one
    # effect where the effects are
    odd = {"event": {"id": 1, "effects": [[1, 2, 0, ["acceptCoupon", "X1"]]]}, "note": "newer server"}
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(odd, 201)
    # When the event is tracked
    response = load_handler("track_event")(api_event("track_event"), LambdaContext())
    # Then the caller gets Talon.One's status and body as sent (not a 502 inviting a second event)
    assert response["statusCode"] == 201
    assert json.loads(response["body"]) == odd
    assert len(httpserver.log) == 1
    # And the effect is read and logged all the same (a tolerant reader), with nothing logged as failed
    effects = logs.effects()
    assert [(e["effect"], e["arguments"]) for e in effects] == [("acceptCoupon", ["X1"])]
    assert not [r for r in logs.records() if r.get("level") in ("WARNING", "ERROR")]
