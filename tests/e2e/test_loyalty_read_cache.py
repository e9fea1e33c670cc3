"""The read cache through make run's stack: a customer's balances read twice within the TTL are the first
answer the second time (X-Relay-Cache: hit, Age), even after the customer earned more; their transactions
(which do not opt in) are read fresh; another customer's balances are their own."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import Http

pytestmark = pytest.mark.e2e


def purchase(http: Http, profile: str) -> None:
    answer = http.relay("POST", "/v2/events", {"profileId": profile, "type": "purchase", "attributes": {}})
    assert answer.status == 204, answer.data  # silent: tracked, no answer


def test_balances_are_kept_a_few_seconds_and_transactions_read_fresh(http: Http) -> None:
    # Given a customer with one purchase's points
    profile, other = f"cache-{uuid.uuid4().hex[:8]}", f"cache-{uuid.uuid4().hex[:8]}"
    purchase(http, profile)
    purchase(http, other)
    balances = f"/v1/loyalty_programs/1/profile/{profile}/balances"
    # When the balances are read, the customer buys again, and the balances are read again
    first = http.relay("GET", balances)
    purchase(http, profile)
    second = http.relay("GET", balances)
    # Then the second answer is the first, from the cache, and says so
    assert (first.status, first.headers.get("X-Relay-Cache"), "Age" in first.headers) == (200, "miss", False)
    assert (second.status, second.headers.get("X-Relay-Cache")) == (200, "hit")
    assert int(second.headers["Age"]) >= 0
    assert second.json == first.json and first.json["balance"]["activePoints"] == 10
    # And the transactions, read fresh, hold both purchases
    transactions = http.relay("GET", f"/v1/loyalty_programs/1/profile/{profile}/transactions")
    assert "X-Relay-Cache" not in transactions.headers
    assert [entry["amount"] for entry in transactions.json["data"]] == [10, 10]
    # And another customer's balances are theirs, from Talon.One
    theirs = http.relay("GET", f"/v1/loyalty_programs/1/profile/{other}/balances")
    assert (theirs.headers.get("X-Relay-Cache"), theirs.json["balance"]["activePoints"]) == ("miss", 10)
