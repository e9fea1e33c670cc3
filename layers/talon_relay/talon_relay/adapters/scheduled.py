"""Schedule adapter: the off-peak erasure run drains the erasure queue, or erases the ids it is given.

A 404 counts as done (the customer is already gone). A queued erasure that can never succeed goes to
the DLQ with its reason; one that failed for a passing reason waits for the next run.

Erasures run concurrently, ERASURE_CONCURRENCY at a time (the run's share of the Talon.One budget):
one thread receives batches of ten while the others erase, and no more than twice that many received
messages wait at once, so none outlives its visibility timeout waiting. The run goes on until the queue
is empty or its invocation's time runs low (its function's timeout is the run's, ErasureRunTimeout: up
to 15 minutes, while API requests to the same function keep their own deadline).
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay import telemetry
from talon_relay.aws import queues
from talon_relay.callers import applications
from talon_relay.core import messages, service
from talon_relay.core.request import Request, parse_request
from talon_relay.errors import (
    ConfigurationError,
    ErasureIncomplete,
    InvalidRequest,
    RelayError,
    SettingsError,
    Unauthenticated,
)
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.talon.errors import TalonOneError

if TYPE_CHECKING:
    from talon_relay.container import Container

#: The schedule stops taking new messages when less than this is left of the invocation.
DRAIN_RESERVE_SECONDS = 5.0
#: Seconds past the run's end a message it received stays hidden (what failed is the next run's to try).
HIDE_PAST_RUN_SECONDS = 60


@dataclass
class DrainSummary:
    requested: int = 0
    deleted: int = 0
    not_found: int = 0
    failed: int = 0
    dead_lettered: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def merge(self, other: DrainSummary) -> None:
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)


class _Runner:
    """Runs erasures on a pool of threads, each in a copy of the invocation's context, merging their
    summaries; `submit` blocks while `limit` are in flight. The first error no disposition caught is kept
    until `wait` raises it, whenever its erasure ended (a finished one is no longer waited for)."""

    def __init__(self, workers: int, limit: int, summary: DrainSummary) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="erasure")
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._summary = summary
        self._error: BaseException | None = None
        self.pending: set[Future[None]] = set()

    def submit(self, task: Callable[[DrainSummary], None]) -> None:
        self._slots.acquire()

        def run() -> None:
            own = DrainSummary()
            try:
                task(own)
            except BaseException as exc:
                with self._lock:
                    self._error = self._error or exc
                raise
            finally:
                with self._lock:
                    self._summary.merge(own)
                self._slots.release()

        future = self._pool.submit(contextvars.copy_context().run, run)
        self.pending = {f for f in self.pending if not f.done()} | {future}

    def wait(self) -> None:
        wait(self.pending)
        self.pending = set()
        if self._error is not None:  # an error no disposition caught ends the run, as it did before
            raise self._error

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _delete_one(container: Container, request: Request, context: Any, summary: DrainSummary) -> RelayError | None:
    """Delete one customer's data; None when done (deleted, or already gone), else the failure."""
    summary.requested += 1
    try:
        service.execute(container, request, context=context, correlation_id=None)
    except TalonOneError as exc:
        if exc.status == 404:
            summary.not_found += 1
            container.counts.add(telemetry.ERASED)
            return None
        logger.warning("deletion failed", extra={"status": exc.status, "reason": exc.message})
        return exc
    except ConfigurationError:
        raise  # the relay cannot erase anything: the run fails (and is retried by the scheduler)
    except RelayError as exc:
        logger.warning("deletion failed", extra={"reason": exc.reason})
        return exc
    except Exception as exc:  # unforeseen: this erasure waits for the next run, the others go on
        logger.exception("deletion failed unexpectedly", extra={"reason": type(exc).__name__})
        return ErasureIncomplete(f"unexpected {type(exc).__name__}")
    summary.deleted += 1
    container.counts.add(telemetry.ERASED)
    return None


def handle(container: Container, operation: Operation, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delete the ids given in the input, or drain the erasure queue until empty or out of time."""
    summary = DrainSummary()
    ids = event.get("integrationIds")
    pairs: list[tuple[str, str]] = []
    started = 0
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            logger.error("invalid schedule input", extra={"reason": "integrationIds must be a list of strings"})
            raise ValueError("invalid schedule input: integrationIds must be a list of strings")
        apps = _applications_of(container, event)
        concurrency = container.settings().erasure_concurrency
        runner = _Runner(concurrency, 2 * concurrency, summary)
        # (id, application) pairs, each erased once; none started with less than the reserve left (a Lambda
        # timeout would cut one mid-call, and the run's report with it): those are the next run's
        pairs = [(integration_id, app) for integration_id in ids for app in apps]
        try:
            for integration_id, app in pairs:  # each id erased in every application named (default: all)
                if service.remaining_seconds(context) <= DRAIN_RESERVE_SECONDS:
                    break
                runner.submit(functools.partial(_erase_id, container, operation, integration_id, context, app))
                started += 1
            runner.wait()
        finally:
            runner.close()
    else:
        _drain(container, operation, context, summary)
    untried = len(pairs) - started if ids is not None else 0
    logger.info("erasure run finished", extra={**summary.as_dict(), **({"not_attempted": untried} if untried else {})})
    if untried:
        raise ErasureIncomplete(f"{untried} of {len(pairs)} erasures not attempted (the run's time ran out)")
    if ids is not None and summary.failed:
        raise ErasureIncomplete(f"{summary.failed} of {summary.requested} erasures failed: {summary.as_dict()}")
    return summary.as_dict()


def _applications_of(container: Container, event: dict[str, Any]) -> list[str]:
    """The applications a run's `integrationIds` are erased in: its `applications`, else every one."""
    known = container.applications().by_name
    named = event.get("applications", list(known))
    if not isinstance(named, list) or not named or not all(isinstance(n, str) and n in known for n in named):
        reason = f"applications must be a non-empty list of this deployment's applications ({', '.join(known)})"
        logger.error("invalid schedule input", extra={"reason": reason})
        raise ValueError(f"invalid schedule input: {reason}")
    return list(named)


def _erase_id(
    container: Container,
    operation: Operation,
    integration_id: str,
    context: Any,
    application: str,
    summary: DrainSummary,
) -> None:
    """One id of the run's input, erased in `application` (or counted as failed)."""
    try:
        request = parse_request(operation, {operation.path_params[0]: integration_id}, None, application=application)
    except InvalidRequest as exc:
        summary.requested += 1
        summary.failed += 1
        logger.error("invalid integrationId", extra={"reason": exc.reason})
        return
    if _delete_one(container, request, context, summary) is not None:
        summary.failed += 1


def _drain(container: Container, operation: Operation, context: Any, summary: DrainSummary) -> None:
    cfg = container.settings()
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set to drain the erasure queue")
    queue_url = cfg.queue_url
    started = time.monotonic()
    tried: set[str] = set()  # (a standard queue may deliver a copy twice: it is tried once a run)
    left: list[str] = []  # receipt handles of what failed: visible again once the run is over
    runner = _Runner(cfg.erasure_concurrency, 2 * cfg.erasure_concurrency, summary)
    try:
        while (remaining := service.remaining_seconds(context)) > DRAIN_RESERVE_SECONDS:
            # Hidden until this run is over, whatever the queue's visibility timeout (and for a minute more,
            # should the run be cut short): each message is received once a run, and one that fails waits for
            # the next run (ErasureMaxReceiveCount runs, not receives).
            hide = None if remaining == float("inf") else min(int(remaining) + HIDE_PAST_RUN_SECONDS, 43_200)
            received = queues.receive(container, queue_url, hide_seconds=hide)
            fresh = [message for message in received if message["MessageId"] not in tried]
            if not fresh:
                break  # nothing (new) is visible: what is in flight finishes below
            for message in fresh:
                tried.add(message["MessageId"])
                runner.submit(
                    functools.partial(
                        _drain_one,
                        container,
                        operation,
                        message,
                        context,
                        queue_url=queue_url,
                        dead_letter_queue_url=cfg.dead_letter_queue_url,
                        left=left,
                    )
                )
        runner.wait()
        for receipt_handle in left:  # the run is over: the next one (or `make cleanup`) may take them at once
            queues.change_visibility(container, queue_url, receipt_handle, 0)
    finally:
        runner.close()
    logger.debug("drain loop ended", extra={"seconds": round(time.monotonic() - started, 2)})


def _drain_one(
    container: Container,
    operation: Operation,
    message: Any,
    context: Any,
    summary: DrainSummary,
    *,
    queue_url: str,
    dead_letter_queue_url: str | None,
    left: list[str],
) -> None:
    """One queued erasure to its disposition: deleted (done or dead-lettered), or left for the next run."""
    message_id, body = message["MessageId"], message.get("Body", "")
    logger.thread_safe_append_keys(message_id=message_id)
    try:
        try:
            application = applications.of_message(container, body, message.get("MessageAttributes"))
            logger.thread_safe_append_keys(application=application)
            request, _key = messages.decode(operation, body, application)
            failure = _delete_one(container, request, context, summary)
        except (InvalidRequest, Unauthenticated) as exc:
            failure = exc
        # Talon.One's refusal for good (400) or a message that can never be read goes to the DLQ with
        # the reason, not back to the queue every night; outages and the relay's own credentials
        # (401/403) wait for the next run.
        if failure is not None and failure.dead_letter:
            try:
                queues.dead_letter(
                    container,
                    dead_letter_queue_url,
                    body=body,
                    reason=failure.reason,
                    operation=operation.name,
                    message_id=message_id,
                    status=failure.talon_status,
                    extra_attributes=applications.carried(message.get("MessageAttributes")),
                )
            except Exception as exc:  # no DLQ, or SQS refused: it stays, and reaches the DLQ by redrive
                logger.error("could not dead-letter the erasure request", extra={"reason": type(exc).__name__})
                summary.failed += 1
                left.append(message["ReceiptHandle"])
                return
            summary.dead_lettered += 1
            container.counts.add(telemetry.DEAD_LETTERED)
        elif failure is not None:
            summary.failed += 1
            left.append(message["ReceiptHandle"])
            return  # hidden until this run is over: the next run tries it (SQS's DLQ after maxReceiveCount runs)
        queues.delete(container, queue_url, message["ReceiptHandle"])
    finally:
        logger.thread_safe_remove_keys(["message_id", "application"])
