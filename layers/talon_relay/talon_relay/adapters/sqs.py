"""SQS adapter: a batch with partial failures, message groups in parallel, each group in order.

A record that can never succeed is dead-lettered with its reason and leaves the queue; one that
failed for a passing reason is handed back to come back after a growing delay (retry_delays.py: its
visibility is changed, then it is reported as a batch item failure), and on its last receive (the
queue's maxReceiveCount, MAX_RECEIVE_COUNT) it is dead-lettered by the relay with its reason instead
of by SQS without one. Which is which is the error's own `dead_letter` (errors.py). A session or
profile update older than one already applied is acknowledged as superseded (ordering.py), and so is a
session webhook's step (webhooks/session_order.py). A `coalesce` entry's group of several (syncCatalog: one
catalog) is sent first as few joined calls as its rules allow (coalescing.py), then each record takes its
own outcome's disposition in order (one: as any record).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from talon_relay import telemetry
from talon_relay.adapters import lanes
from talon_relay.aws import queues
from talon_relay.callers import applications
from talon_relay.config.applications import DEFAULT
from talon_relay.config.settings import Settings
from talon_relay.core import coalescing, lifecycle, messages, ordering, retry_delays, service
from talon_relay.errors import RelayError
from talon_relay.observability import logger
from talon_relay.operations import Operation, operation_of
from talon_relay.talon.errors import TalonOneError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from talon_relay.container import Container
    from talon_relay.core.request import Request

#: A record is not started with less than this left of the invocation (it is left for retry).
RECORD_RESERVE_SECONDS = 2.0


@dataclass
class _RecordHandler:
    container: Container
    operation: Operation
    context: Any
    cfg: Settings
    #: seconds each record handed back for later waits, by message id
    delays: dict[str, int] = field(default_factory=dict)
    #: each record's application, by message id, once known (its counts are that application's)
    applications: dict[str, str] = field(default_factory=dict)
    #: each record's operation, by message id, once known (on a shared queue: the one the message names)
    targets: dict[str, Operation] = field(default_factory=dict)
    #: each application's Talon.One failures in a row in this batch (lanes.py)
    breaker: lanes.Breaker = field(default_factory=lanes.Breaker)
    #: a coalesced group's outcomes by message id (None: applied); a record without one was not tried
    outcomes: dict[str, Exception | None] = field(default_factory=dict)
    #: the message ids of the coalesced groups (a group of one is sent as any queued message is)
    coalesced: set[str] = field(default_factory=set)

    def _counts(self, record: SQSRecord) -> telemetry.Counts:
        return self.container.counts.of(self.applications.get(record.message_id, DEFAULT))

    def __call__(self, record: SQSRecord) -> None:
        message_id = record.message_id
        coalesced = message_id in self.coalesced
        done = coalesced and message_id in self.outcomes  # sent already: never handed back untried
        if not done and (coalesced or lanes.remaining(self.context) < RECORD_RESERVE_SECONDS):
            why = getattr(self.context, "why_short", "the invocation ran out of time")  # lanes.Share says its own
            if self._last_receive(record):  # SQS would move it without a word on its next receive
                self._dead_letter(record, f"not attempted on its last receive: {why}", None)
                return
            # Not started at all (a Lambda timeout mid-call would redeliver the whole batch instead): it was
            # not tried, so it comes back at once, not after a backoff or the queue's visibility timeout.
            self._hide(record, 0)
            raise TimeoutError(f"{message_id}: too little time left ({why}); left for retry")
        logger.thread_safe_append_keys(message_id=message_id)
        try:
            self._process(record)
            self._outcome(record, None)
        except RelayError as exc:
            self._outcome(record, exc)
            if exc.dead_letter:
                self._dead_letter(record, exc.reason, exc.talon_status, exc.letter_attributes)
            elif self._last_receive(record):
                receives = record.attributes.approximate_receive_count
                reason = f"still failing on its last receive ({receives}): {exc.reason}"
                self._dead_letter(record, reason, exc.talon_status, exc.letter_attributes)
            else:
                seconds = self._retry_later(record, exc)
                getattr(logger, exc.log_level)(
                    "retryable failure; message comes back later",
                    extra={"status": exc.talon_status, "reason": exc.reason, "retry_in_seconds": seconds},
                )
                raise
        except Exception as exc:
            # Not the message's fault as far as anyone can tell (it was read and checked): an unforeseen
            # failure of the relay or a dependency, which may pass. Retried, and said loudly.
            logger.exception("unexpected failure; message stays on its queue", extra={"reason": type(exc).__name__})
            raise
        finally:
            logger.thread_safe_remove_keys(["message_id", "application", "target"])

    def _process(self, record: SQSRecord) -> None:
        """One record's work: its request relayed (unless superseded), or a webhook receiver's webhook
        mapped. Whatever the message holds, a fault in it is an InvalidRequest (a dead letter). On a shared
        queue (the sessions queue) the message names its operation, which is run here, in its group's order."""
        message_id = record.message_id
        operation = operation_of(self.operation, record.raw_event.get("messageAttributes"))
        self.targets[message_id] = operation
        if operation is not self.operation:
            logger.thread_safe_append_keys(target=operation.name)
        if operation.webhook:
            from talon_relay.webhooks import consumer  # only webhook receivers pay for the mappings

            routed = partial(self._routed, record)
            consumer.process(
                self.container, operation, record.body, context=self.context, routed=routed, record=record.raw_event
            )
            return
        if message_id in self.coalesced:
            outcome = self.outcomes[message_id]
            if outcome is not None:
                raise outcome
            return
        request, key = self.decode(record, operation)
        # acknowledged without a call when a newer update of this customer was applied already, and
        # without a retry when Talon.One's session had moved on past it (core/lifecycle.py)
        ordering.in_order(
            self.container,
            operation,
            request,
            record.raw_event,
            lambda: lifecycle.applied(
                self.container,
                request,
                lambda: service.execute(
                    self.container,
                    request,
                    context=self.context,
                    correlation_id=message_id,
                    idempotency_key=key or message_id,
                ),
            ),
        )

    def decode(self, record: SQSRecord, operation: Operation | None = None) -> tuple[Request, str | None]:
        """The record's request and idempotency key, for its application (InvalidRequest: a dead letter);
        `operation`: the one the record names on a shared queue, else the function's own."""
        application = applications.of_message(self.container, record.body, record.raw_event.get("messageAttributes"))
        logger.thread_safe_append_keys(application=application)
        self._routed(record, application)
        return messages.decode(operation or self.operation, record.body, application)

    def _routed(self, record: SQSRecord, application: str) -> None:
        """The record reached `application`: its counts are that application's from now on, and in a
        deployment of several, how long it waited is that application's queue age (its queues are shared,
        so SQS's own ApproximateAgeOfOldestMessage cannot tell the applications apart)."""
        self.applications[record.message_id] = application
        if self.container.applications().several:
            sent = int(record.attributes.sent_timestamp or 0) / 1000
            age = max(int(time.time() - sent), 0) if sent else 0
            self.container.counts.of(application).maximum(telemetry.QUEUE_AGE, age)
            self.breaker.check(application)  # its Talon.One failing in this batch: not sent now

    def _outcome(self, record: SQSRecord, exc: RelayError | None) -> None:
        """A record's call told about its application's Talon.One: a failure of Talon.One's (retryable, or
        a refused key) counts toward its breaker, anything it answered resets it."""
        application = self.applications.get(record.message_id)
        if application is None or isinstance(exc, lanes.Paused):  # (checked only with several: _routed)
            return
        cause = getattr(exc, "cause", exc)  # a webhook's step wraps its call's error
        if isinstance(cause, TalonOneError) and not cause.dead_letter:
            self.breaker.failed(application, cause.retry_after)
        elif exc is None or isinstance(cause, TalonOneError):
            self.breaker.succeeded(application)

    def _last_receive(self, record: SQSRecord) -> bool:
        """Whether this is the message's last receive (SQS moves it to the DLQ on the next one)."""
        limit = self.cfg.max_receive_count
        return limit is not None and int(record.attributes.approximate_receive_count or 1) >= limit

    def _retry_later(self, record: SQSRecord, exc: RelayError) -> int:
        """Hide the message for its backoff (at least Talon.One's Retry-After); returns the seconds."""
        seconds = retry_delays.visibility_for(
            int(record.attributes.approximate_receive_count or 1),
            retry_after=getattr(exc, "retry_after", None),
            base=self.cfg.queue_retry_base_seconds,
            cap=self.cfg.queue_retry_max_seconds,
        )
        if self._hide(record, seconds):
            self._counts(record).add(telemetry.RETRY_LATER)
        return seconds

    def _hide(self, record: SQSRecord, seconds: int) -> bool:
        """Make the message visible again in `seconds` (its FIFO group behind it waits as long)."""
        if self.cfg.queue_url and queues.change_visibility(
            self.container, self.cfg.queue_url, record.receipt_handle, seconds
        ):
            self.delays[record.message_id] = seconds
            return True
        return False

    def _dead_letter(
        self, record: SQSRecord, reason: str, status: int | None, letter: Mapping[str, Any] | None = None
    ) -> None:
        target = self.targets.get(record.message_id, self.operation)
        try:  # its customer's ordering record marked first: it is away until a redrive (ordering.py)
            application = self.applications.get(record.message_id)
            if target.webhook:  # a session's webhook marks its session's record (webhooks/session_order.py)
                from talon_relay.webhooks import session_order

                session_order.leaving(self.container, target, record.raw_event, application)
            else:
                ordering.leaving(self.container, target, record.raw_event, application)
            queues.dead_letter(
                self.container,
                self.cfg.dead_letter_queue_url,
                body=record.body,
                reason=reason,
                operation=target.name,
                message_id=record.message_id,
                status=status,
                attributes=record.attributes.raw_event,
                extra_attributes={
                    **ordering.carried(record.raw_event),
                    **applications.carried(record.raw_event.get("messageAttributes")),
                    **messages.carried_operation(record.raw_event.get("messageAttributes")),
                    **(letter or {}),  # what the error adds for `make redrive` (webhooks/errors.py)
                },
            )
        except Exception as failure:  # no DLQ, or SQS refused: the message stays, and reaches the DLQ by redrive
            logger.error(
                "could not dead-letter the message; it stays on its queue",
                extra={"reason": f"{type(failure).__name__}: {failure}"},
            )
            raise
        self._counts(record).add(telemetry.DEAD_LETTERED)


def handle(container: Container, operation: Operation, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process a batch with partial failures: groups in parallel, each group strictly in order.

    Within a FIFO message group a failure stops the rest of that group in this batch (they are
    retried in order); other groups, and records of a standard queue, never fail with it.
    """
    cfg = container.settings()
    batch = _RecordHandler(container, operation, context, cfg)
    records: list[dict[str, Any]] = list(event.get("Records") or [])

    def run(group: list[dict[str, Any]], lane_context: Any) -> set[str]:
        fifo = bool((group[0].get("attributes") or {}).get("MessageGroupId"))
        # the lane's time; the batch's records and breaker
        handler = batch if lane_context is context else replace(batch, context=lane_context)
        if operation.coalesce and len(group) > 1:  # the group's calls now, each record's outcome kept for its turn
            handler.coalesced.update(str(record["messageId"]) for record in group)
            from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

            handler.outcomes.update(
                coalescing.run(
                    container,
                    [SQSRecord(record) for record in group],
                    decode=handler.decode,
                    context=lane_context,
                    time_left=lambda: lanes.remaining(lane_context) >= RECORD_RESERVE_SECONDS,
                )
            )
        processor = lanes.processor(container, fifo)
        with processor(group, handler):  # process_partial_response's own steps, without its event checks
            processor.process()
        failed = [str(item["itemIdentifier"]) for item in processor.response().get("batchItemFailures", [])]
        if fifo and failed and failed[0] in batch.delays:
            lanes.wait_with_the_head(container, group, failed, batch.delays[failed[0]], cfg.queue_url)
        return set(failed)

    # groups in parallel, each application's on its share of the threads and the time (lanes.py)
    failed = lanes.run(
        lanes.groups(records),
        run,
        context=context,
        workers=cfg.batch_concurrency,
        pool=lambda: container.batch_pool(cfg.batch_concurrency),
        seconds=cfg.application_batch_seconds,
        several=len(container.applications().by_name) > 1,
    )
    if not failed:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["messageId"] in failed]}
