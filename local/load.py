"""`make load`: the load and outage run. Bounded, loopback only, on its own local stack.

About 2,000 requests and messages go through the relay while Talon.One (the emulator) first answers,
then rate-limits (429 with Retry-After) for a while, then is down (503) for a while, then comes back:

- queued session updates (FIFO, one group per session) and profile updates, each carrying `seq` in
  its attributes (1, 2, ...), sent in order while the faults come and go;
- synchronous API requests (session updates of other sessions), each retried by its sender until it
  gets a 2xx, as a webhook sender would;
- a few sessions whose first update Talon.One refuses for good (400, a fault fixed later): dead-lettered
  at once with their place in the order; once everything else is delivered they are redriven, and are
  superseded (their session has applied newer updates since), never applied over them.

It prints what was sent, delivered, superseded and dead-lettered (none because of the outage), the peak
of requests Talon.One served at once against the relay's configured budget, and p50/p99 of the API
answers and of queued delivery (sent to applied), and exits 1 if a check fails: a message lost, one
dead-lettered by the outage, a session or profile not at its latest update, or Talon.One above budget.

    python -m local.load [--sessions 80 --updates 15 --profiles 40 --profile-updates 10 ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import urllib3

from local.aws import local_client
from local.redrive import redrive
from local.stack import LocalStack
from talon_relay.core import retry_delays as backoff

SESSION_FUNCTION = "UpdateCustomerSessionFunction"
#: the sessions queue's consumer (every queued change of a session, whichever operation carries it)
SESSIONS_CONSUMER = "UpdateCustomerSessionV2Function"
PROFILE_FUNCTION = "UpdateCustomerProfileFunction"
#: what each queued message of the run names as its operation (the relayOperation attribute)
OPERATION_OF = {"session": "updateCustomerSession", "profile": "updateCustomerProfile"}
LAST_RECEIVE = "still failing on its last receive"


@dataclass(frozen=True)
class Plan:
    """What the run sends, when Talon.One fails, and the relay's budget and retry settings."""

    sessions: int = 80
    updates: int = 15  # queued updates per session
    profiles: int = 40
    profile_updates: int = 10  # queued updates per profile
    api_sessions: int = 40
    api_updates: int = 10  # synchronous API updates per API session
    api_clients: int = 8
    poison: int = 5  # sessions whose first update Talon.One refuses once, for good
    send_seconds: float = 16.0  # queued messages are sent over this long
    throttle_after: float = 3.0
    throttle_seconds: float = 4.0
    retry_after: int = 2
    outage_after: float = 8.0
    outage_seconds: float = 10.0
    queue_max_concurrency: int = 2
    batch_concurrency: int = 3
    reserved_concurrency: int = 6  # containers per function: its 2 pollers and 4 for API requests
    visibility_timeout: int = 30  # a message whose invocation died comes back after this
    retry_base: int = 1  # a failed message comes back after 1 s, doubling to 4 s
    retry_max: int = 4
    horizon_seconds: float = 60.0  # outage the receives cover (longer than the faults last)
    latency_ms: float = 50.0  # Talon.One's own answer time (the emulator waits this long for each request)
    timeout: float = 240.0

    @property
    def queued(self) -> int:
        return self.sessions * self.updates + self.profiles * self.profile_updates

    @property
    def api_requests(self) -> int:
        return self.api_sessions * self.api_updates

    @property
    def max_receive_count(self) -> int:
        return backoff.receives_for(self.horizon_seconds, base=self.retry_base, cap=self.retry_max)


@dataclass
class Figures:
    sent: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    superseded: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    not_latest: int = 0
    api_answers: dict[str, int] = field(default_factory=dict)
    api_latency_ms: dict[str, float] = field(default_factory=dict)
    delivery_latency_ms: dict[str, float] = field(default_factory=dict)
    talon_one: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def failures(self) -> list[str]:
        found = []
        if self.lost:
            found.append(f"{self.lost} message(s) lost")
        if self.dead_lettered.get("outage"):
            found.append(f"{self.dead_lettered['outage']} dead-lettered because of the outage")
        if self.not_latest:
            found.append(f"{self.not_latest} session(s) or profile(s) not at their latest update")
        if self.talon_one.get("peak", 0) > self.talon_one.get("budget", 0):
            found.append(f"Talon.One peak {self.talon_one['peak']} above the budget {self.talon_one['budget']}")
        return found


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": round(cut[49], 1), "p99": round(cut[98], 1), "max": round(ordered[-1], 1)}


class Tally(logging.Handler):
    """Counts the relay's own log records by message: superseded updates, dead letters."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.superseded = 0
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("superseded"):
            with self._lock:
                self.superseded += 1


def _session_message(session: str, seq: int) -> dict[str, Any]:
    return {"customerSessionId": session, "body": {"profileId": f"owner-{session}", "attributes": {"seq": seq}}}


def _profile_message(profile: str, seq: int) -> dict[str, Any]:
    return {"integrationId": profile, "body": {"attributes": {"seq": seq}}}


class Run:
    def __init__(self, stack: LocalStack, plan: Plan) -> None:
        self.stack = stack
        self.plan = plan
        self.sqs = local_client("sqs", stack.aws.endpoint)
        self.sent_at: dict[tuple[str, str, int], float] = {}
        self.api_latencies: list[float] = []
        self.api_statuses: dict[str, int] = {}
        self._lock = threading.Lock()
        self.sessions = [f"load-s-{i:03d}" for i in range(plan.sessions)]
        self.profiles = [f"load-p-{i:03d}" for i in range(plan.profiles)]
        self.poisoned = self.sessions[: plan.poison]
        self.done = threading.Event()

    # --- sending ---------------------------------------------------------------------------------

    def send_queued(self) -> None:
        """Every queued update, in seq order per session and profile, spread over send_seconds."""
        plan = self.plan
        batches: list[tuple[str, list[tuple[str, str, int, dict[str, Any]]]]] = []
        for seq in range(1, max(plan.updates, plan.profile_updates) + 1):
            sessions = [("session", s, seq, _session_message(s, seq)) for s in self.sessions if seq <= plan.updates]
            profiles = [
                ("profile", p, seq, _profile_message(p, seq)) for p in self.profiles if seq <= plan.profile_updates
            ]
            for queue, entries in (("SessionsQueue", sessions), ("UpdateCustomerProfileQueue", profiles)):
                batches += [(queue, entries[start : start + 10]) for start in range(0, len(entries), 10)]
        pause = plan.send_seconds / max(len(batches), 1)
        for queue, chunk in batches:
            now = time.time()
            result = self.sqs.send_message_batch(
                QueueUrl=self.stack.queue_url(queue),
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": json.dumps(message),
                        "MessageGroupId": key,
                        "MessageDeduplicationId": f"{key}-{seq}",
                        # the sessions queue carries every change of a session: each message names its operation
                        "MessageAttributes": {
                            "relayOperation": {"DataType": "String", "StringValue": OPERATION_OF[kind]}
                        },
                    }
                    for index, (kind, key, seq, message) in enumerate(chunk)
                ],
            )
            if result.get("Failed"):
                raise RuntimeError(f"SQS refused messages: {result['Failed']}")
            with self._lock:
                for kind, key, seq, _ in chunk:
                    self.sent_at[(kind, key, seq)] = now
            time.sleep(pause)

    def api_client(self, sessions: list[str]) -> None:
        """Synchronous updates of `sessions`, in seq order, each resent until Talon.One took it (2xx)."""
        pool = urllib3.PoolManager(maxsize=1, retries=False)
        deadline = time.monotonic() + self.plan.timeout
        try:
            for seq in range(1, self.plan.api_updates + 1):
                for session in sessions:
                    body = json.dumps({"profileId": f"owner-{session}", "attributes": {"seq": seq}}).encode()
                    while time.monotonic() < deadline:
                        started, sent = time.monotonic(), time.time()
                        response = pool.request(
                            "PUT",
                            f"{self.stack.api_url}/v1/customer_sessions/{session}",
                            body=body,
                            headers={"Content-Type": "application/json", "x-api-key": self.stack.gateway.api_key},
                            timeout=urllib3.Timeout(connect=2, read=30),
                        )
                        elapsed = (time.monotonic() - started) * 1000
                        with self._lock:
                            self.api_latencies.append(elapsed)
                            self.api_statuses[str(response.status)] = self.api_statuses.get(str(response.status), 0) + 1
                        if response.status < 300:
                            with self._lock:
                                self.sent_at.setdefault(("api", session, seq), sent)
                            break
                        retry_after = float(response.headers.get("Retry-After") or 0.5)
                        time.sleep(min(max(retry_after, 0.2), 2.0))
        finally:
            pool.clear()

    def faults(self) -> None:
        """Talon.One's afternoon: fine, then rate limiting with Retry-After, then down, then back."""
        plan = self.plan
        if self.done.wait(plan.throttle_after):
            return
        self.stack.emulator.inject_fault(
            status=429, headers={"Retry-After": str(plan.retry_after)}, seconds=plan.throttle_seconds, path="/v1/"
        )
        if self.done.wait(max(plan.outage_after - plan.throttle_after, 0)):
            return
        self.stack.emulator.inject_fault(status=503, seconds=plan.outage_seconds, path="/v1/")

    # --- waiting and checking ----------------------------------------------------------------------

    def depth(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.stack.queue_url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def wait_empty(self, queues: list[str], deadline: float) -> None:
        while any(self.depth(queue) for queue in queues):
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues not empty in time: {[(q, self.depth(q)) for q in queues]}")
            time.sleep(0.5)

    def dead_letters(self, queue: str) -> list[dict[str, Any]]:
        """What the DLQ holds (left in it: received with a zero visibility timeout)."""
        found: dict[str, dict[str, Any]] = {}
        for _ in range(50):
            batch = self.sqs.receive_message(
                QueueUrl=self.stack.queue_url(queue),
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            new = [m for m in batch if m["MessageId"] not in found]
            if not new:
                break
            found.update({m["MessageId"]: m for m in new})
        return list(found.values())


def _applied(stack: LocalStack) -> dict[tuple[str, str, int], float]:
    """(kind, id, seq) -> when Talon.One first accepted it (the emulator's request log)."""
    applied: dict[tuple[str, str, int], float] = {}
    for request in stack.emulator.requests():
        status = request.get("status")
        if request["method"] != "PUT" or status is None or not 200 <= status < 300:
            continue
        parts = request["path"].split("/")
        seq = ((request.get("body") or {}).get("attributes") or {}).get("seq")
        if len(parts) != 4 or not isinstance(seq, int):
            continue
        key = parts[3]
        kind = "profile" if parts[2] == "customer_profiles" else ("api" if key.startswith("load-api-") else "session")
        at = datetime.fromisoformat(request["timestamp"].replace("Z", "+00:00")).timestamp()
        applied.setdefault((kind, key, seq), at)
    return applied


def run(plan: Plan, *, report: Callable[[str], None] = print) -> Figures:
    """Start a stack, run the plan against it, check and return the figures (the stack is stopped)."""
    werkzeug = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    stack = LocalStack.start(
        parameters={
            "QueueVisibilityTimeout": plan.visibility_timeout,
            "MaxReceiveCount": plan.max_receive_count,
            "QueueMaximumConcurrency": plan.queue_max_concurrency,
            "BatchConcurrency": plan.batch_concurrency,
            "ReservedConcurrency": plan.reserved_concurrency,
            "LogLevel": "INFO",
        },
        function_environment={
            "QUEUE_RETRY_BASE_SECONDS": str(plan.retry_base),
            "QUEUE_RETRY_MAX_SECONDS": str(plan.retry_max),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "TALON_READ_TIMEOUT": "5",
            "TALON_MAX_RETRIES": "2",
            "TALON_BACKOFF_FACTOR": "0.1",
        },
        schedules=False,
    )
    from talon_relay.observability import logger

    relay_log = logging.getLogger(logger.name)
    muted = [(handler, handler.level) for handler in relay_log.handlers]
    for handler, _ in muted:
        handler.setLevel(logging.CRITICAL + 1)  # thousands of retry warnings: counted, not printed
    tally = Tally()
    relay_log.addHandler(tally)
    began = time.monotonic()
    try:
        figures = _run(stack, plan, tally, report)
    finally:
        relay_log.removeHandler(tally)
        for handler, level in muted:
            handler.setLevel(level)
        stack.stop()
        werkzeug.setLevel(werkzeug_level)
    figures.seconds = round(time.monotonic() - began, 1)
    return figures


def _budget(stack: LocalStack, functions: list[str]) -> tuple[int, str]:
    """Talon.One calls the functions may make at once: each poller's batch concurrency, and one per
    other container (API requests)."""
    total, parts = 0, []
    for name in functions:
        function = stack.gateway.functions[name]
        pollers = stack.gateway.pollers[name]
        batch = int(function.environment["BATCH_CONCURRENCY"])
        share = pollers * batch + (function.concurrency - pollers)
        total += share
        parts.append(
            f"{name.removesuffix('Function')}: {pollers} pollers x {batch} + {function.concurrency - pollers} API"
        )
    return total, "; ".join(parts)


def _run(stack: LocalStack, plan: Plan, tally: Tally, report: Callable[[str], None]) -> Figures:
    work = Run(stack, plan)
    for session in work.poisoned:  # refused once, for good (400): dead-lettered at once, with its place
        stack.emulator.inject_fault(status=400, count=1, method="PUT", path=f"/v1/customer_sessions/{session}")
    stack.emulator.latency_ms = plan.latency_ms
    stack.emulator.reset_concurrency()
    deadline = time.monotonic() + plan.timeout
    api_sessions = [f"load-api-{i:03d}" for i in range(plan.api_sessions)]
    faults = threading.Thread(target=work.faults, name="load-faults", daemon=True)
    threads = [threading.Thread(target=work.send_queued, name="load-send")]
    threads += [
        threading.Thread(target=work.api_client, args=(api_sessions[i :: plan.api_clients],), name=f"load-api-{i}")
        for i in range(plan.api_clients)
    ]
    report(
        f"load run: {plan.queued} queued updates and {plan.api_requests} API requests; Talon.One rate limits "
        f"(429, Retry-After {plan.retry_after}) from {plan.throttle_after:.0f} s for {plan.throttle_seconds:.0f} s, "
        f"is down (503) from {plan.outage_after:.0f} s for {plan.outage_seconds:.0f} s"
    )
    faults.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 1))
    work_queues = ["SessionsQueue", "UpdateCustomerProfileQueue"]
    work.wait_empty(work_queues, deadline)
    work.done.set()
    faults.join(timeout=5)

    figures = Figures()
    letters = work.dead_letters("SessionsDeadLetterQueue") + work.dead_letters("UpdateCustomerProfileDeadLetterQueue")
    reasons = [
        str(((m.get("MessageAttributes") or {}).get("failureReason") or {}).get("StringValue") or "") for m in letters
    ]
    figures.dead_lettered = {
        "total": len(letters),
        "outage": sum(reason.startswith(LAST_RECEIVE) for reason in reasons),
        "refused (400)": sum(reason.startswith("Talon.One 400") for reason in reasons),
    }
    elapsed = time.monotonic() - deadline + plan.timeout
    report(f"  all delivered after {elapsed:.0f} s; redriving {len(letters)} dead letter(s)")
    moved = redrive(
        work.sqs,
        dlq_url=stack.queue_url("SessionsDeadLetterQueue"),
        queue_url=stack.queue_url("SessionsQueue"),
        wait_seconds=0,
    ).moved
    work.wait_empty(work_queues, deadline)
    time.sleep(0.5)  # the last invocation's log records

    applied = _applied(stack)
    expected = [key for key in work.sent_at if key[0] in ("session", "profile")]
    superseded_keys = {("session", session, 1) for session in work.poisoned}
    figures.sent = {"queued": plan.queued, "api": plan.api_requests, "total": plan.queued + plan.api_requests}
    figures.delivered = {
        "queued": sum(1 for key in expected if key in applied),
        "api": sum(1 for key in applied if key[0] == "api"),
        "redriven": moved,
    }
    figures.superseded = tally.superseded
    figures.lost = sum(1 for key in expected if key not in applied and key not in superseded_keys)
    figures.lost += max(plan.api_requests - figures.delivered["api"], 0)
    state = stack.emulator.state()
    latest = {("session", s): plan.updates for s in work.sessions} | {
        ("profile", p): plan.profile_updates for p in work.profiles
    }
    latest |= {("session", s): plan.api_updates for s in api_sessions}
    figures.not_latest = sum(
        1
        for (kind, key), seq in latest.items()
        if ((state["sessions" if kind == "session" else "profiles"].get(key) or {}).get("attributes") or {}).get("seq")
        != seq
    )
    figures.api_answers = dict(sorted(work.api_statuses.items()))
    figures.api_latency_ms = percentiles(work.api_latencies)
    figures.delivery_latency_ms = percentiles(
        [(applied[key] - work.sent_at[key]) * 1000 for key in expected if key in applied]
    )
    budget, detail = _budget(stack, [SESSION_FUNCTION, SESSIONS_CONSUMER, PROFILE_FUNCTION])
    figures.talon_one = {
        "requests": len(stack.emulator.requests()),
        "peak": stack.emulator.concurrency()["peak"],
        "budget": budget,
        "budget_detail": detail,
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.load", description=__doc__.split("\n\n")[0])
    defaults = Plan()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    plan = Plan(**{name: getattr(args, name) for name in asdict(defaults)})
    if plan.queued + plan.api_requests > 10_000:
        parser.error("a load run is bounded: at most 10,000 requests and messages")
    figures = run(plan)
    print(json.dumps(asdict(figures), indent=2))
    failures = figures.failures()
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
