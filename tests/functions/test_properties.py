"""Bad input, generated: no 500, no unhandled exception, and every rejection names its cause."""

from __future__ import annotations

import copy
import json
import re
import string
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from talon_relay import callers
from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import OPERATIONS, sign_event
from tests.functions.test_sqs import sqs_event
from tests.support import LambdaContext, integration_state, integration_state_v2, load_event, referral

FOLDERS = [folder for folder, *_ in OPERATIONS]
FIXTURES_OK = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Bodies shaped like the real ones, with any value in any field (the likely mistakes), or anything at all.
near_bodies = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        for key in [
            "profileId",
            "coupon",
            "state",
            "total",
            "attributes",
            "sessionId",
            "type",
            "campaignId",
            "advocateProfileIntegrationId",
            "startDate",
        ]
    }
    | {"cartItems": st.lists(st.dictionaries(st.sampled_from(["name", "sku", "quantity", "price"]), json_values))},
)
bodies = near_bodies | json_values | st.text(max_size=40).map(lambda text: ("raw", text))
path_ids = st.text(min_size=0, max_size=30)
header_values = st.text(alphabet=string.printable + "äß€\x00\t", max_size=40)


def answer_everything(httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile("^/v1/referrals$"), method="POST").respond_with_json(referral(), 201)
    httpserver.expect_request(re.compile("^/v1/events$"), method="POST").respond_with_json(integration_state(), 201)
    httpserver.expect_request(re.compile("^/v1/customer_data/.*"), method="DELETE").respond_with_data("", 204)
    httpserver.expect_request(re.compile("^/v1/customer_.*"), method="PUT").respond_with_json(integration_state())
    httpserver.expect_request(re.compile("^/v2/events$"), method="POST").respond_with_json(integration_state_v2())
    httpserver.expect_request(re.compile("^/v2/customer_.*"), method="PUT").respond_with_json(integration_state_v2())


def assert_named_rejection(response: dict[str, Any]) -> None:
    """4xx answers are ErrorResponses whose every error says what and where."""
    status = response["statusCode"]
    assert status != 500 and status < 502, response
    body = json.loads(response["body"]) if response["body"] else None
    if 400 <= status < 500:
        assert body and body["message"]
        for error in body.get("errors") or []:
            assert error["details"] and error["source"], error


@pytest.mark.parametrize("folder", FOLDERS)
@FIXTURES_OK
@given(body=bodies, path_id=path_ids, sign=st.booleans())
def test_api_never_answers_500(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, body: Any, path_id: str, sign: bool
) -> None:
    # Given any body and path parameter, signed or not
    answer_everything(httpserver)
    event = copy.deepcopy(load_event(folder, "api"))
    if isinstance(body, tuple):
        event["body"] = body[1]
    else:
        event["body"] = json.dumps(body)
    if event.get("pathParameters"):
        event["pathParameters"] = {name: path_id for name in event["pathParameters"]}
    event["headers"] = dict(event.get("headers") or {})
    event["headers"].pop(callers.SIGNATURE_HEADER, None)
    if sign:
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then the answer is a success or a 4xx that names its cause (never a 500 or an exception)
    assert_named_rejection(response)
    if not sign:
        assert response["statusCode"] == 401


@pytest.mark.parametrize("folder", ["update_customer_session", "track_event"])
@FIXTURES_OK
@given(
    headers=st.dictionaries(
        st.sampled_from(["Idempotency-Key", "Prefer", "Content-Type", callers.SIGNATURE_HEADER, "X-Other"]),
        header_values,
        max_size=4,
    )
)
def test_api_headers_never_cause_500(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, headers: dict[str, str]
) -> None:
    # Given a signed sample request with arbitrary extra headers
    answer_everything(httpserver)
    event = copy.deepcopy(load_event(folder, "api"))
    event["headers"] = {**(event.get("headers") or {}), **headers}
    if callers.SIGNATURE_HEADER not in headers:
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then it is served, queued or rejected with a reason
    assert_named_rejection(response)


@pytest.mark.parametrize(
    "folder", ["update_customer_session", "update_customer_profile", "track_event", "create_referral"]
)
@FIXTURES_OK
@given(
    messages=st.lists(
        st.text(max_size=60)
        | json_values.map(json.dumps)
        | st.fixed_dictionaries(
            {}, optional={"customerSessionId": json_values, "integrationId": json_values, "body": near_bodies}
        ).map(json.dumps),
        min_size=1,
        max_size=4,
    )
)
def test_sqs_never_raises_and_dead_letters_with_a_reason(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, messages: list[str]
) -> None:
    # Given a batch of arbitrary message bodies, and a Talon.One that accepts whatever reaches it
    answer_everything(httpserver)
    event = sqs_event(folder, list(messages))
    for record in event["Records"]:
        record["messageId"] = str(uuid.uuid4())  # a new delivery each example (ids are idempotency keys)
    # When the batch is handled
    result = load_handler(folder)(event, LambdaContext())
    # Then nothing is left for retry (nothing here is retryable): each was delivered or dead-lettered
    assert result == {"batchItemFailures": []}
    dead = stack.dlq_messages()
    delivered = len(httpserver.log)
    httpserver.clear_log()
    assert delivered + len(dead) == len(messages)
    for message in dead:
        assert message["MessageAttributes"]["failureReason"]["StringValue"].strip()
