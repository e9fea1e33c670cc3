"""What a load and outage run needs of the emulator: rate limiting with Retry-After, an outage that lasts
a while, and a record of how many requests it served at once."""

from __future__ import annotations

import threading

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, Client, PausingEmulator, serving
from tests.support import FakeClock


def test_a_429_with_retry_after_is_answered_as_queued(client: Client) -> None:
    # Given Talon.One rate limiting the next session update
    created = client.admin(
        "POST", "faults", {"status": 429, "headers": {"Retry-After": "2"}, "path": "/v1/customer_sessions"}
    )
    assert created.status == 201
    # When it comes, then it is refused with the 429 and its Retry-After; the next one goes through
    refused = client.session("s-1", {})
    assert (refused.status, refused.headers["Retry-After"]) == (429, "2")
    assert client.session("s-1", {}).status == 200


def test_a_timed_fault_answers_every_matching_request_while_it_lasts(
    clocked_emulator: tuple[Emulator, Client], clock: FakeClock
) -> None:
    # Given an outage of the session route for 0.6 s of the emulator's clock (count does not limit it)
    emulator, client = clocked_emulator
    fault = emulator.inject_fault(status=503, seconds=0.6, path="/v1/customer_sessions")
    assert fault["remaining"] is None and fault["secondsLeft"] == 0.6
    # When requests come meanwhile, then every one of them fails, and other routes are not affected
    assert [client.session(f"s-{i}", {}).status for i in range(5)] == [503] * 5
    assert client.profile("p-1", {}).status == 200
    # And once it is over (0.7 s later) the route answers again, and the fault is gone
    clock.advance(0.7)
    assert client.session("s-9", {}).status == 200
    assert client.admin("GET", "faults").body == {"faults": []}


def test_a_timed_fault_is_bounded_and_validated(client: Client) -> None:
    # Then an outage longer than an hour, or of no time, is refused naming the field
    for seconds in (0, 3601):
        answer = client.admin("POST", "faults", {"status": 503, "seconds": seconds})
        assert answer.status == 400
        assert answer.body["errors"][0]["source"]["pointer"] == "/seconds"


def test_the_peak_of_requests_served_at_once_is_recorded() -> None:
    # Given every event delayed until four are in their delay at once, and a fresh record
    four_in = threading.Barrier(4)
    emulator = PausingEmulator(lambda seconds: four_in.wait(timeout=10), api_keys={API_KEY})
    with serving(emulator) as client:
        emulator.inject_fault(delay=0.3, count=4, path="/v1/events")
        assert client.admin("DELETE", "concurrency").status == 204
        # When four events are sent at once
        threads = [
            threading.Thread(target=client.event, args=({"sessionId": f"s-{i}", "type": "x", "attributes": {}},))
            for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then the record shows the four served together, none in flight any more
        assert client.admin("GET", "concurrency").body == {"inFlight": 0, "peak": 4}
        assert emulator.concurrency() == {"inFlight": 0, "peak": 4}
        # And a reset starts the peak again from what is in flight (admin requests are not counted)
        emulator.reset_concurrency()
        client.session("s-1", {})
        assert emulator.concurrency() == {"inFlight": 0, "peak": 1}


def test_a_latency_setting_delays_every_request_like_a_remote_talon_one(
    clocked_emulator: tuple[Emulator, Client], clock: FakeClock
) -> None:
    # Given a 200 ms latency, on the emulator's clock
    _, client = clocked_emulator
    answer = client.admin("PUT", "settings", {"latencyMs": 200})
    assert answer.status == 200 and answer.body["latencyMs"] == 200
    # When a request comes, then it is answered after waiting it (and a fault still answers as queued, after it too)
    assert client.session("s-1", {}).status == 200
    assert clock.slept == [0.2]
    client.admin("POST", "faults", {"status": 503})
    assert client.session("s-1", {}).status == 503
    assert clock.slept == [0.2, 0.2]
    # And a latency beyond the faults' bound is refused
    assert client.admin("PUT", "settings", {"latencyMs": 60_000}).status == 400
