"""Audiences, coupon reservations, best prior price, referrals for several advocates, the inventory and
bulk profile updates through their functions: bad input named before anything is sent, Talon.One's
refusals of queued writes dead-lettered with the reason, reads answered at once, bulk writes in one
FIFO group."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.core.request import parse_request
from talon_relay.errors import InvalidRequest
from talon_relay.operations import OPERATIONS
from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import api_event
from tests.functions.test_guarantees import use_fifo_queue
from tests.functions.test_sqs import sqs_event
from tests.support import LambdaContext

PRICES = {"skus": ["SKU-CAMERA"], "timeframeEndDate": "2026-06-01T00:00:00Z", "timeframe": "30"}


def _sources(response: dict[str, Any]) -> list[dict[str, str]]:
    return [error["source"] for error in json.loads(response["body"])["errors"]]


@pytest.mark.parametrize(
    ("folder", "params", "body", "source"),
    [
        ("update_audience_v2", {"audienceId": "abc"}, {"name": "VIP"}, {"parameter": "audienceId"}),
        ("delete_audience_v2", {"audienceId": "1e3"}, ..., {"parameter": "audienceId"}),
        ("delete_audience_memberships_v2", {"audienceId": "99999999999999999999"}, ..., {"parameter": "audienceId"}),
        ("create_audience_v2", None, {"name": ""}, {"pointer": "/name"}),
        ("create_coupon_reservation", None, {"integrationIDs": "p-1"}, {"pointer": "/integrationIDs"}),
        (
            "customer_profile_audiences",
            None,
            {"data": [{"action": "join", "profileIntegrationId": "p-1", "audienceId": 1}]},
            {"pointer": "/data/0/action"},
        ),
        (
            "best_prior_price",
            None,
            {**PRICES, "timeframeEndDateType": "weekly"},
            {"pointer": "/timeframeEndDateType"},
        ),
        (
            "referrals_for_multiple_advocates",
            None,
            {"campaignId": 3, "advocateProfileIntegrationIds": ["p-1"], "usageLimit": 1_000_000},
            {"pointer": "/usageLimit"},
        ),
        (
            "update_customer_profiles_v2",
            None,
            {"customerProfiles": [{"integrationId": 7}]},
            {"pointer": "/customerProfiles/0/integrationId"},
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_never_sent(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, params: Any, body: Any, source: Any
) -> None:
    # Given a request with one fault
    event = api_event(folder, params=params, body=body)
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then it is a 400 naming the field or parameter, and Talon.One saw nothing
    assert response["statusCode"] == 400, response
    assert source in _sources(response)
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("folder", "message", "path", "method"),
    [
        ("update_audience_v2", {"audienceId": "404", "body": {"name": "VIP"}}, "/v2/audiences/404", "PUT"),
        (
            "create_coupon_reservation",
            {"couponValue": "NOPE", "body": {"integrationIDs": ["p-1"]}},
            "/v1/coupon_reservations/NOPE",
            "POST",
        ),
        (
            "update_customer_profiles_v2",
            {"body": {"customerProfiles": [{"integrationId": ""}]}},
            "/v2/customer_profiles",
            "PUT",
        ),
    ],
)
def test_a_queued_write_talon_one_refuses_is_dead_lettered_with_the_reason(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, message: Any, path: str, method: str
) -> None:
    # Given Talon.One refuses the write for good (an unknown audience or coupon, an empty profile id)
    status = 400 if folder == "update_customer_profiles_v2" else 404
    refusal = {"message": "refused", "errors": [{"title": "refused", "details": "no such thing"}]}
    httpserver.expect_request(path, method=method).respond_with_json(refusal, status=status)
    # When the queued write is handled
    result = load_handler(folder)(sqs_event(folder, [message]), LambdaContext())
    # Then it leaves its queue for the DLQ with Talon.One's status and the reason, sent once
    assert result == {"batchItemFailures": []}
    (dead,) = stack.dlq_messages()
    attributes = dead["MessageAttributes"]
    assert attributes["talonStatus"]["StringValue"] == str(status)
    assert attributes["operation"]["StringValue"] == OPERATIONS_BY_FOLDER[folder]
    assert attributes["failureReason"]["StringValue"]
    assert len(httpserver.log) == 1


OPERATIONS_BY_FOLDER = {op.function: op.name for op in OPERATIONS.values()}


def test_a_queued_write_the_relay_refuses_is_dead_lettered_naming_the_field(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given queued audience writes whose audience id is not an integer
    event = sqs_event("delete_audience_v2", [{"audienceId": "vip"}])
    # When handled
    load_handler("delete_audience_v2")(event, LambdaContext())
    # Then it is dead-lettered naming audienceId, and never sent
    (dead,) = stack.dlq_messages()
    assert "audienceId must be an integer" in dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert httpserver.log == []


def test_bulk_profile_updates_are_queued_in_one_group_for_the_whole_operation(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the bulk operation's FIFO queue and two async bulk updates naming different customers
    fifo = use_fifo_queue(stack, monkeypatch)
    handler = load_handler("update_customer_profiles_v2")
    for profile in ("p-1", "p-2"):
        body = {"customerProfiles": [{"integrationId": profile, "attributes": {"tier": "gold"}}]}
        event = api_event("update_customer_profiles_v2", body=body, headers={"Prefer": "respond-async"})
        assert handler(event, LambdaContext())["statusCode"] == 202
    # Then both are queued in the one group of the operation, in the order they came, and none was sent
    queued = stack.sqs.receive_message(QueueUrl=fifo, AttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Attributes"]["MessageGroupId"] for m in queued] == ["customerProfiles", "customerProfiles"]
    assert [json.loads(m["Body"])["body"]["customerProfiles"][0]["integrationId"] for m in queued] == ["p-1", "p-2"]
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("name", "params", "body", "group"),
    [
        ("updateCustomerProfileAudiences", {}, {"data": []}, "customerAudiences"),
        ("updateAudienceV2", {"audienceId": "7"}, {"name": "x"}, "7"),
        ("createCouponReservation", {"couponValue": "SAVE5"}, {"integrationIDs": []}, "SAVE5"),
        ("createAudienceV2", {}, {"name": "x"}, None),
    ],
)
def test_each_write_has_the_group_its_order_needs(name: str, params: Any, body: Any, group: str | None) -> None:
    assert parse_request(OPERATIONS[name], params, body).group_id == group


def test_a_bulk_update_is_forwarded_as_sent_not_split(stack: Stack, httpserver: HTTPServer, load_handler: Any) -> None:
    # Given Talon.One's answer to a bulk update
    sent = '{"customerProfiles": [{"integrationId": "p-1", "attributes": {"n": 1.50}}, {"integrationId": "p-2"}]}'
    httpserver.expect_request("/v2/customer_profiles", method="PUT").respond_with_json({"integrationStates": []})
    event = api_event("update_customer_profiles_v2", body=sent)
    # When handled
    response = load_handler("update_customer_profiles_v2")(event, LambdaContext())
    # Then Talon.One got one request with the caller's bytes
    assert response["statusCode"] == 200
    ((request, _),) = httpserver.log
    assert request.get_data() == sent.encode() and request.args.get("silent") == "no"


def test_an_integer_path_parameter_keeps_its_text(stack: Stack) -> None:
    # (checked, never converted: "0" and the largest int64 pass as sent)
    op = OPERATIONS["deleteAudienceV2"]
    assert parse_request(op, {"audienceId": "9223372036854775807"}, None).params == {
        "audienceId": "9223372036854775807"
    }
    with pytest.raises(InvalidRequest):
        parse_request(op, {"audienceId": "9223372036854775808"}, None)
    with pytest.raises(InvalidRequest):
        parse_request(op, {"audienceId": "007"}, None)
