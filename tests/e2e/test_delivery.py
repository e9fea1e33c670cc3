"""Delivery end to end: a 200-message run while Talon.One misbehaves, order and isolation of the FIFO
groups, and a sender's retry after its answer was lost. Real SQS in moto, the gateway's pollers, the
emulator; every wait is bounded, nothing asserts how fast anything was.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import (
    FUNCTION_ENVIRONMENT,
    Http,
    Queues,
    attribute,
    dead_letter_queues,
    record_invocations,
    relay_within,
    talon_requests,
    until_not_in_progress,
    wait_until,
)

pytestmark = pytest.mark.e2e

#: every change of a session goes on the sessions queue, each message naming its operation (docs/lifecycle.md)
SESSION_QUEUE, EVENT_QUEUE = "SessionsQueue", "TrackEventQueue"
OPERATION_OF = {SESSION_QUEUE: "updateCustomerSession", EVENT_QUEUE: None}
SESSIONS_PATH, EVENTS_PATH = "/v1/customer_sessions/", "/v1/events"
#: Attempts the relay makes for one PUT within one invocation (1 + TALON_MAX_RETRIES).
ATTEMPTS = 1 + int(FUNCTION_ENVIRONMENT["TALON_MAX_RETRIES"])
#: The relay's read timeout in the shared stack (a delayed answer past it is a timeout).
READ_TIMEOUT = float(FUNCTION_ENVIRONMENT["TALON_READ_TIMEOUT"])


def _in_order(values: list[int]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(values))


# --- 1. a bounded run through faults ---------------------------------------------------------

SESSIONS, ROUNDS, EVENTS = 30, 5, 40
EVENT_TYPE = "delivery_check"
RUN_BOUND = 90.0

#: 10 messages that can never succeed: 9 the relay refuses itself, 1 Talon.One refuses (400).
POISON: dict[str, list[Any]] = {
    SESSION_QUEUE: [
        "{not json",
        {"customerSessionId": "", "body": {}},
        {"customerSessionId": "dlv-poison", "body": {"total": "lots"}},
        {"customerSessionId": "dlv-poison", "sessionId": "dlv-poison", "body": {}},
        {"customerSessionId": "dlv-poison", "body": {"state": "bogus"}},
    ],
    EVENT_QUEUE: [
        {"body": {"sessionId": "dlv-poison", "type": "x"}},
        {"body": {"type": "x", "attributes": {}}},
        [1, 2, 3],
        {"body": {"sessionId": "dlv-poison", "type": "x", "attributes": {}}, "idempotencyKey": 7},
        {"body": {"sessionId": "dlv-poison", "type": "talon_reserved", "attributes": {}}},
    ],
}
REFUSED_BY_TALON_ONE = json.dumps(POISON[EVENT_QUEUE][-1])


def _session_updates() -> list[dict[str, Any]]:
    """150 updates, 5 per session, interleaved across 30 sessions; update n sets attributes {"seq": n}."""
    return [
        {
            "customerSessionId": f"dlv-s{session}",
            "body": {"profileId": f"dlv-p{session}", "attributes": {"seq": round_ * SESSIONS + session}},
        }
        for round_ in range(ROUNDS)
        for session in range(SESSIONS)
    ]


def _events(run: str) -> list[dict[str, Any]]:
    """40 events, each with its own idempotencyKey and marker attributes {"n": n}."""
    return [
        {
            "body": {"sessionId": f"dlv-e{n}", "type": EVENT_TYPE, "attributes": {"n": n}},
            "idempotencyKey": f"{run}-event-{n}",
        }
        for n in range(EVENTS)
    ]


def _mixed(good: list[Any], poison: list[Any]) -> list[Any]:
    """The good messages with the poison spread among them."""
    out, step = list(good), len(good) // (len(poison) + 1)
    for index, message in enumerate(poison, start=1):
        out.insert(index * step + index - 1, message)
    return out


def _inject_faults(stack: LocalStack) -> int:
    """Faults for session updates (PUT, retried in-process) and events (POST, retried by SQS only).

    PUT: 503s, 409s, answers delayed past the read timeout after Talon.One processed the request
    (`after`: the state changes, the answer comes too late, the relay sends it again, which a PUT
    allows), a dropped connection. 8 in all: a message fails a receive only when all its ATTEMPTS
    attempts meet a fault, so at most 2 receives fail in the whole run and no good message reaches
    MaxReceiveCount (3), even counting the group members handed back with it.
    POST: only faults that act before Talon.One processes the request (a lost answer to a processed
    POST may be sent again: Talon.One v1 has no idempotency of its own, docs/api.md "Guarantees and security"). 3 in
    all, met by the first event requests, which are distinct messages: each fails one receive.
    """
    emu = stack.emulator
    faults = [
        emu.inject_fault(status=503, count=3, path=SESSIONS_PATH, method="PUT"),
        emu.inject_fault(delay=READ_TIMEOUT * 2, after=True, path=SESSIONS_PATH, method="PUT"),
        emu.inject_fault(status=409, count=2, path=SESSIONS_PATH, method="PUT"),
        emu.inject_fault(drop=True, path=SESSIONS_PATH, method="PUT"),
        emu.inject_fault(delay=READ_TIMEOUT * 2, after=True, path=SESSIONS_PATH, method="PUT"),
        emu.inject_fault(status=503, path=EVENTS_PATH, method="POST"),
        emu.inject_fault(status=409, path=EVENTS_PATH, method="POST"),
        emu.inject_fault(drop=True, path=EVENTS_PATH, method="POST"),
    ]
    return sum(int(fault["remaining"]) for fault in faults)


def test_fault_run_delivers_every_message_once_or_dead_letters_it(
    stack: LocalStack, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Talon.One will answer 503 and 409, answer after the relay's read timeout, and drop connections
    injected = _inject_faults(stack)
    updates, events = _session_updates(), _events(uuid.uuid4().hex)
    sent = {
        SESSION_QUEUE: _mixed(updates, POISON[SESSION_QUEUE]),
        EVENT_QUEUE: _mixed(events, POISON[EVENT_QUEUE]),
    }
    assert sum(map(len, sent.values())) == 200
    started = time.monotonic()

    # When 150 session updates (30 sessions), 40 events and 10 poison messages are queued at once,
    # each session's updates in one FIFO group, each message with its own deduplication id
    for queue, messages in sent.items():
        queues.send_batch(queue, messages, operation=OPERATION_OF[queue])

    # Then, within the bound, both queues drain: nothing visible, nothing in flight
    queues.wait_empty(SESSION_QUEUE, EVENT_QUEUE, timeout=RUN_BOUND)
    elapsed = time.monotonic() - started
    log = talon_requests(stack)
    state = stack.emulator.state()

    # and every event was recorded by Talon.One exactly once, and answered 201 exactly once
    recorded = Counter(e["attributes"]["n"] for e in state["events"] if e["type"] == EVENT_TYPE)
    assert recorded == Counter(range(EVENTS))
    answered = Counter(
        r["body"]["attributes"]["n"]
        for r in log
        if r["path"] == EVENTS_PATH and r["status"] == 201 and r["body"]["type"] == EVENT_TYPE
    )
    assert answered == Counter(range(EVENTS))

    # and every session update was answered once with success; a request Talon.One processed but
    # answered too late (an `after` fault) is the only kind applied a second time, by the relay's retry
    processed: dict[str, list[int]] = defaultdict(list)
    answered_updates: Counter[int] = Counter()
    late: Counter[int] = Counter()
    for r in log:
        if not r["path"].startswith(SESSIONS_PATH) or r["status"] != 200:
            continue
        seq = r["body"]["attributes"]["seq"]
        processed[r["params"]["customerSessionId"]].append(seq)
        if r["fault"] is None:
            answered_updates[seq] += 1
        else:
            assert r["fault"].get("after"), r
            late[seq] += 1
    assert answered_updates == Counter(range(SESSIONS * ROUNDS))
    # and each session's updates reached Talon.One in the order sent, and its final attributes are
    # those of its last update
    for session in range(SESSIONS):
        sid, expected = f"dlv-s{session}", [r * SESSIONS + session for r in range(ROUNDS)]
        assert _in_order(processed[sid]) and sorted(set(processed[sid])) == expected, (sid, processed[sid])
        assert state["sessions"][sid]["attributes"] == {"seq": expected[-1]}, sid

    # and every fault was met, each kind at least once
    assert stack.emulator.faults() == []
    faulted = [r for r in log if r["fault"] is not None]
    assert len(faulted) == injected
    assert {r["status"] for r in faulted} >= {503, 409, 200}  # 200: processed, answered late
    assert sum(1 for r in faulted if r["dropped"]) == 2

    # and each poison message sits in its DLQ with its reason, and nothing else is in any DLQ
    letters = {queue: queues.take_all(queue) for queue in dead_letter_queues(stack)}
    for queue, poison in POISON.items():
        dlq = queue.replace("Queue", "DeadLetterQueue")
        bodies = [p if isinstance(p, str) else json.dumps(p) for p in poison]
        assert sorted(m["Body"] for m in letters[dlq]) == sorted(bodies), dlq
        for letter in letters[dlq]:
            assert attribute(letter, "failureReason"), letter
            status = attribute(letter, "talonStatus")
            assert status == ("400" if letter["Body"] == REFUSED_BY_TALON_ONE else None), letter
    dead = sum(map(len, letters.values()))
    assert dead == len(POISON[SESSION_QUEUE]) + len(POISON[EVENT_QUEUE])

    # Print the run's counts
    distinct = {(r["method"], r["path"], json.dumps(r["body"], sort_keys=True)) for r in log}
    counts = {
        "sent": sum(map(len, sent.values())),
        "delivered (session updates, events)": (len(answered_updates), len(recorded)),
        "dead-lettered": dead,
        "Talon.One requests": len(log),
        "retries seen (requests beyond one per message)": len(log) - len(distinct),
        "faults hit": len(faulted),
        "updates applied twice (answer lost after processing)": sum(late.values()),
        "SQS invocations": sum(1 for _, trigger in stack.gateway.invocations if trigger == "sqs"),
        "seconds": round(elapsed, 1),
    }
    with capsys.disabled():  # shown in every run, not only when the test fails
        print("\ndelivery fault run:", json.dumps(counts))


# --- 2. order and isolation through the queue -------------------------------------------------

ISOLATED = ["iso-a", "iso-b", "iso-c", "iso-d", "iso-e"]
STEPS = 4


def test_failing_session_waits_alone_and_every_session_keeps_its_order(
    stack: LocalStack, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 5 sessions with 4 updates each, interleaved, and Talon.One answering 503 to the first
    # session's first update as often as the relay tries in one invocation (retries exhausted once)
    stuck = ISOLATED[0]
    stack.emulator.inject_fault(status=503, count=ATTEMPTS, path=SESSIONS_PATH + stuck, method="PUT")
    batches = record_invocations(monkeypatch, stack, "UpdateCustomerSessionV2Function")  # the queue's consumer
    messages = [
        {"customerSessionId": session, "body": {"profileId": f"{session}-p", "attributes": {"step": step}}}
        for step in range(STEPS)
        for session in ISOLATED
    ]

    # When all 20 are queued at once
    ids = queues.send_batch(SESSION_QUEUE, messages, operation="updateCustomerSession")
    queues.wait_empty(SESSION_QUEUE, timeout=30)
    log = talon_requests(stack)

    def steps(session: str, status: int) -> list[int]:
        return [
            r["body"]["attributes"]["step"]
            for r in log
            if r["path"] == SESSIONS_PATH + session and r["status"] == status
        ]

    # Then every session's updates reached Talon.One once each, in the order they were sent
    for session in ISOLATED:
        assert steps(session, 200) == list(range(STEPS)), session
    # and the stuck session's first update failed every attempt of one invocation, and none of its
    # later updates was tried before that one went through
    stuck_log = [r for r in log if r["path"] == SESSIONS_PATH + stuck]
    assert [r["status"] for r in stuck_log] == [503] * ATTEMPTS + [200] * STEPS
    assert [r["body"]["attributes"]["step"] for r in stuck_log] == [0] * ATTEMPTS + list(range(STEPS))
    # and the other sessions completed while it waited for its retry: all their updates reached
    # Talon.One before the stuck session's retried first update did
    retried = stuck_log[ATTEMPTS]["id"]
    assert max(r["id"] for r in log if r["path"] != SESSIONS_PATH + stuck) < retried

    # and the failure stopped its group only: in the invocation where it failed, only the stuck
    # session's records were handed back, and records of other sessions in it went through
    group = {record["messageId"]: record["attributes"]["MessageGroupId"] for b in batches for record in b.records}
    failing = [b for b in batches if b.failed]
    assert failing, "the stuck session's update never failed an invocation"
    for batch in failing:
        assert {group[message_id] for message_id in batch.failed} == {stuck}
    # and different sessions were processed in the same invocation (their groups run side by side)
    shared = [{group[r["messageId"]] for r in b.records if r["messageId"] not in b.failed} for b in batches]
    assert max(len(sessions) for sessions in shared) >= 2, shared
    # and the stuck update came back in a later batch, received a second time; nothing was dead-lettered
    redelivered = [r for b in batches for r in b.records if r["messageId"] == ids[0] and r["messageId"] not in b.failed]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in redelivered] == ["2"]
    for dlq in dead_letter_queues(stack):
        assert queues.depth(dlq) == 0, dlq


# --- 3. retries after a lost answer -----------------------------------------------------------

#: The relay waits this long for Talon.One in these tests, the sender only SENDER_TIMEOUT, and Talon.One
#: answers after ANSWER_DELAY: the sender gives up, the relay still gets the answer.
RELAY_READ_TIMEOUT, ANSWER_DELAY, SENDER_TIMEOUT = 5.0, 1.0, 0.3

WEBHOOKS = [
    (
        "UpdateCustomerSessionFunction",
        "PUT",
        SESSIONS_PATH + "lost-answer",
        {"profileId": "p-lost", "attributes": {"try": 1}},
        200,
    ),
    (
        "TrackEventFunction",
        "POST",
        EVENTS_PATH,
        {"sessionId": "lost-answer", "type": "lost_answer", "attributes": {"try": 1}},
        201,
    ),
]


@pytest.mark.parametrize(
    ("function", "method", "path", "body", "status"), WEBHOOKS, ids=["updateCustomerSession", "trackEvent"]
)
def test_sender_retry_after_its_timeout_gets_the_first_answer_and_talon_one_one_call(
    stack: LocalStack,
    http: Http,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
) -> None:
    # Given the relay waits up to 5 s for Talon.One, and Talon.One processes the request at once but
    # answers only after 1 s
    assert SENDER_TIMEOUT < ANSWER_DELAY < RELAY_READ_TIMEOUT
    monkeypatch.setitem(stack.gateway.functions[function].environment, "TALON_READ_TIMEOUT", str(RELAY_READ_TIMEOUT))
    stack.emulator.inject_fault(delay=ANSWER_DELAY, after=True, path=path, method=method)
    calls = record_invocations(monkeypatch, stack, function)
    key = {"Idempotency-Key": f"lost-{uuid.uuid4().hex}"}

    # When a webhook sender that waits only 0.3 s sends the request with an Idempotency-Key, gives up,
    first = relay_within(http, SENDER_TIMEOUT, method, path, body, key)
    assert first is None, "the sender should have given up before the answer came"
    # and sends it again with the same key until the relay no longer says "in progress"
    retry, in_progress = until_not_in_progress(lambda: http.relay(method, path, body, key), timeout=15)

    # Then the relay got Talon.One's answer to the first call, and the retry gets that same answer
    assert len(calls) == 1 + in_progress + 1, calls
    # (the gateway runs invocations concurrently, as Lambda does: the "in progress" answers to the retries
    # may complete before the first call has its answer; the first non-409 is the first call's)
    original = next(call.result for call in calls if call.result["statusCode"] != 409)
    assert original["statusCode"] == status, original
    assert retry.status == status, retry.json
    assert retry.data.decode() == original["body"]
    # and Talon.One saw exactly one request (the delayed one), and recorded it once
    (request,) = talon_requests(stack)
    assert (request["method"], request["path"], request["status"]) == (method, path, status)
    assert request["fault"] is not None and request["fault"]["after"]
    recorded = [e for e in stack.emulator.state()["events"] if e["sessionId"] == "lost-answer"]
    assert len(recorded) == 1


def test_same_queued_message_delivered_twice_reaches_talon_one_once(
    stack: LocalStack, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an event a producer queued twice (a retry after a lost SendMessage answer): the same body
    # and idempotencyKey, different deduplication ids, so SQS keeps both
    message = {
        "body": {"sessionId": "twice", "type": "sent_twice", "attributes": {"n": 1}},
        "idempotencyKey": f"twice-{uuid.uuid4().hex}",
    }
    batches = record_invocations(monkeypatch, stack, "TrackEventFunction")

    # When both copies are queued
    ids = [queues.send(EVENT_QUEUE, message), queues.send(EVENT_QUEUE, message)]

    # Then both were handed to the function and left the queue, neither as a failure nor a dead letter
    queues.wait_empty(EVENT_QUEUE, timeout=15)
    assert ids[0] != ids[1]
    handled = [r["messageId"] for b in batches for r in b.records if r["messageId"] not in b.failed]
    assert sorted(handled) == sorted(ids)
    assert queues.depth("TrackEventDeadLetterQueue") == 0
    # and Talon.One got one request, and recorded one event
    assert [(r["method"], r["status"]) for r in talon_requests(stack)] == [("POST", 201)]
    assert [e["type"] for e in stack.emulator.state()["events"]] == ["sent_twice"]


# --- the local SQS itself ---------------------------------------------------------------------


def test_local_sqs_gives_a_failed_fifo_group_back_in_order(stack: LocalStack, queues: Queues) -> None:
    # Given a FIFO queue of the local AWS (1 s visibility timeout) with 3 messages of one group
    name = f"order-{uuid.uuid4().hex[:12]}.fifo"
    url = queues.sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "VisibilityTimeout": "1"})[
        "QueueUrl"
    ]
    try:
        for n in range(3):
            queues.sqs.send_message(
                QueueUrl=url, MessageBody=f"m{n}", MessageGroupId="g", MessageDeduplicationId=str(n)
            )

        # When a consumer receives all three and fails them (deletes none), then receives again
        first = queues.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in first] == ["m0", "m1", "m2"]
        again = wait_until(
            lambda: queues.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"),
            timeout=10,
            what="the failed messages to come back",
        )

        # Then they come back from the first one, as SQS gives a message group back in order
        assert again[0]["Body"] == "m0", [m["Body"] for m in again]
    finally:
        queues.sqs.delete_queue(QueueUrl=url)
