"""The three rules for every byte (docs/api.md, "Routes"): strict checker, exact forwarder, tolerant reader;
and today's API (v2) through the same functions, with the vendor SDK's way of authenticating."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.functions.conftest import CALLER_API_KEY, PREVIOUS_CALLER_API_KEY, Stack
from tests.functions.test_api_gateway import api_event, sign_event
from tests.functions.test_sqs import sqs_event
from tests.support import LambdaContext, LogCapture, integration_state, integration_state_v2

SIGNING_SECRET_HEADER = "X-Relay-Signature"


def recorder(httpserver: HTTPServer, status: int, answer: Any) -> list[tuple[str, bytes]]:
    """Answer every request the same way; keep what arrived (path with query, body bytes)."""
    seen: list[tuple[str, bytes]] = []

    def handle(request: Request) -> Response:
        seen.append((request.full_path.rstrip("?"), request.get_data()))
        if answer is None:
            return Response(status=status)
        return Response(json.dumps(answer), status=status, content_type="application/json")

    httpserver.expect_request(lambda_path_any()).respond_with_handler(handle)
    return seen


def lambda_path_any() -> Any:
    import re

    return re.compile(".*")


def effect_lines(logs: LogCapture) -> list[dict[str, Any]]:
    return logs.effects()


# --- strict checker: no coercion, every fault named ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        ('{"profileId": "p-1", "total": NaN}', ""),
        ('{"profileId": "p-1", "total": Infinity}', ""),
        ('{"profileId": "p-1", "total": 1e400}', ""),
        ('{"cartItems": [{"name": "A", "sku": "S", "quantity": "2", "price": 1}]}', "/cartItems/0/quantity"),
        ('{"cartItems": [{"name": "A", "sku": "S", "quantity": 2, "price": true}]}', "/cartItems/0/price"),
        ('{"cartItems": [{"name": "A", "sku": "S", "quantity": 2.0, "price": 1}]}', "/cartItems/0/quantity"),
        ('{"profileId": 42}', "/profileId"),
        ('{"state": "OPEN"}', "/state"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_400_naming_it_never_a_converted_value(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, raw: str, pointer: str
) -> None:
    # Given a session update whose value Talon.One would refuse (or that a lax parser would change)
    seen = recorder(httpserver, 200, integration_state())
    # When the function handles it
    response = load_handler("update_customer_session")(api_event("update_customer_session", body=raw), LambdaContext())
    # Then it is a 400 naming where the fault is, and Talon.One was not called
    assert response["statusCode"] == 400, response
    errors = json.loads(response["body"])["errors"]
    assert [error["source"]["pointer"] for error in errors] == [pointer]
    assert seen == []


@pytest.mark.parametrize("value", [1558346400, "20 May 2019", "2019-05-20T10:00:00"])
def test_a_date_that_is_not_rfc3339_with_an_offset_is_refused(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, value: Any
) -> None:
    seen = recorder(httpserver, 201, None)
    body = {"campaignId": 3, "advocateProfileIntegrationId": "p-1", "expiryDate": value}
    response = load_handler("create_referral")(api_event("create_referral", body=body), LambdaContext())
    assert response["statusCode"] == 400
    assert [e["source"]["pointer"] for e in json.loads(response["body"])["errors"]] == ["/expiryDate"]
    assert seen == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_a_415(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, content_type: str | None
) -> None:
    # Given a valid JSON body sent with another Content-Type (or none)
    event = api_event("track_event")
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "content-type"}
    if content_type:
        event["headers"]["Content-Type"] = content_type
    seen = recorder(httpserver, 201, integration_state())
    # When handled, then 415 names the header, and nothing reached Talon.One
    response = load_handler("track_event")(event, LambdaContext())
    assert response["statusCode"] == 415
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": "Content-Type"}
    assert seen == []


# --- exact forwarder ----------------------------------------------------------------------------------


def test_the_api_body_reaches_talon_one_byte_for_byte(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a body with odd spacing, key order, unicode escapes, an exponent, a snake_case key and
    # fields the 2019 spec does not know (identifiers), as the 2019 vendor SDK sends them
    raw = (
        '{ "total" : 1.50e1,"profile_id":"x", "attributes":{"name":"J\\u00f6rg \\ud83d\\ude00"},'
        '"identifiers":["device-1"], "coupon":null,  "profileId":"p-1"}'
    )
    seen = recorder(httpserver, 200, integration_state())
    # When the session update is relayed
    response = load_handler("update_customer_session")(api_event("update_customer_session", body=raw), LambdaContext())
    # Then Talon.One received exactly those bytes: nothing renamed, dropped, coerced or re-encoded
    assert response["statusCode"] == 200
    assert seen == [("/v1/customer_sessions/s-1", raw.encode())]


def test_a_queued_body_reaches_talon_one_as_the_same_json_value(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given a queued session update with nulls, nested unknown fields and large and small numbers
    body = {"profileId": "p-1", "coupon": None, "x": {"y": [1, 2.5, -0.0, 12345678901234567890]}, "total": 1e-7}
    seen = recorder(httpserver, 200, integration_state())
    event = sqs_event("update_customer_session", [json.dumps({"customerSessionId": "s-1", "body": body})])
    # When the batch is processed
    result = load_handler("update_customer_session")(event, LambdaContext())
    # Then Talon.One received the same JSON value (no field dropped, renamed or changed)
    assert result == {"batchItemFailures": []}
    ((path, sent),) = seen
    assert path == "/v1/customer_sessions/s-1"
    assert json.loads(sent) == body
    assert "null" in sent.decode()


def test_a_v1_put_without_a_body_is_sent_without_one(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given a profile update with no body (the 2019 spec marks the body optional)
    seen = recorder(httpserver, 200, integration_state())
    response = load_handler("update_customer_profile")(api_event("update_customer_profile", body=None), LambdaContext())
    # Then it is relayed as it came: no body
    assert response["statusCode"] == 200
    assert seen == [("/v1/customer_profiles/p-1", b"")]


# --- tolerant reader ------------------------------------------------------------------------------------


def test_an_answer_with_ledger_shaped_loyalty_still_logs_every_effect(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture
) -> None:
    # Given Talon.One answering as it does since late 2019: loyalty programs as ledgers, not balances
    effects = [[1, 2, 0, ["addLoyaltyPoints", 4, 10, "Welcome"]], [1, 2, 1, ["acceptCoupon", "SUMMER10"]]]
    answer = integration_state(effects=effects) | {
        "loyalty": {"programs": {"4": {"title": "Points", "name": "points", "ledger": {"total": 10}, "subLedgers": {}}}}
    }
    recorder(httpserver, 200, answer)
    # When a session update is relayed
    response = load_handler("update_customer_session")(api_event("update_customer_session"), LambdaContext())
    # Then the caller gets the answer as sent, and both effects are logged by name with their arguments
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == answer
    lines = effect_lines(logs)
    assert [(line["effect"], line["arguments"]) for line in lines] == [
        ("addLoyaltyPoints", [4, 10, "Welcome"]),
        ("acceptCoupon", ["SUMMER10"]),
    ]
    assert {line["session_id"] for line in lines} == {"s-1"}


# --- today's API: v2 ----------------------------------------------------------------------------------


def test_v2_session_update_forwards_its_query_and_logs_typed_effects(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, logs: LogCapture
) -> None:
    # Given a v2 session update with dry=true, and Talon.One answering an IntegrationStateV2
    event = api_event("update_customer_session_v2")
    event["queryStringParameters"] = {"dry": "true", "now": "2026-12-01T10:00:00Z"}
    event["headers"][SIGNING_SECRET_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    coupon = {
        "campaignId": 7,
        "rulesetId": 8,
        "ruleIndex": 1,
        "ruleName": "Summer coupon",
        "effectType": "acceptCoupon",
        "props": {"value": "SUMMER10"},
    }
    unknown = {"campaignId": 7, "rulesetId": 8, "ruleIndex": 2, "ruleName": "x", "effectType": "future", "props": {}}
    seen = recorder(httpserver, 200, integration_state_v2(effects=[coupon, unknown]))
    # When relayed
    response = load_handler("update_customer_session_v2")(event, LambdaContext())
    # Then Talon.One got the v2 path with the query (sorted) and the body as sent
    assert response["statusCode"] == 200
    ((path, sent),) = seen
    assert path == "/v2/customer_sessions/s-1?dry=true&now=2026-12-01T10%3A00%3A00Z"
    assert sent == event["body"].encode()
    # And each typed effect is logged with its campaign, ruleset, rule and name (the unknown one too)
    lines = effect_lines(logs)
    assert [(e["effect"], e["campaign_id"], e["ruleset_id"], e["rule_index"], e["rule_name"]) for e in lines] == [
        ("acceptCoupon", 7, 8, 1, "Summer coupon"),
        ("future", 7, 8, 2, "x"),
    ]
    assert lines[0]["arguments"] == ["SUMMER10"] and lines[1].get("arguments") is None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [({"dry": "yes"}, "dry"), ({"now": "tomorrow"}, "now"), ({"debug": "1"}, "debug")],
)
def test_v2_query_parameters_are_checked(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, query: dict[str, str], parameter: str
) -> None:
    event = api_event("update_customer_session_v2")
    event["queryStringParameters"] = query
    event["headers"][SIGNING_SECRET_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    seen = recorder(httpserver, 200, integration_state_v2())
    response = load_handler("update_customer_session_v2")(event, LambdaContext())
    assert response["statusCode"] == 400
    assert [e["source"]["parameter"] for e in json.loads(response["body"])["errors"]] == [parameter]
    assert seen == []


def test_a_silent_v2_event_answers_204_as_talon_one_does(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given trackEventV2 without silent=no (silent defaults to yes): Talon.One answers 204, no body
    event = api_event("track_event_v2")
    event["queryStringParameters"] = None
    event["headers"][SIGNING_SECRET_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    seen = recorder(httpserver, 204, None)
    response = load_handler("track_event_v2")(event, LambdaContext())
    assert (response["statusCode"], response["body"]) == (204, "")
    assert [path for path, _ in seen] == ["/v2/events"]


def test_a_queued_v2_message_carries_its_query(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    seen = recorder(httpserver, 200, integration_state_v2())
    message = {"integrationId": "p-9", "query": {"runRuleEngine": "true"}, "body": {"attributes": {"tier": "gold"}}}
    result = load_handler("update_customer_profile_v2")(
        sqs_event("update_customer_profile_v2", [json.dumps(message)]), LambdaContext()
    )
    assert result == {"batchItemFailures": []}
    assert seen == [("/v2/customer_profiles/p-9?runRuleEngine=true", b'{"attributes":{"tier":"gold"}}')]


# --- the vendor SDK's authentication ---------------------------------------------------------------------


@pytest.mark.parametrize("key", [CALLER_API_KEY, PREVIOUS_CALLER_API_KEY])
def test_a_relay_caller_key_sent_as_apikey_v1_lets_a_request_in(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, key: str
) -> None:
    # Given a request authenticated as Talon.One's SDKs do it, with a relay caller key (no signature)
    event = api_event("update_customer_session_v2", secret=None, headers={"Authorization": f"ApiKey-v1 {key}"})
    recorder(httpserver, 200, integration_state_v2())
    response = load_handler("update_customer_session_v2")(event, LambdaContext())
    assert response["statusCode"] == 200


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        ("ApiKey-v1 not-a-relay-key", "unknown relay caller key"),
        ("Bearer abc", "ApiKey-v1"),
        ("ApiKey-v1 ", "ApiKey-v1"),
    ],
)
def test_a_wrong_apikey_v1_is_a_401_naming_the_header(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, authorization: str, reason: str
) -> None:
    event = api_event("update_customer_session_v2", secret=None, headers={"Authorization": authorization})
    seen = recorder(httpserver, 200, integration_state_v2())
    response = load_handler("update_customer_session_v2")(event, LambdaContext())
    assert response["statusCode"] == 401
    (error,) = json.loads(response["body"])["errors"]
    assert error["source"] == {"parameter": "Authorization"} and reason in error["details"]
    assert seen == []
