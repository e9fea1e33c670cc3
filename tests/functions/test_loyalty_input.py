"""Bad input to the loyalty and achievement operations: a 400 naming the parameter or field at fault,
and nothing sent to Talon.One (the stand-in answers nothing: any call would fail the test with a 5xx)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.callers import signatures as callers
from tests.functions.conftest import SIGNING_SECRET, Stack
from tests.functions.test_api_gateway import api_event, sign_event
from tests.support import LambdaContext


def request(
    folder: str,
    *,
    params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    repeated: dict[str, list[str]] | None = None,
    body: Any = ...,
) -> dict[str, Any]:
    """The sample request of `folder`, changed as asked, signed as a sender signs it."""
    event = api_event(folder, params=params, body=body, secret=None)
    if query is not None:
        event["queryStringParameters"] = query
    if repeated is not None:
        event["queryStringParameters"] = {name: values[-1] for name, values in repeated.items()}
        event["multiValueQueryStringParameters"] = repeated
    event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, SIGNING_SECRET)
    return event


def sources(answer: dict[str, Any]) -> list[dict[str, str]]:
    return [error["source"] for error in json.loads(answer["body"])["errors"]]


PROFILE = {"loyaltyProgramId": "1", "integrationId": "p-1"}
CARD = {"loyaltyProgramId": "2", "loyaltyCardId": "CARD-0001"}

CASES = [
    ("get_loyalty_balances", {"params": {**PROFILE, "loyaltyProgramId": "one"}}, {"parameter": "loyaltyProgramId"}),
    ("get_loyalty_balances", {"params": {**PROFILE, "loyaltyProgramId": "1.5"}}, {"parameter": "loyaltyProgramId"}),
    ("get_loyalty_card_points", {"params": {**CARD, "loyaltyCardId": "abc"}}, {"parameter": "loyaltyCardId"}),
    ("get_loyalty_card_points", {"query": {"pageSize": "0"}}, {"parameter": "pageSize"}),
    ("get_loyalty_card_points", {"query": {"pageSize": "1001"}}, {"parameter": "pageSize"}),
    ("get_loyalty_card_points", {"query": {"status": "spent"}}, {"parameter": "status"}),
    ("get_loyalty_balances", {"query": {"includeTiers": "yes"}}, {"parameter": "includeTiers"}),
    ("get_loyalty_program_profile_transactions", {"query": {"startDate": "May 1st"}}, {"parameter": "startDate"}),
    ("get_customer_achievements", {"query": {"achievementStatus": "active,gone"}}, {"parameter": "achievementStatus"}),
    (
        "get_loyalty_program_profile_points",
        {"repeated": {"customerSessionIDs": ["s-1", "s-2"]}},
        {"parameter": "customerSessionIDs"},
    ),
    ("activate_loyalty_points", {"body": {"transactionUUIDs": ["not-a-uuid"]}}, {"pointer": "/transactionUUIDs/0"}),
    ("activate_loyalty_points", {"body": {"transactionUUIDs": []}}, {"pointer": "/transactionUUIDs"}),
    ("delete_ledger_entries", {"body": {"scope": "Everything"}}, {"pointer": "/scope"}),
    ("delete_ledger_entries", {"body": {}}, {"pointer": "/scope"}),
    ("generate_loyalty_card", {"body": {"cardIdentifier": "my card"}}, {"pointer": "/cardIdentifier"}),
    ("link_loyalty_card", {"body": {"integrationId": 7}}, {"pointer": "/integrationId"}),
    (
        "get_customer_achievement_history",
        {"params": {"integrationId": "p-1", "achievementId": "x"}},
        {"parameter": "achievementId"},
    ),
]


@pytest.mark.parametrize(
    ("folder", "change", "source"), CASES, ids=[f"{c[0]}:{next(iter(c[2].values()))}" for c in CASES]
)
def test_bad_input_is_a_400_naming_it(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, change: dict[str, Any], source: dict[str, str]
) -> None:
    # When the request is sent with the fault
    answer = load_handler(folder)(request(folder, **change), LambdaContext())
    # Then it is refused, the fault named, and Talon.One was not called
    assert answer["statusCode"] == 400, answer["body"]
    assert source in sources(answer)
    assert httpserver.log == []
