"""API Gateway adapter of an Integration API route: authenticate, validate, call (or queue), answer.

A sender's mistake is a 4xx naming what is wrong, Talon.One being down a 502/504; every error's
answer comes from the error itself (`errors.py`), and a stack trace is never the answer. The event is
read, and the answer shaped, by `gateway`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from talon_relay.adapters.gateway import (
    MAX_ANSWER_BYTES,
    Event,
    Headers,
    answer,
    error_answer,
    headers,
    oversized,
    raw_body,
    unexpected_answer,
)
from talon_relay.aws import queues
from talon_relay.callers import access, applications
from talon_relay.config.applications import DEFAULT
from talon_relay.core import checkers, input_limits, messages, read_cache, service
from talon_relay.core.request import UNREAD, Request, parse_request
from talon_relay.errors import AnswerTooLarge, InvalidRequest, RelayError, SettingsError, UnsupportedMediaType
from talon_relay.observability import logger
from talon_relay.operations import Operation

if TYPE_CHECKING:
    from talon_relay.container import Container


def _json_body(headers: Headers, raw: bytes, operation: Operation) -> tuple[Any, bool]:
    """The body's JSON value (None: no body), within the documented limits (input_limits.py): a 413, 415 or
    400 names the fault. JSON is the only content type Talon.One takes. And whether it is checked: the
    bytes of a body of the operation's model pass in one pass (checkers.valid_json; UNREAD: parse_request
    reads them if a step needs the value); any other body is read the exact way, for parse_request to
    check, naming every fault."""
    if not raw:
        return None, False
    input_limits.check_body_size(raw)
    content_type = headers.get("content-type", "")
    if not content_type.strip():
        raise UnsupportedMediaType.single(
            "Unsupported media type", "a body needs Content-Type: application/json", parameter="Content-Type"
        )
    input_limits.check_content_type(content_type)
    input_limits.check_encoding(raw, headers.get("content-encoding"))
    if operation.body is not None and input_limits.short_numbers(raw) and checkers.valid_json(operation.body, raw):
        return UNREAD, True
    body = input_limits.parse_json(raw)
    if body is None:
        raise InvalidRequest.single("Invalid body", "body must be a JSON object, not null", pointer="")
    return body, False


def _idempotency_key(headers: Headers) -> str | None:
    key = headers.get("idempotency-key")
    if key is None:
        return None
    if not input_limits.header_token(key):
        raise InvalidRequest.single(
            "Invalid header",
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            parameter="Idempotency-Key",
        )
    return key


def _single_values(event: Event) -> None:
    """A query parameter sent more than once is refused by name (API Gateway's `queryStringParameters`
    keep only the last value: the others would be dropped, and a request is never changed in transit)."""
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        if isinstance(values, list) and len(values) > 1:
            raise InvalidRequest.single(
                "Invalid query parameter", f"{name} is sent more than once; the relay takes one value", parameter=name
            )


#: Headers that decide what is done with a request (who sends it, what is signed, kept, queued, read).
_ONE_VALUE = frozenset({"authorization", "x-relay-signature", "idempotency-key", "prefer", "content-type"})


def _single_headers(event: Event, sent: Headers) -> None:
    """A header of _ONE_VALUE sent more than once (twice in `multiValueHeaders`, or under two cases of its
    name) is refused by name: API Gateway's `headers` keep one value, so the request would be read one way
    and meant, or signed, another."""
    raw = event.get("headers") or {}
    multi = event.get("multiValueHeaders") or {}
    if len(raw) == len(sent) and not any(isinstance(values, list) and len(values) > 1 for values in multi.values()):
        return  # every header once: the usual request, told without a loop in Python
    counts: dict[str, tuple[str, int]] = {}
    for name, values in (multi or {name: [value] for name, value in raw.items()}).items():
        if name.lower() in _ONE_VALUE:
            first, count = counts.get(name.lower(), (name, 0))
            counts[name.lower()] = (first, count + (len(values) if isinstance(values, list) else 1))
    for name, count in counts.values():
        if count > 1:
            raise InvalidRequest.single(
                "Invalid header", f"{name} is sent more than once; the relay takes one value", parameter=name
            )


def _wants_async(headers: Headers) -> bool:
    """Whether `Prefer` holds respond-async: alone, among other preferences, or with parameters (RFC 7240's
    `respond-async; wait=10`; the relay answers at once, so a wait asks nothing of it)."""
    prefer = headers.get("prefer", "")
    return any(part.partition(";")[0].strip().lower() == "respond-async" for part in prefer.split(","))


def _enqueue(container: Container, request: Request, key: str) -> dict[str, Any]:
    """Storage-first: queue the validated request for the same guarantees later; answer 202. The
    message carries its application, sealed; its FIFO group is the application's customer."""
    cfg = container.settings()
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set for asynchronous requests (Prefer: respond-async)")
    body = messages.encode(request, key)
    app = request.application
    message_id = queues.enqueue(
        container,
        cfg.queue_url,
        body,
        group_id=request.group_id if app == DEFAULT or not request.group_id else f"{app}/{request.group_id}",
        # the payload too: the same key with another body must reach the consumer's KeyReused check
        deduplication_key=f"{app}#{request.operation.name}#{key}#{json.dumps(request.payload, sort_keys=True)}",
        # on the sessions queue each message names its operation (one order per session across them)
        attributes={**applications.sealed(container, app, body), **messages.operation_attribute(request.operation)},
        advice="send it without Prefer: respond-async",
    )
    logger.info("request queued", extra={"message_id": message_id})
    body = json.dumps({"messageId": message_id, "status": "queued"}, separators=(",", ":"))
    return answer(202, body, {"Preference-Applied": "respond-async"})


def handle(container: Container, operation: Operation, event: Event, context: Any) -> dict[str, Any]:
    request_id = event["requestContext"]["requestId"]
    logger.set_correlation_id(request_id)
    try:
        body = raw_body(event)
        sent = headers(event.get("headers"))
        _single_headers(event, sent)  # before its credentials are read: they are among them
        # a synchronous request with an Idempotency-Key: its signature is recorded by its idempotency
        # record's claim (one DynamoDB write, not two: access.authenticate, aws.idempotency)
        queued = operation.queued and _wants_async(sent)  # a read is answered now: nothing to queue
        fold = "idempotency-key" in sent and not operation.cache_seconds and not queued
        admission = access.authenticate(
            container,
            operation,
            method=event["httpMethod"],
            path_params=event.get("pathParameters") or {},
            query=event.get("queryStringParameters") or {},
            headers=sent,
            body=body,
            identity=event["requestContext"].get("identity") or {},
            fold=fold,
        )
        application = admission.application
        logger.append_keys(application=application)
        key = _idempotency_key(sent)
        value, checked = _json_body(sent, body, operation)
        _single_values(event)
        request = parse_request(
            operation,
            event.get("pathParameters") or {},
            value,
            query=event.get("queryStringParameters") or {},
            raw=body or None,
            application=application,
            checked=checked,
            keyed=key is not None,
            queued=queued,
            signed_path=admission.signed_path,
        )
        if queued:
            return _enqueue(container, request, key or request_id)
        caller = (
            read_cache.caller_of(event["requestContext"].get("identity") or {}, sent) if operation.cache_seconds else ""
        )
        hit = read_cache.lookup(container, request, caller) if caller else None
        if hit is not None:  # no Talon.One call: nothing is logged or counted as one
            logger.info("answered from the read cache", extra={"age_seconds": round(hit.age, 3)})
            return answer(operation.success_status, hit.text, read_cache.headers(hit))
        result = service.execute(
            container,
            request,
            context=context,
            correlation_id=request_id,
            # a kept read is never older than its TTL: not answered from an idempotency record (24 h) either
            idempotency_key=None if operation.cache_seconds else key,
            signatures=admission.unrecorded,
        )
        if result and (size := oversized(result)) is not None:
            done = "it was applied" if operation.queued else "nothing was changed"  # a write, or a read
            raise AnswerTooLarge(
                f"Talon.One's answer to {operation.name} is {size:,} bytes, more than Lambda can return "
                f"({MAX_ANSWER_BYTES:,}); {done}: ask for less (a smaller page)"
            )
        if caller:
            read_cache.keep(container, request, caller, result)
    except RelayError as exc:
        return error_answer(exc, request_id)
    except Exception:
        return unexpected_answer(request_id)
    # Talon.One's success answers its body (or nothing, e.g. trackEventV2 when silent: 204)
    extra = read_cache.headers(None) if operation.cache_seconds else None
    return answer(operation.success_status if result else 204, result or "", extra)
