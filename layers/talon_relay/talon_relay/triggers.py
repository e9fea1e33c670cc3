"""Lambda triggers: API Gateway (REST proxy), SQS batches and the erasure schedule.

Each turns its event into an `operations.Request`, runs it through `runtime.execute`, and shapes
the answer its trigger expects. A user's mistake becomes a 4xx or a dead-letter record with the
reason; Talon.One being down becomes a 502/504 or a retry; a stack trace is never the answer.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talon_relay import callers, idempotency, queues, runtime
from talon_relay.auth import CredentialsError
from talon_relay.errors import TalonOneError
from talon_relay.models import APIError, ErrorResponse, ErrorSource
from talon_relay.observability import logger, tracer
from talon_relay.operations import InvalidRequest, Operation, Request
from talon_relay.settings import SettingsError, settings
from talon_relay.settings import refresh as refresh_settings

if TYPE_CHECKING:
    # Imported where used: an API cold start does not pay for batch processing, nor SQS for API events.
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

Handler = Callable[[dict[str, Any], Any], Any]

#: Top-level keys an SQS message may carry besides the operation's path parameters.
_MESSAGE_KEYS = frozenset({"body", "idempotencyKey"})
#: A record is not started with less than this left of the invocation (it is left for retry).
_RECORD_RESERVE_SECONDS = 2.0
#: The schedule stops taking new messages when less than this is left of the invocation.
_DRAIN_RESERVE_SECONDS = 5.0


# --- API Gateway ----------------------------------------------------------------------------


def _json_response(
    status: int, body: Any = None, headers: dict[str, str] | None = None, *, text: str | None = None
) -> dict[str, Any]:
    """An API Gateway proxy response; `text` is JSON passed on as it is (Talon.One's own bytes)."""
    if text is None:
        text = "" if body is None else json.dumps(body, separators=(",", ":"))
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": text,
    }


def _error(status: int, message: str, request_id: str | None = None) -> dict[str, Any]:
    body = ErrorResponse(message=message).to_wire()
    return _json_response(status, body, {"X-Request-Id": request_id} if request_id else None)


def _raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The body bytes as the sender sent them (what a signature covers)."""
    raw = event.body
    if raw is None or raw == "":
        return b""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            raise InvalidRequest.single("Invalid body", "body is not valid base64", pointer="") from None
    return raw.encode("utf-8")


def _json_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidRequest.single("Invalid body", "body is not UTF-8 text", pointer="") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest.single(
            "Invalid body", f"body is not valid JSON: {exc.msg} at position {exc.pos}", pointer=""
        ) from None


def _talon_error_response(operation: Operation, exc: TalonOneError) -> dict[str, Any]:
    """Map a failed Talon.One call to what the relay's caller should see."""
    if exc.status in (401, 403):
        # The relay's own credentials were refused: not the caller's fault, and never their 401.
        return _error(502, f"Talon.One refused the relay's credentials for {operation.name}")
    if exc.status is not None and 400 <= exc.status < 500:
        try:
            json.loads(exc.body)  # pass Talon.One's error on as it is, when it is JSON
            return _json_response(exc.status, text=exc.body.decode("utf-8"))
        except ValueError:
            return _json_response(exc.status, ErrorResponse(message=exc.message).to_wire())
    if exc.timed_out:
        return _error(504, f"Talon.One did not answer {operation.name} in time; try again later")
    return _error(502, f"Talon.One is unavailable for {operation.name}: {exc.message}")


def _authenticate(operation: Operation, event: APIGatewayProxyEvent, raw_body: bytes) -> None:
    """Let in only a sender API Gateway checked by API key, or one that signed this request."""
    cfg = settings()
    if cfg.caller_auth == "disabled":
        return
    if event.request_context.identity.api_key_id:
        return  # the key API: API Gateway has checked the sender's API key and usage plan
    if not cfg.caller_signing_secret_arn:
        raise SettingsError("CALLER_SIGNING_SECRET_ARN must be set while CALLER_AUTH is required")
    secrets = callers.signing_secrets(cfg.caller_signing_secret_arn, max_age=cfg.secret_max_age)
    callers.verify(
        callers.header(event.headers, callers.SIGNATURE_HEADER),
        secrets=secrets,
        method=event.http_method,
        path=operation.canonical_path(event.path_parameters),
        body=raw_body,
    )


def _idempotency_key(headers: dict[str, str] | None) -> str | None:
    key = callers.header(headers, "Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise InvalidRequest.single(
            "Invalid header",
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            parameter="Idempotency-Key",
        )
    return key


def _wants_async(headers: dict[str, str] | None) -> bool:
    prefer = callers.header(headers, "Prefer") or ""
    return any(part.strip().lower() == "respond-async" for part in prefer.split(","))


def _enqueue(operation: Operation, request: Request, key: str) -> dict[str, Any]:
    """Storage-first: queue the validated request for the same guarantees later; answer 202."""
    cfg = settings()
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set for asynchronous requests (Prefer: respond-async)")
    message_id = queues.enqueue(
        cfg.queue_url,
        request.message(key),
        group_id=operation.group_id(request),
        # the payload too: the same key with another body must reach the consumer's KeyReused check
        deduplication_key=f"{operation.name}#{key}#{json.dumps(request.payload(), sort_keys=True)}",
    )
    logger.info("request queued", extra={"message_id": message_id})
    return _json_response(202, {"messageId": message_id, "status": "queued"}, {"Preference-Applied": "respond-async"})


def handle_api(operation: Operation, raw_event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    event = APIGatewayProxyEvent(raw_event)
    request_id = event.request_context.request_id
    logger.set_correlation_id(request_id)
    try:
        raw_body = _raw_body(event)
        _authenticate(operation, event, raw_body)
        key = _idempotency_key(event.headers)
        request = operation.parse(event.path_parameters, _json_body(raw_body))
        if _wants_async(event.headers):
            return _enqueue(operation, request, key or request_id)
        result = runtime.execute(operation, request, context=context, correlation_id=request_id, idempotency_key=key)
    except callers.Unauthenticated as exc:
        logger.warning("unauthenticated request", extra={"reason": str(exc), "status": 401})
        body = ErrorResponse(
            message="Unauthorized",
            errors=[
                APIError(
                    title="Unauthenticated",
                    details=str(exc),
                    source=ErrorSource(parameter=callers.SIGNATURE_HEADER),
                )
            ],
        )
        return _json_response(401, body.to_wire())
    except InvalidRequest as exc:
        logger.info("rejected request", extra={"reason": exc.describe(), "status": 400})
        return _json_response(400, exc.response.to_wire())
    except idempotency.KeyReused as exc:
        return _error(409, str(exc))
    except idempotency.InProgress as exc:
        return _json_response(409, ErrorResponse(message=str(exc)).to_wire(), {"Retry-After": "1"})
    except TalonOneError as exc:
        logger.warning(
            "Talon.One call failed",
            extra={"status": exc.status, "retryable": exc.retryable, "reason": exc.message},
        )
        return _talon_error_response(operation, exc)
    except (SettingsError, CredentialsError) as exc:
        logger.error("relay misconfigured", extra={"reason": str(exc)})
        return _error(500, "The relay is misconfigured; see its logs", request_id)
    except (idempotency.StoreUnavailable, queues.QueueUnavailable) as exc:
        logger.error("AWS dependency failed", extra={"reason": str(exc)})
        return _error(503, "The relay cannot reach its queue or idempotency store; try again later", request_id)
    except Exception:
        logger.exception("unexpected error")  # the trace goes to the log, never to the caller
        return _error(500, "Internal error in the relay; see its logs", request_id)
    return _json_response(operation.success_status, text=result or "")


# --- SQS ------------------------------------------------------------------------------------


def parse_message(operation: Operation, raw: str) -> tuple[Request, str | None]:
    """An SQS message body (DESIGN.md format) as a Request and its optional idempotency key."""
    try:
        message = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest.single("Invalid message", f"message body is not valid JSON: {exc.msg}", line="1") from None
    if not isinstance(message, dict):
        raise InvalidRequest.single("Invalid message", "message body must be a JSON object", pointer="")
    unknown = sorted(set(message) - _MESSAGE_KEYS - set(operation.path_params))
    if unknown:
        raise InvalidRequest.single(
            "Invalid message",
            f"unknown top-level key(s) {unknown}; expected {sorted(operation.path_params)}, body, idempotencyKey",
            pointer="/" + unknown[0],
        )
    key = message.get("idempotencyKey")
    if key is not None and (not isinstance(key, str) or not key):
        raise InvalidRequest.single(
            "Invalid message", "idempotencyKey must be a non-empty string", pointer="/idempotencyKey"
        )
    try:
        request = operation.parse({name: message.get(name) for name in operation.path_params}, message.get("body"))
    except InvalidRequest as exc:
        # Body errors point into the message: /cartItems/0 of the body is /body/cartItems/0 here.
        for err in exc.response.errors or []:
            if err.source.pointer is not None:
                err.source.pointer = "/body" + err.source.pointer
        raise InvalidRequest(exc.response.errors or [], exc.response.message) from None
    return request, key


@dataclass
class _RecordHandler:
    operation: Operation
    context: Any
    dead_letter_queue_url: str | None = field(default=None)

    def __call__(self, record: SQSRecord) -> None:
        message_id = record.message_id
        if runtime.remaining_seconds(self.context) < _RECORD_RESERVE_SECONDS:
            # Not started at all: a Lambda timeout mid-call would redeliver the whole batch instead.
            raise TimeoutError(f"{message_id}: too little time left in this invocation; left for retry")
        logger.thread_safe_append_keys(message_id=message_id)
        try:
            request, key = parse_message(self.operation, record.body)
            runtime.execute(
                self.operation,
                request,
                context=self.context,
                correlation_id=message_id,
                idempotency_key=key or message_id,
            )
        except InvalidRequest as exc:
            self._dead_letter(record, exc.describe(), status=None)
        except idempotency.KeyReused as exc:
            self._dead_letter(record, str(exc), status=None)
        except TalonOneError as exc:
            if exc.retryable:
                logger.warning(
                    "retryable failure; message stays on its queue",
                    extra={"status": exc.status, "reason": exc.message},
                )
                raise
            if exc.status in (401, 403):
                # Our credentials, not the message: keep it for retry (and the DLQ via redrive).
                logger.error("Talon.One refused the relay's credentials", extra={"status": exc.status})
                raise
            self._dead_letter(record, f"Talon.One {exc.status}: {exc.message}", status=exc.status)
        finally:
            logger.thread_safe_remove_keys(["message_id"])

    def _dead_letter(self, record: SQSRecord, reason: str, *, status: int | None) -> None:
        queues.dead_letter(
            self.dead_letter_queue_url,
            body=record.body,
            reason=reason,
            operation=self.operation.name,
            message_id=record.message_id,
            status=status,
            attributes=record.attributes.raw_event,
        )


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


def handle_sqs(operation: Operation, event: dict[str, Any], context: Any) -> dict[str, Any]:
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
        response = process_partial_response(
            event={"Records": group}, record_handler=handler, processor=processor, context=context
        )
        return {str(item["itemIdentifier"]) for item in response.get("batchItemFailures", [])}

    groups = _groups(records)
    if len(groups) <= 1 or cfg.batch_concurrency == 1:
        failed = set().union(*map(run, groups)) if groups else set()
    else:
        failed = set().union(*_pool(cfg.batch_concurrency).map(run, groups))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["messageId"] in failed]}


# --- schedule (erasure queue) ---------------------------------------------------------------


@dataclass
class DrainSummary:
    requested: int = 0
    deleted: int = 0
    not_found: int = 0
    failed: int = 0
    dead_lettered: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ErasureIncomplete(RuntimeError):
    """Some erasures of a scheduled run failed: the run fails, so the scheduler retries it and
    its dead-letter queue (and alarm) get it, instead of a GDPR erasure being silently skipped."""


def _delete_one(operation: Operation, request: Request, context: Any, summary: DrainSummary) -> TalonOneError | None:
    """Delete one customer's data; None when done (deleted, or already gone), else the failure."""
    summary.requested += 1
    try:
        runtime.execute(operation, request, context=context, correlation_id=None)
    except TalonOneError as exc:
        if exc.status == 404:
            summary.not_found += 1
            return None
        logger.warning("deletion failed", extra={"status": exc.status, "reason": exc.message})
        return exc
    summary.deleted += 1
    return None


def _dead_letter_permanent(
    operation: Operation, failure: TalonOneError, dlq: str | None, body: str, message_id: str
) -> bool:
    """A queued erasure Talon.One refuses for good (400) goes to the DLQ with the reason, not back
    to the queue every night; outages and the relay's own credentials (401/403) wait for a retry."""
    if failure.retryable or failure.status in (None, 401, 403):
        return False
    queues.dead_letter(
        dlq,
        body=body,
        reason=f"Talon.One {failure.status}: {failure.message}",
        operation=operation.name,
        message_id=message_id,
        status=failure.status,
    )
    return True


def handle_schedule(operation: Operation, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delete the ids given in the input, or drain the erasure queue until empty or out of time."""
    summary = DrainSummary()
    ids = event.get("integrationIds")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            logger.error("invalid schedule input", extra={"reason": "integrationIds must be a list of strings"})
            raise ValueError("invalid schedule input: integrationIds must be a list of strings")
        for integration_id in ids:
            try:
                request = operation.parse({"integrationId": integration_id}, None)
            except InvalidRequest as exc:
                summary.requested += 1
                summary.failed += 1
                logger.error("invalid integrationId", extra={"reason": exc.describe()})
                continue
            if _delete_one(operation, request, context, summary) is not None:
                summary.failed += 1
    else:
        _drain(operation, context, summary)
    logger.info("erasure run finished", extra=summary.as_dict())
    if ids is not None and summary.failed:
        raise ErasureIncomplete(f"{summary.failed} of {summary.requested} erasures failed: {summary.as_dict()}")
    return summary.as_dict()


def _drain(operation: Operation, context: Any, summary: DrainSummary) -> None:
    cfg = settings()
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set to drain the erasure queue")
    sqs = queues.sqs()
    started = time.monotonic()
    tried: set[str] = set()  # a failure that becomes visible again waits for the next run
    while runtime.remaining_seconds(context) > _DRAIN_RESERVE_SECONDS:
        batch = sqs.receive_message(
            QueueUrl=cfg.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        ).get("Messages", [])
        fresh = [message for message in batch if message["MessageId"] not in tried]
        if not fresh:
            break
        for message in fresh:
            message_id, body = message["MessageId"], message.get("Body", "")
            tried.add(message_id)
            logger.append_keys(message_id=message_id)
            try:
                request, _key = parse_message(operation, body)
            except InvalidRequest as exc:
                queues.dead_letter(
                    cfg.dead_letter_queue_url,
                    body=body,
                    reason=exc.describe(),
                    operation=operation.name,
                    message_id=message_id,
                )
                summary.dead_lettered += 1
                done = True
            else:
                failure = _delete_one(operation, request, context, summary)
                done = failure is None or _dead_letter_permanent(
                    operation, failure, cfg.dead_letter_queue_url, body, message_id
                )
                if failure is not None:
                    summary.dead_lettered += int(done)
                    summary.failed += int(not done)
            if done:
                sqs.delete_message(QueueUrl=cfg.queue_url, ReceiptHandle=message["ReceiptHandle"])
            # else: it becomes visible again after the visibility timeout; redrive after maxReceiveCount
        logger.remove_keys(["message_id"])
    logger.debug("drain loop ended", extra={"seconds": round(time.monotonic() - started, 2)})


# --- entry point ----------------------------------------------------------------------------


def lambda_handler(operation: Operation, *, schedule: bool = False) -> Handler:
    """The Lambda handler of one operation, for all its triggers (chosen by the event's shape)."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        logger.append_keys(operation=operation.name)
        try:
            refresh_settings()
        except SettingsError as exc:
            if isinstance(event, dict) and "httpMethod" in event:
                logger.error("relay misconfigured", extra={"reason": str(exc)})
                return _error(500, "The relay is misconfigured; see its logs")
            raise
        if isinstance(event, dict) and "Records" in event:
            return handle_sqs(operation, event, context)
        if isinstance(event, dict) and "httpMethod" in event and "requestContext" in event:
            return handle_api(operation, event, context)
        if schedule and isinstance(event, dict):
            return handle_schedule(operation, event, context)
        raise ValueError(f"{operation.name}: unsupported event (expected API Gateway or SQS)")

    active_tracer = tracer()
    if active_tracer is not None:
        handler = active_tracer.capture_lambda_handler(capture_response=False)(handler)
    return logger.inject_lambda_context(clear_state=True)(handler)
