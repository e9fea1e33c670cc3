"""A batch split per application (adapters/lanes.py): which application a record is scheduled as, each
application's share of the threads and of the invocation's time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from talon_relay.adapters import lanes
from tests.support import FakeClock, LambdaContext


def record(message_id: str, group: str | None = None, claimed: str | None = None) -> dict[str, Any]:
    attributes = {"MessageGroupId": group} if group else {}
    claims = {"relayApplication": {"stringValue": claimed, "dataType": "String"}} if claimed else {}
    return {"messageId": message_id, "attributes": attributes, "messageAttributes": claims}


@pytest.mark.parametrize(
    ("given", "lane"),
    [
        (record("m", "us/c-1", claimed="us"), "us"),
        (record("m", "c-1", claimed="eu"), "eu"),  # the claim wins: the default's groups have no prefix
        (record("m", "acme.myshopify.com/customer-7"), "acme.myshopify.com"),  # a webhook: its shop
        (record("m", "c-1"), "default"),
        (record("m"), "default"),  # a standard queue's record
    ],
)
def test_a_record_is_scheduled_as_its_claimed_application_else_its_groups_prefix(
    given: dict[str, Any], lane: str
) -> None:
    assert lanes.lane_of(given) == lane


class Clocked(LambdaContext):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(timeout_seconds=20.0)
        self.clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.timeout_seconds - self.clock()) * 1000), 0)


def test_a_share_ends_its_seconds_after_it_began_or_with_the_invocation() -> None:
    clock = FakeClock()
    clock.advance(4)
    share = lanes.Share(Clocked(clock), 10)  # begun at 4 s: 16 s left of the invocation
    assert share.get_remaining_time_in_millis() == 10_000
    clock.advance(7)
    assert share.get_remaining_time_in_millis() == 3_000
    clock.advance(5)
    assert share.get_remaining_time_in_millis() == 0
    # a share longer than the invocation ends with it
    assert lanes.Share(Clocked(FakeClock()), 60).get_remaining_time_in_millis() == 20_000
    assert share.function_name == "test-function"  # the rest is the Lambda context's


def test_each_application_runs_on_its_share_of_the_threads() -> None:
    # Given six groups of `eu` and two of `us`, four threads, and each group held until told to go
    groups = [[record(f"eu-{n}", f"eu/c-{n}", "eu")] for n in range(6)] + [
        [record(f"us-{n}", f"us/c-{n}", "us")] for n in range(2)
    ]
    running: dict[str, int] = {"eu": 0, "us": 0}
    most: dict[str, int] = {"eu": 0, "us": 0}
    lock, go = threading.Lock(), threading.Event()

    def run_group(group: list[dict[str, Any]], context: Any) -> set[str]:
        lane = lanes.lane_of(group[0])
        with lock:
            running[lane] += 1
            most[lane] = max(most[lane], running[lane])
            if running["us"] == 2:
                go.set()
        go.wait(10)
        with lock:
            running[lane] -= 1
        return {group[0]["messageId"]} if lane == "eu" else set()

    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = lanes.run(groups, run_group, context=LambdaContext(), workers=4, pool=lambda: pool, seconds=10)
    # Then `us` had its two threads at once, `eu` never more than two, and every group ran
    assert most == {"eu": 2, "us": 2}
    assert failed == {f"eu-{n}" for n in range(6)}


def test_a_breaker_opens_after_three_failures_in_a_row_and_an_answer_closes_it() -> None:
    breaker = lanes.Breaker()
    for _ in range(2):
        breaker.failed("eu", None)
    breaker.check("eu")  # two: still called
    breaker.failed("eu", "120")
    with pytest.raises(lanes.Paused) as paused:
        breaker.check("eu")
    assert paused.value.retry_after == "120" and not paused.value.dead_letter
    breaker.check("us")  # another application's is its own
    breaker.succeeded("eu")
    breaker.check("eu")


def test_a_deployment_of_one_application_is_one_lane_whatever_its_groups_prefixes() -> None:
    # Given webhooks of two shops in a deployment of one application
    groups = [[record("a", "shop-a.myshopify.com/c-1")], [record("b", "shop-b.myshopify.com/c-2")]]
    seen: list[Any] = []

    def run_group(group: list[dict[str, Any]], context: Any) -> set[str]:
        seen.append(context)
        return set()

    context = LambdaContext()
    lanes.run(groups, run_group, context=context, workers=1, pool=lambda: None, seconds=10, several=False)  # type: ignore[arg-type,return-value]
    # Then the invocation's own context, no share of it
    assert seen == [context, context]
    lanes.run(groups, run_group, context=context, workers=1, pool=lambda: None, seconds=10, several=True)  # type: ignore[arg-type,return-value]
    assert all(isinstance(shared, lanes.Share) for shared in seen[2:])
