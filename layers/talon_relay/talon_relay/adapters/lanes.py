"""One application's Talon.One never holds up another's messages in a shared SQS batch (docs/applications.md).

The queues, the batch threads and the invocation's time are shared by the applications of a deployment. In
a batch holding messages of several applications, each application is a lane:

- **threads**: a lane runs its FIFO groups (in order, one after the other) on at most its share of the
  batch threads (BATCH_CONCURRENCY split evenly, at least one each), each lane's first thread started
  before any lane's second; so a slow application's groups never take every thread.
- **time**: a lane may spend at most APPLICATION_BATCH_SECONDS of the invocation (`Share`: the Lambda
  context its records see ends there, so a call's budget ends there too); what it has not started by then
  is handed back at once, in order, and comes in the next batch. A Talon.One that answers, slowly, at
  the read timeout therefore delays the batch, and the others' next messages, by its share at most.
- **failures** (`Breaker`): after BREAKER_FAILURES of an application's calls in a row failed for
  Talon.One's reasons (5xx, 429, timeouts, a refused key) its other messages of the batch are not sent:
  they come back after their backoff (at least Talon.One's Retry-After), as if their call had failed.

A lane is the application a message claims (`relayApplication`; checked with its seal when processed,
this only schedules), else its group's prefix (`<shop domain>/...` for a webhook), else `default`. A
deployment of one application has one lane: nothing of this applies.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talon_relay.aws import queues
from talon_relay.config.applications import DEFAULT
from talon_relay.errors import RelayError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor

    from talon_relay.container import Container

#: A lane's calls failing in a row, for Talon.One's reasons, before its other messages of the batch wait.
BREAKER_FAILURES = 3

Group = list[dict[str, Any]]


def lane_of(record: dict[str, Any]) -> str:
    """The lane a record is scheduled in (its application as claimed, else its group's prefix)."""
    claimed = ((record.get("messageAttributes") or {}).get("relayApplication") or {}).get("stringValue")
    if claimed:
        return str(claimed)
    prefix, slash, _ = str((record.get("attributes") or {}).get("MessageGroupId") or "").partition("/")
    return prefix if slash and prefix else DEFAULT


def remaining(context: Any) -> float:
    """What is left of the invocation, in seconds (infinite without a Lambda context)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return float(getter()) / 1000 if getter is not None else float("inf")


class Share:
    """The Lambda context one lane's records see: its remaining time ends `seconds` after the batch began
    (or with the invocation, if sooner)."""

    #: why a record found too little time left (the SQS adapter logs it, and a dead letter says it)
    why_short = "its application's share of the batch (APPLICATION_BATCH_SECONDS) was spent"

    def __init__(self, context: Any, seconds: float) -> None:
        self._context = context
        #: the invocation's remaining time at which the share is spent
        self._spent_at = remaining(context) - seconds

    def get_remaining_time_in_millis(self) -> int:
        left = remaining(self._context)
        return max(int((left - max(self._spent_at, 0.0)) * 1000), 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class Paused(RelayError):
    """An application's Talon.One failed its last calls in this batch: this message is not sent now."""

    log_level = "info"

    def __init__(self, application: str, failures: int, retry_after: str | None) -> None:
        super().__init__(
            f"application {application!r}: its Talon.One failed {failures} calls in a row in this batch; "
            "not called again in it (the message comes back after its backoff)"
        )
        #: Talon.One's last Retry-After: the message waits at least as long
        self.retry_after = retry_after


@dataclass
class Breaker:
    """Each application's Talon.One failures in a row in one batch (one per batch: a batch starts closed)."""

    failures: dict[str, int] = field(default_factory=dict)
    retry_after: dict[str, str | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, application: str) -> None:
        """Raise Paused when `application`'s Talon.One failed BREAKER_FAILURES calls in a row."""
        failures = self.failures.get(application, 0)
        if failures >= BREAKER_FAILURES:
            raise Paused(application, failures, self.retry_after.get(application))

    def failed(self, application: str, retry_after: str | None) -> None:
        with self._lock:
            self.failures[application] = self.failures.get(application, 0) + 1
            self.retry_after[application] = retry_after

    def succeeded(self, application: str) -> None:
        with self._lock:
            self.failures[application] = 0


def run(
    groups: list[Group],
    run_group: Callable[[Group, Any], set[str]],
    *,
    context: Any,
    workers: int,
    pool: Callable[[], ThreadPoolExecutor],
    seconds: float,
    several: bool = True,
) -> set[str]:
    """Run a batch's groups lane by lane (module docstring); returns the failed message ids. `run_group`
    runs one group with the Lambda context its records see. Not `several` applications: one lane."""
    if len(groups) == 1:  # one group (a batch of one record, or of one FIFO group): one lane, this thread
        return run_group(groups[0], context)
    lanes: dict[str, deque[Group]] = {}
    for group in groups:
        lanes.setdefault(lane_of(group[0]) if several else DEFAULT, deque()).append(group)
    if len(lanes) <= 1:  # one application: every thread and all of the time are its own
        lanes = {DEFAULT: deque(groups)}
    shared = len(lanes) > 1
    share = max(1, workers // len(lanes))

    def drain(queue: deque[Group]) -> set[str]:
        # the share is counted from when the lane's thread starts (a lane may wait for a free thread)
        lane_context = Share(context, seconds) if shared else context
        failed: set[str] = set()
        while True:
            try:
                group = queue.popleft()  # thread-safe: the lane's threads take its groups in turn
            except IndexError:
                return failed
            failed |= run_group(group, lane_context)

    plan = [(queue, min(share, len(queue))) for queue in lanes.values()]
    if workers == 1 or len(groups) <= 1:
        return set().union(*(drain(queue) for queue, _ in plan))
    executor = pool()
    futures = [
        # each thread in a copy of the invocation's context (its logger keys); the lanes' first threads first
        executor.submit(contextvars.copy_context().run, drain, queue)
        for turn in range(share)
        for queue, threads in plan
        if turn < threads
    ]
    return set().union(*(future.result() for future in futures))


def groups(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Records by FIFO message group, in arrival order; on a standard queue each record alone."""
    if len(records) == 1:  # one record (a batch of one): its own group
        return [records]
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        group = (record.get("attributes") or {}).get("MessageGroupId") or f"record:{record.get('messageId')}"
        groups.setdefault(group, []).append(record)
    return list(groups.values())


def wait_with_the_head(
    container: Container, group: list[dict[str, Any]], failed: list[str], seconds: int, queue_url: str | None
) -> None:
    """The messages of a FIFO group behind its failed head (skipped, to keep the order) wait as long as it:
    SQS serves none of a group while one of its messages is in flight, so the group comes back together
    after the head's backoff, not after the queue's visibility timeout."""
    skipped = set(failed[1:])
    for record in group:
        if record["messageId"] in skipped and queue_url:
            queues.change_visibility(container, queue_url, record["receiptHandle"], seconds)


def processor(container: Container, fifo: bool) -> BatchProcessor:
    """Powertools' processor of a group, made once per container and batch thread, as Powertools documents
    it (made outside the handler; each `with` starts it afresh): it holds one batch's records while it runs,
    so two threads never share one. Without the Lambda context (the record handler holds it): given one,
    Powertools inspects the handler's signature on every batch."""

    def make() -> BatchProcessor:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor

        made = SqsFifoPartialProcessor() if fifo else BatchProcessor(event_type=EventType.SQS)
        made.raise_on_entire_batch_failure = False
        return made

    return container.once(f"batch-processor:{'fifo' if fifo else 'standard'}:{threading.get_ident()}", make)
