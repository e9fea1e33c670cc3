"""The read cache's rules, on a container with a fake clock: kept per application, caller, customer and
query; never past the TTL; never for a write or an entry that does not opt in; bounded; forgotten on reset."""

from __future__ import annotations

import pytest

from talon_relay import telemetry
from talon_relay.container import Container
from talon_relay.core import read_cache
from talon_relay.core.request import Request, parse_request
from talon_relay.operations import OPERATIONS, Contract, Delivery, Operation
from tests.support import FakeClock

BALANCES = OPERATIONS["getLoyaltyBalances"]
TTL = BALANCES.cache_seconds


def read(customer: str = "p-1", *, application: str = "default", query: dict[str, str] | None = None) -> Request:
    params = {"loyaltyProgramId": "1", "integrationId": customer}
    return parse_request(BALANCES, params, None, query=query, application=application)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=50.0)


@pytest.fixture
def container(clock: FakeClock) -> Container:
    return Container(environ={}, clock=clock)


def test_the_loyalty_and_inventory_reads_opt_in_with_a_ttl_and_only_reads_do() -> None:
    # Given the table; Then balances, points, achievements and the inventory name a TTL of 10 s, transactions do not,
    # and every entry that has one is a read
    cached = {op.name: op.cache_seconds for op in OPERATIONS.values() if op.cache_seconds}
    assert {
        "getLoyaltyBalances": 10.0,
        "getLoyaltyProgramProfilePoints": 10.0,
        "getLoyaltyCardBalances": 10.0,
        "getLoyaltyCardPoints": 10.0,
        "getCustomerAchievements": 10.0,
        "getCustomerAchievementHistory": 10.0,
        "getCustomerInventory": 10.0,
    }.items() <= cached.items()
    assert not {"getLoyaltyProgramProfileTransactions", "getLoyaltyCardTransactions"} & cached.keys()
    assert all(OPERATIONS[name].method == "GET" for name in cached)


def test_a_write_never_has_a_ttl_whatever_its_delivery_says() -> None:
    # Given a write whose delivery names a TTL by mistake
    write = Operation(Contract(name="x", method="POST", path="/v1/x"), Delivery(cache_seconds=10))
    # Then it has none
    assert write.cache_seconds == 0


def test_kept_then_found_with_its_age(container: Container, clock: FakeClock) -> None:
    # Given an answer kept
    read_cache.keep(container, read(), "signed", '{"balance":{}}')
    clock.advance(TTL - 0.5)
    # When the same read comes from the same caller
    hit = read_cache.lookup(container, read(), "signed")
    # Then it is the kept answer, its age on the container's clock, and one hit is counted
    assert hit == read_cache.Hit('{"balance":{}}', TTL - 0.5)
    assert read_cache.headers(hit) == {"X-Relay-Cache": "hit", "Age": str(int(TTL - 0.5))}
    assert container.counts.take() == {telemetry.READ_CACHE_HITS: 1}


def test_gone_at_the_ttl(container: Container, clock: FakeClock) -> None:
    read_cache.keep(container, read(), "signed", "{}")
    clock.advance(TTL)
    assert read_cache.lookup(container, read(), "signed") is None
    assert container.read_cache == {}
    assert container.counts.take() == {}


@pytest.mark.parametrize(
    ("other", "caller"),
    [
        (read("p-2"), "signed"),  # another customer
        (read(application="shop-b"), "signed"),  # another application
        (read(), "api-key:k2"),  # another caller
        (read(query={"endDate": "2026-05-01T10:00:00Z"}), "signed"),  # another query
    ],
    ids=["customer", "application", "caller", "query"],
)
def test_never_across_customers_applications_callers_or_queries(
    container: Container, other: Request, caller: str
) -> None:
    # Given one caller's answer about one customer kept
    read_cache.keep(container, read(), "signed", "{}")
    # Then nobody else's read finds it
    assert read_cache.lookup(container, other, caller) is None


def test_nothing_kept_for_an_entry_that_does_not_opt_in_or_without_a_body(container: Container) -> None:
    transactions = OPERATIONS["getLoyaltyProgramProfileTransactions"]
    fresh = parse_request(transactions, {"loyaltyProgramId": "1", "integrationId": "p-1"}, None)
    read_cache.keep(container, fresh, "signed", "{}")
    read_cache.keep(container, read(), "signed", None)
    assert container.read_cache == {}


def test_bounded_the_oldest_first(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cache of three
    monkeypatch.setattr(read_cache, "MAX_ENTRIES", 3)
    # When four customers' answers are kept
    for n in range(4):
        read_cache.keep(container, read(f"p-{n}"), "signed", "{}")
    # Then the first is gone, the others kept
    assert read_cache.lookup(container, read("p-0"), "signed") is None
    assert all(read_cache.lookup(container, read(f"p-{n}"), "signed") for n in (1, 2, 3))


def test_bounded_in_size_too_not_only_in_answers(container: Container) -> None:
    # Given inventories of 1 MiB each (a customer with many coupons), 40 customers read one after another
    big = '{"coupons":"' + "x" * (1024 * 1024 - 14) + '"}'
    for n in range(40):
        read_cache.keep(container, read(f"p-{n}"), "signed", big)
    # Then the kept answers hold at most 16 MiB (a function has 256 MB), the newest kept, the oldest gone
    assert sum(len(text) for _, text in container.read_cache.values()) <= 16 * 1024 * 1024
    assert read_cache.lookup(container, read("p-39"), "signed") is not None
    assert read_cache.lookup(container, read("p-0"), "signed") is None


def test_an_answer_too_large_to_keep_is_not_kept_and_evicts_nothing(container: Container) -> None:
    # Given a small answer kept
    read_cache.keep(container, read("p-1"), "signed", "{}")
    # When an answer of 5 MiB comes (up to 6 MB reach the function)
    read_cache.keep(container, read("p-2"), "signed", '{"x":"' + "x" * (5 * 1024 * 1024) + '"}')
    # Then it is not kept, and the small one still is
    assert read_cache.lookup(container, read("p-2"), "signed") is None
    assert read_cache.lookup(container, read("p-1"), "signed") is not None


def test_a_reset_forgets_every_kept_answer(container: Container) -> None:
    read_cache.keep(container, read(), "signed", "{}")
    container.reset(environ={})
    assert read_cache.lookup(container, read(), "signed") is None


def test_callers_are_told_apart_without_keeping_their_key() -> None:
    # Given the key route (API Gateway's key id), caller keys, and the signed route
    by_key_id = read_cache.caller_of({"apiKeyId": "k1"}, {})
    one = read_cache.caller_of({}, {"authorization": "ApiKey-v1 secret-one"})
    two = read_cache.caller_of({}, {"authorization": "ApiKey-v1 secret-two"})
    signed = read_cache.caller_of({}, {"x-relay-signature": "t=1,v2=ab"})
    # Then each is its own caller, and no key is in what is kept
    assert len({by_key_id, one, two, signed}) == 4
    assert "secret" not in one + two


def test_the_characters_kept_are_counted_as_answers_come_expire_and_are_replaced(
    container: Container, clock: FakeClock
) -> None:
    # Given answers kept, one of them kept again with a longer text, one read after its TTL (dropped)
    read_cache.keep(container, read("p-1"), "signed", '{"a":1}')
    read_cache.keep(container, read("p-2"), "signed", '{"b":2}')
    read_cache.keep(container, read("p-1"), "signed", '{"a":12345}')
    clock.advance(TTL + 1)
    read_cache.keep(container, read("p-3"), "signed", '{"c":3}')
    assert read_cache.lookup(container, read("p-2"), "signed") is None
    # Then the running count is the kept answers' characters, without summing them on every read
    assert container.read_cache_chars == sum(len(text) for _, text in container.read_cache.values()) == 18
    # And a reset forgets both
    container.reset()
    assert (container.read_cache, container.read_cache_chars) == ({}, 0)
