"""The local gateway runs invocations concurrently, one container per invocation in flight, as Lambda does:
a slow Talon.One answer holds no unrelated caller, each container keeps its own environment, and a
function never runs more containers than its concurrency allows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.gateway import LOCAL_API_CONCURRENCY
from local.stack import LocalStack
from tests.e2e.helpers import Http, Queues, dead_letter_queues, talon_requests, wait_until

SLOW = 3.0


def timed(http: Http, method: str, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, float]:
    started = time.monotonic()
    answer = http.relay(method, path, body, headers)
    return answer.status, time.monotonic() - started


def test_a_slow_talon_one_answer_holds_no_unrelated_caller(
    stack: LocalStack, http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Talon.One answering one session's update only after 3 s, and a relay that waits for it
    monkeypatch.setitem(
        stack.gateway.functions["UpdateCustomerSessionFunction"].environment, "TALON_READ_TIMEOUT", "10"
    )
    stack.emulator.inject_fault(delay=SLOW, path="/v1/customer_sessions/s-slow", method="PUT")
    slow: dict[str, Any] = {}
    caller = threading.Thread(
        target=lambda: slow.update(answer=timed(Http(stack), "PUT", "/v1/customer_sessions/s-slow", {})), daemon=True
    )
    # When that update is in flight
    caller.start()
    wait_until(
        lambda: any(r["path"].endswith("/s-slow") for r in talon_requests(stack)), timeout=5, what="the slow call"
    )
    # Then callers of another function, and of the same function, are answered meanwhile
    profile = timed(http, "PUT", "/v1/customer_profiles/p-fast", {"attributes": {}})
    session = timed(http, "PUT", "/v1/customer_sessions/s-other", {"profileId": "p-fast"})
    caller.join(timeout=10)
    assert (profile[0], session[0]) == (200, 200)
    assert profile[1] < 1.5 and session[1] < 1.5, (profile, session)
    # while the slow one took its 3 s, and got its answer too
    status, seconds = slow["answer"]
    assert status == 200 and seconds >= SLOW


def test_concurrent_containers_keep_their_own_environment(stack: LocalStack, http: Http, queues: Queues) -> None:
    # Given 24 asynchronous requests to two functions at once (each queues to its own QUEUE_URL)
    def send(index: int) -> int:
        client = Http(stack)
        try:
            body: dict[str, Any]
            if index % 2:
                path, body = f"/v1/customer_sessions/s-env-{index}", {"profileId": f"p-env-{index}"}
            else:
                path, body = f"/v1/customer_profiles/p-env-{index}", {"attributes": {"n": index}}
            return client.relay("PUT", path, body, {"Prefer": "respond-async"}).status
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(24)))
    # Then every one was queued on its own function's queue and delivered by it: a request queued with
    # another container's environment would have reached the wrong function and been dead-lettered
    assert statuses == [202] * 24
    wait_until(lambda: len(talon_requests(stack, method="PUT")) == 24, timeout=30, what="all 24 delivered")
    paths = sorted(r["path"].split("/")[2] for r in talon_requests(stack, method="PUT"))
    assert paths == ["customer_profiles"] * 12 + ["customer_sessions"] * 12
    assert {q: n for q in dead_letter_queues(stack) if (n := queues.depth(q))} == {}


def test_a_function_runs_no_more_containers_than_its_concurrency(stack: LocalStack) -> None:
    # Given Talon.One answering every profile update after 0.5 s, and 10 callers at once
    stack.emulator.inject_fault(delay=0.5, count=10, path="/v1/customer_profiles/", method="PUT")
    function = stack.gateway.functions["UpdateCustomerProfileFunction"]
    function.peak = 0
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(
                lambda i: Http(stack).relay("PUT", f"/v1/customer_profiles/p-burst-{i}", {"attributes": {}}).status,
                range(10),
            )
        )
    # Then all are answered, with at most its concurrency in flight (its pollers and LOCAL_API_CONCURRENCY)
    assert answers == [200] * 10
    assert function.concurrency == stack.gateway.pollers["UpdateCustomerProfileFunction"] + LOCAL_API_CONCURRENCY
    assert 2 <= function.peak <= function.concurrency
