"""The read cache through a function: a loyalty read answered from the container for its TTL (on the
container's clock, a fake one here), per customer, never past its TTL, never for a write or an error;
the answer says where it came from, and a hit calls, counts and logs nothing as a call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from talon_relay.callers import signatures as callers
from talon_relay.container import Container
from talon_relay.entry import lambda_handler
from talon_relay.operations.operation import READ_CACHE_SECONDS
from tests.functions.conftest import SIGNING_SECRET, Stack
from tests.functions.test_api_gateway import api_event, sign_event
from tests.functions.test_budget import emf_documents
from tests.support import LOADED_HANDLERS, FakeClock, LambdaContext, LogCapture

BALANCES = "/v1/loyalty_programs/1/profile/{}/balances"
ANSWER = {"balance": {"activePoints": 10.0}, "subledgerBalances": {}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def handler_of(stack: Stack, clock: FakeClock) -> Iterator[Any]:
    """Given functions whose container runs on the fake clock."""
    made: list[Any] = []

    def make(name: str) -> Any:
        handler = lambda_handler(name, Container(clock=clock))
        made.append(handler)
        LOADED_HANDLERS.append(handler)
        return handler

    yield make
    for handler in made:
        LOADED_HANDLERS.remove(handler)


def balances(customer: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """The signed request of a customer's balances (with a query when given)."""
    event = api_event("get_loyalty_balances", params={"loyaltyProgramId": "1", "integrationId": customer}, secret=None)
    event["queryStringParameters"] = query
    event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, SIGNING_SECRET)
    return event


def calls_to(httpserver: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def test_a_second_read_within_the_ttl_is_the_first_answer_with_its_age(
    httpserver: HTTPServer, handler_of: Any, clock: FakeClock
) -> None:
    # Given Talon.One answering a profile's balances
    httpserver.expect_request(BALANCES.format("p-1"), method="GET").respond_with_json(ANSWER)
    handler = handler_of("getLoyaltyBalances")
    # When the balances are read, and read again 4 seconds later
    first = handler(balances("p-1"), LambdaContext())
    clock.advance(4.5)
    second = handler(balances("p-1"), LambdaContext())
    # Then Talon.One was asked once; the second answer is the first's, from the cache, 4 seconds old
    assert calls_to(httpserver, BALANCES.format("p-1")) == 1
    assert (first["statusCode"], first["headers"]["X-Relay-Cache"]) == (200, "miss")
    assert "Age" not in first["headers"]
    assert (second["statusCode"], second["headers"]["X-Relay-Cache"], second["headers"]["Age"]) == (200, "hit", "4")
    assert json.loads(second["body"]) == json.loads(first["body"]) == ANSWER


def test_never_past_the_ttl(httpserver: HTTPServer, handler_of: Any, clock: FakeClock) -> None:
    # Given a read answered and kept
    httpserver.expect_request(BALANCES.format("p-1"), method="GET").respond_with_json(ANSWER)
    handler = handler_of("getLoyaltyBalances")
    handler(balances("p-1"), LambdaContext())
    # When the TTL has passed
    clock.advance(READ_CACHE_SECONDS)
    again = handler(balances("p-1"), LambdaContext())
    # Then Talon.One is asked again
    assert calls_to(httpserver, BALANCES.format("p-1")) == 2
    assert again["headers"]["X-Relay-Cache"] == "miss"


def test_never_another_customers_answer(httpserver: HTTPServer, handler_of: Any) -> None:
    # Given two customers' balances
    for customer in ("p-1", "p-2"):
        httpserver.expect_request(BALANCES.format(customer), method="GET").respond_with_json(
            {"balance": {"activePoints": float(len(customer))}, "customer": customer}
        )
    handler = handler_of("getLoyaltyBalances")
    # When one and then the other are read
    one = handler(balances("p-1"), LambdaContext())
    other = handler(balances("p-2"), LambdaContext())
    # Then each is its own customer's, from Talon.One
    assert (json.loads(one["body"])["customer"], json.loads(other["body"])["customer"]) == ("p-1", "p-2")
    assert other["headers"]["X-Relay-Cache"] == "miss"


def test_another_query_is_another_read(httpserver: HTTPServer, handler_of: Any) -> None:
    # Given the balances read, then read at an end date
    httpserver.expect_request(BALANCES.format("p-1"), method="GET").respond_with_json(ANSWER)
    handler = handler_of("getLoyaltyBalances")
    handler(balances("p-1"), LambdaContext())
    dated = handler(balances("p-1", {"endDate": "2026-05-01T10:00:00Z"}), LambdaContext())
    # Then the second went to Talon.One with its query
    assert dated["headers"]["X-Relay-Cache"] == "miss"
    assert calls_to(httpserver, BALANCES.format("p-1")) == 2


def test_a_read_sent_again_with_its_idempotency_key_past_the_ttl_is_read_fresh(
    httpserver: HTTPServer, handler_of: Any, clock: FakeClock
) -> None:
    # Given Talon.One answering 10 points, then 20 once the customer earned more
    points = iter([10.0, 20.0])
    httpserver.expect_request(BALANCES.format("p-1"), method="GET").respond_with_handler(
        lambda _: Response(json.dumps({"balance": {"activePoints": next(points)}}), content_type="application/json")
    )
    handler = handler_of("getLoyaltyBalances")

    def read() -> dict[str, Any]:  # a caller (a retrying HTTP client) sending an Idempotency-Key with its read
        event = api_event("get_loyalty_balances", params={"loyaltyProgramId": "1", "integrationId": "p-1"}, secret=None)
        event["headers"]["Idempotency-Key"] = "read-1"
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, SIGNING_SECRET)
        return dict(handler(event, LambdaContext()))

    first = read()
    # When the same read is sent again with the same key, past the TTL
    clock.advance(READ_CACHE_SECONDS + 50)
    again = read()
    # Then it is Talon.One's answer now, not the first one kept past its TTL under a miss
    assert json.loads(first["body"])["balance"]["activePoints"] == 10.0
    assert (json.loads(again["body"])["balance"]["activePoints"], again["headers"]["X-Relay-Cache"]) == (20.0, "miss")
    assert calls_to(httpserver, BALANCES.format("p-1")) == 2


def test_an_error_is_never_kept(httpserver: HTTPServer, handler_of: Any) -> None:
    # Given Talon.One not knowing the customer
    httpserver.expect_request(BALANCES.format("p-9"), method="GET").respond_with_json(
        {"message": "not found", "errors": []}, status=404
    )
    handler = handler_of("getLoyaltyBalances")
    # When the read is made twice
    answers = [handler(balances("p-9"), LambdaContext()) for _ in range(2)]
    # Then both are Talon.One's 404
    assert [a["statusCode"] for a in answers] == [404, 404]
    assert calls_to(httpserver, BALANCES.format("p-9")) == 2


def test_a_write_is_never_answered_from_the_cache(httpserver: HTTPServer, handler_of: Any) -> None:
    # Given Talon.One activating points
    path = "/v1/loyalty_programs/1/activate_points"
    httpserver.expect_request(path, method="POST").respond_with_json({"ledgerEntries": []})
    handler = handler_of("activateLoyaltyPoints")
    # When the same activation is sent twice
    answers = [handler(api_event("activate_loyalty_points"), LambdaContext()) for _ in range(2)]
    # Then each reached Talon.One, and neither says anything of a cache
    assert calls_to(httpserver, path) == 2
    assert all("X-Relay-Cache" not in a["headers"] for a in answers)


def test_transactions_are_read_fresh(httpserver: HTTPServer, handler_of: Any) -> None:
    # Given a read that does not opt in (a profile's transactions)
    path = "/v1/loyalty_programs/1/profile/p-1/transactions"
    httpserver.expect_request(path, method="GET").respond_with_json({"hasMore": False, "data": []})
    handler = handler_of("getLoyaltyProgramProfileTransactions")
    # When it is read twice
    for _ in range(2):
        handler(api_event("get_loyalty_program_profile_transactions"), LambdaContext())
    # Then Talon.One answered both
    assert calls_to(httpserver, path) == 2


def test_a_hit_counts_no_call_and_logs_once(
    httpserver: HTTPServer, handler_of: Any, capsys: pytest.CaptureFixture[str], logs: LogCapture
) -> None:
    # Given a read answered once by Talon.One
    httpserver.expect_request(BALANCES.format("p-1"), method="GET").respond_with_json(ANSWER)
    handler = handler_of("getLoyaltyBalances")
    handler(balances("p-1"), LambdaContext())
    (miss,) = [doc for doc in emf_documents(capsys.readouterr().out) if doc.get("operation") == "getLoyaltyBalances"]
    # When it is answered from the cache
    handler(balances("p-1"), LambdaContext())
    (hit,) = [doc for doc in emf_documents(capsys.readouterr().out) if doc.get("operation") == "getLoyaltyBalances"]
    # Then the miss counted one Talon.One call, the hit one cache hit and no call
    assert (miss["TalonOneCalls"], "ReadCacheHits" in miss) == ([1.0], False)
    assert (hit["ReadCacheHits"], "TalonOneCalls" in hit) == ([1.0], False)
    # And the hit is logged once, saying so, with nothing of the answer
    said = [r for r in logs.records() if r.get("message") == "answered from the read cache"]
    assert len(said) == 1 and "activePoints" not in logs.text
