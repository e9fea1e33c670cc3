"""SQS adapter: a batch with partial failures, message groups in parallel, each group in order.

A record that can never succeed is dead-lettered with its reason and leaves the queue; one that
failed for a passing reason is reported as a batch item failure and comes back. Which is which is
the error's own `dead_letter` (errors.py).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay import messages, queues, service
from talon_relay.errors import RelayError
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

#: A record is not started with less than this left of the invocation (it is left for retry).
RECORD_RESERVE_SECONDS = 2.0


@dataclass
class _RecordHandler:
    operation: Operation
    context: Any
    dead_letter_queue_url: str | None

    def __call__(self, record: SQSRecord) -> None:
        message_id = record.message_id
        if service.remaining_seconds(self.context) < RECORD_RESERVE_SECONDS:
            # Not started at all: a Lambda timeout mid-call would redeliver the whole batch instead.
            raise TimeoutError(f"{message_id}: too little time left in this invocation; left for retry")
        logger.thread_safe_append_keys(message_id=message_id)
        try:
            # whatever the message holds, a fault in it is an InvalidRequest (dead letter)
            _execute(self.operation, record.body, context=self.context, message_id=message_id)
        except RelayError as exc:
            if not exc.dead_letter:
                getattr(logger, exc.log_level)(
                    "retryable failure; message stays on its queue",
                    extra={"status": exc.talon_status, "reason": exc.reason},
                )
                raise
            self._dead_letter(record, exc)
        except Exception as exc:
            # Not the message's fault as far as anyone can tell (it was read and checked): an unforeseen
            # failure of the relay or a dependency, which may pass. Retried, and said loudly.
            logger.exception("unexpected failure; message stays on its queue", extra={"reason": type(exc).__name__})
            raise
        finally:
            logger.thread_safe_remove_keys(["message_id"])

    def _dead_letter(self, record: SQSRecord, exc: RelayError) -> None:
        try:
            queues.dead_letter(
                self.dead_letter_queue_url,
                body=record.body,
                reason=exc.reason,
                operation=self.operation.name,
                message_id=record.message_id,
                status=exc.talon_status,
                attributes=record.attributes.raw_event,
            )
        except Exception as failure:  # no DLQ, or SQS refused: the message stays, and reaches the DLQ by redrive
            logger.error(
                "could not dead-letter the message; it stays on its queue",
                extra={"reason": f"{type(failure).__name__}: {failure}"},
            )
            raise


def _execute(operation: Operation, body: str, *, context: Any, message_id: str) -> None:
    """One record's work: its request relayed, or (a webhook receiver's queue) its webhook mapped."""
    if operation.webhook:
        from talon_relay.webhooks import consumer  # only webhook receivers pay for the mappings

        consumer.process(operation, body, context=context)
        return
    request, key = messages.decode(operation, body)
    service.execute(request, context=context, correlation_id=message_id, idempotency_key=key or message_id)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One thread pool per container, for the message groups of a batch."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="group")
    return _executor


def shutdown_pool() -> None:
    """Stop the group thread pool (the next batch starts a new one)."""
    global _executor
    with _executor_lock:
        pool, _executor = _executor, None
    if pool is not None:
        pool.shutdown(wait=True)


def _groups(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Records by FIFO message group, in arrival order; on a standard queue each record alone."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        group = (record.get("attributes") or {}).get("MessageGroupId") or f"record:{record.get('messageId')}"
        groups.setdefault(group, []).append(record)
    return list(groups.values())


def handle(operation: Operation, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process a batch with partial failures: groups in parallel, each group strictly in order.

    Within a FIFO message group a failure stops the rest of that group in this batch (they are
    retried in order); other groups, and records of a standard queue, never fail with it.
    """
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        SqsFifoPartialProcessor,
        process_partial_response,
    )

    cfg = settings()
    handler = _RecordHandler(operation, context, cfg.dead_letter_queue_url)
    records: list[dict[str, Any]] = list(event.get("Records") or [])

    def run(group: list[dict[str, Any]]) -> set[str]:
        fifo = bool((group[0].get("attributes") or {}).get("MessageGroupId"))
        processor: BatchProcessor = SqsFifoPartialProcessor() if fifo else BatchProcessor(event_type=EventType.SQS)
        processor.raise_on_entire_batch_failure = False
        # No context for Powertools: the record handler holds it, and with one Powertools would inspect
        # the handler's signature on every batch (to pass the context on), ~40 us a call.
        response = process_partial_response(event={"Records": group}, record_handler=handler, processor=processor)
        return {str(item["itemIdentifier"]) for item in response.get("batchItemFailures", [])}

    groups = _groups(records)
    if len(groups) <= 1 or cfg.batch_concurrency == 1:
        failed = set().union(*map(run, groups)) if groups else set()
    else:
        failed = set().union(*_pool(cfg.batch_concurrency).map(run, groups))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["messageId"] in failed]}
