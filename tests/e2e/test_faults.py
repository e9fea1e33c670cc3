"""A queued load while Talon.One misbehaves: nothing is lost, order per customer is kept, poison goes
to the DLQs with a reason."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import Queues, attribute, talon_requests

pytestmark = pytest.mark.e2e

SESSIONS, UPDATES, EVENTS = 10, 4, 10
RUN_TIMEOUT = 60.0


def _session_messages() -> list[dict[str, Any]]:
    """40 updates across 10 sessions, interleaved the way a busy shop would send them."""
    return [
        {
            "customerSessionId": f"fault-s{session}",
            "body": {"profileId": f"fault-p{session}", "total": 10.0 * update, "attributes": {"update": update}},
        }
        for update in range(UPDATES)
        for session in range(SESSIONS)
    ]


def _event_messages() -> list[dict[str, Any]]:
    return [
        {"body": {"sessionId": f"fault-e{n}", "type": "page_view", "attributes": {"n": n}}, "idempotencyKey": f"e{n}"}
        for n in range(EVENTS)
    ]


def _inject_faults(stack: LocalStack) -> int:
    """Faults for session updates (PUT: retried by the client) and for events (POST: retried by SQS).

    Every fault acts before Talon.One processes the request (`after` is never set), so a POST that
    failed was not processed: an event is delivered exactly once. A PUT whose answer came too late
    was processed, and is sent again: updates may be repeated, which PUT allows.
    """
    emu, sessions, events = stack.emulator, "/v1/customer_sessions/", "/v1/events"
    faults = [
        emu.inject_fault(status=503, count=3, path=sessions, method="PUT"),
        emu.inject_fault(status=409, count=1, path=sessions, method="PUT"),
        emu.inject_fault(delay=1.0, count=1, path=sessions, method="PUT"),  # past the 0.5 s read timeout
        emu.inject_fault(drop=True, count=1, path=sessions, method="PUT"),
        emu.inject_fault(status=503, count=1, path=sessions, method="PUT"),
        emu.inject_fault(status=503, count=1, path=events, method="POST"),
        emu.inject_fault(drop=True, count=1, path=events, method="POST"),
    ]
    return sum(int(f["remaining"]) for f in faults)


def test_faulty_talon_one_loses_nothing(stack: LocalStack, queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    # Given Talon.One will fail some requests: 503s, a 409, an answer past the read timeout, and
    # dropped connections
    injected = _inject_faults(stack)
    sessions, events = _session_messages(), _event_messages()
    poison = {
        "UpdateCustomerSession": ["{not json", json.dumps({"customerSessionId": "", "body": {}})],
        "TrackEvent": [json.dumps({"body": {"sessionId": "s-1", "type": "x"}})],  # no attributes
    }
    started = time.monotonic()

    # When 40 session updates, 10 events and 3 poison messages are queued
    queues.send_batch(
        "SessionsQueue",
        [*sessions[:20], *poison["UpdateCustomerSession"], *sessions[20:]],
        operation="updateCustomerSession",
    )
    queues.send_batch("TrackEventQueue", [*events[:5], *poison["TrackEvent"], *events[5:]])

    # Then, within the bound, both queues drain
    queues.wait_empty("SessionsQueue", "TrackEventQueue", timeout=RUN_TIMEOUT)
    elapsed = time.monotonic() - started

    log = talon_requests(stack)
    ok_updates: Counter[tuple[str, int]] = Counter()
    ok_events: Counter[int] = Counter()
    for request in log:
        if request["status"] == 200 and request["operation"] == "updateCustomerSession":
            ok_updates[(request["params"]["customerSessionId"], request["body"]["attributes"]["update"])] += 1
        elif request["status"] == 201 and request["operation"] == "trackEvent":
            ok_events[request["body"]["attributes"]["n"]] += 1

    # and every session update reached Talon.One with success (at least once: PUT may repeat)
    expected_updates = {(m["customerSessionId"], m["body"]["attributes"]["update"]) for m in sessions}
    assert set(ok_updates) == expected_updates
    # and every event exactly once (no fault let Talon.One process a POST whose answer was lost)
    assert ok_events == Counter(range(EVENTS))
    # and each session's updates arrived in the order they were sent (FIFO group per session), the
    # last one last; only an answer delayed past the read timeout is applied late (and then sent again)
    late = {r["params"].get("customerSessionId") for r in log if r["fault"] and r["fault"].get("delay")}
    state = stack.emulator.state()
    for session in {m["customerSessionId"] for m in sessions}:
        arrived = [
            r["body"]["attributes"]["update"]
            for r in log
            if r["path"].endswith(f"/{session}") and r["status"] == 200 and r["fault"] is None
        ]
        assert arrived == sorted(arrived) and arrived[-1] == UPDATES - 1, (session, arrived)
        if session not in late:
            assert state["sessions"][session]["attributes"] == {"update": UPDATES - 1}
            assert state["sessions"][session]["total"] == 10.0 * (UPDATES - 1)
    # and every fault was met, so the run went through each kind of failure
    assert stack.emulator.faults() == []
    faulted = [r for r in log if r["fault"] is not None]
    assert len(faulted) == injected
    assert {r["status"] for r in faulted} >= {503, 409, None}
    assert any(r["dropped"] for r in faulted)
    assert any(r["fault"].get("delay") for r in faulted)
    # and the poison messages, only they, are in the DLQs with their reasons, never sent to Talon.One
    letters = {
        "UpdateCustomerSession": queues.take_all("SessionsDeadLetterQueue"),
        "TrackEvent": queues.take_all("TrackEventDeadLetterQueue"),
    }
    poison_ids = set()
    for queue, bodies in poison.items():
        assert sorted(m["Body"] for m in letters[queue]) == sorted(bodies)
        for letter in letters[queue]:
            assert attribute(letter, "failureReason")
            assert attribute(letter, "talonStatus") is None
            poison_ids.add(attribute(letter, "sourceMessageId"))
    assert len(poison_ids) == 3
    assert all(r["body"] is None or "fault-" in json.dumps(r["body"]) for r in log)

    requests_by_op = Counter(r["path"].split("/")[2] for r in log)  # faulted ones have no operation
    counts = {
        "seconds": round(elapsed, 1),
        "session updates delivered": len(ok_updates),
        "events delivered": len(ok_events),
        "dead-lettered": sum(len(v) for v in letters.values()),
        "faults injected (all met)": injected,
        "Talon.One requests (sessions, events)": (
            requests_by_op["customer_sessions"],
            requests_by_op["events"],
        ),
        "retries seen (requests beyond one per message)": len(log) - len(sessions) - len(events),
        "repeated session updates (PUT answered late, sent again)": sum(n - 1 for n in ok_updates.values()),
        "SQS invocations": sum(1 for _, trigger in stack.gateway.invocations if trigger == "sqs"),
    }
    with capsys.disabled():  # shown in every run, not only when the test fails
        print("\nfault run:", json.dumps(counts))
    assert elapsed < RUN_TIMEOUT
