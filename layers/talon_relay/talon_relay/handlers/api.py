"""API Gateway (REST proxy) adapter: authenticate, validate, call (or queue), shape the answer.

A sender's mistake is a 4xx naming what is wrong, Talon.One being down a 502/504; every error's
answer comes from the error itself (`errors.py`), and a stack trace is never the answer.

The event is read with plain dict lookups, as API Gateway's REST proxy format has it (a Powertools
event class would cost a cold start its import and every call its wrappers, for the same fields).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from talon_relay import callers, limits, messages, queues, replay, requests, service
from talon_relay.errors import InvalidRequest, RelayError, SettingsError, UnsupportedMediaType
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.requests import Request
from talon_relay.settings import settings

Event = dict[str, Any]
#: The request's headers by lower-cased name (HTTP header names are case-insensitive).
Headers = dict[str, str]


def _headers(event: Event) -> Headers:
    """The event's headers keyed by lower-cased name, made once per request (the first of two names
    that differ only in case wins, as a case-insensitive lookup would find it)."""
    headers: Headers = {}
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            headers.setdefault(name.lower(), str(value))
    return headers


def _response(status: int, text: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway proxy response; `text` is JSON passed on as it is (Talon.One's own bytes)."""
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})}, "body": text}


def error_response(exc: RelayError, request_id: str | None) -> dict[str, Any]:
    getattr(logger, exc.log_level)(exc.log_message, extra={"reason": exc.reason, "status": exc.api_status})
    headers = exc.api_headers()
    if request_id and exc.api_status >= 500:
        headers = {**headers, "X-Request-Id": request_id}
    return _response(exc.api_status, exc.api_text(), headers)


def _raw_body(event: Event) -> bytes:
    """The body bytes as the sender sent them (what a signature covers)."""
    raw: str | None = event.get("body")
    if raw is None or raw == "":
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            raise InvalidRequest.single("Invalid body", "body is not valid base64", pointer="") from None
    return raw.encode("utf-8", "surrogatepass")  # a lone surrogate stays, to be refused as not UTF-8


def _json_body(headers: Headers, raw: bytes) -> Any:
    """The body's JSON value (None: no body), within the documented limits (limits.py): a 413, 415 or
    400 names the fault. JSON is the only content type Talon.One takes."""
    if not raw:
        return None
    limits.check_body_size(raw)
    content_type = headers.get("content-type", "")
    if not content_type.strip():
        raise UnsupportedMediaType.single(
            "Unsupported media type", "a body needs Content-Type: application/json", parameter="Content-Type"
        )
    limits.check_content_type(content_type)
    limits.check_encoding(raw, headers.get("content-encoding"))
    body = limits.parse_json(raw)
    if body is None:
        raise InvalidRequest.single("Invalid body", "body must be a JSON object, not null", pointer="")
    return body


def _authenticate(operation: Operation, event: Event, headers: Headers, raw_body: bytes) -> None:
    """Let in only a sender API Gateway checked by API key, one with a relay caller key (the
    vendor SDKs' `Authorization: ApiKey-v1`), or one that signed this request (once)."""
    cfg = settings()
    if cfg.caller_auth == "disabled":
        return
    if (event["requestContext"].get("identity") or {}).get("apiKeyId"):
        return  # the key API: API Gateway has checked the sender's API key and usage plan
    authorization = headers.get("authorization")
    signature = headers.get(callers.SIGNATURE_HEADER.lower())
    if authorization is not None and signature is None:
        if not cfg.caller_api_keys_secret_arn:
            raise SettingsError("CALLER_API_KEYS_SECRET_ARN must be set to accept Authorization: ApiKey-v1")
        keys = callers.caller_keys(cfg.caller_api_keys_secret_arn, max_age=cfg.secret_max_age)
        callers.verify_api_key(authorization, keys=keys)
        return
    if not cfg.caller_signing_secret_arn:
        raise SettingsError("CALLER_SIGNING_SECRET_ARN must be set while CALLER_AUTH is required")
    secrets = callers.signing_secrets(cfg.caller_signing_secret_arn, max_age=cfg.secret_max_age)
    verified = callers.verify(
        signature,
        secrets=secrets,
        method=event["httpMethod"],
        path=operation.canonical_path(event.get("pathParameters") or {}, event.get("queryStringParameters") or {}),
        body=raw_body,
        idempotency_key=headers.get("idempotency-key"),
        prefer=headers.get("prefer"),
        accept_v1=cfg.caller_signature_v1 == "accepted",
    )
    replay.remember(verified, table=cfg.idempotency_table_name, owner=cfg.function_name)
    if verified.version == "v1":  # who still signs the old way, for the migration (README)
        source_ip = (event["requestContext"].get("identity") or {}).get("sourceIp")
        logger.info("deprecated signature scheme v1", extra={"source_ip": source_ip})


def _idempotency_key(headers: Headers) -> str | None:
    key = headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise InvalidRequest.single(
            "Invalid header",
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            parameter="Idempotency-Key",
        )
    return key


def _wants_async(headers: Headers) -> bool:
    prefer = headers.get("prefer", "")
    return any(part.strip().lower() == "respond-async" for part in prefer.split(","))


def _enqueue(request: Request, key: str) -> dict[str, Any]:
    """Storage-first: queue the validated request for the same guarantees later; answer 202."""
    cfg = settings()
    if not cfg.queue_url:
        raise SettingsError("QUEUE_URL must be set for asynchronous requests (Prefer: respond-async)")
    message_id = queues.enqueue(
        cfg.queue_url,
        messages.encode(request, key),
        group_id=request.group_id(),
        # the payload too: the same key with another body must reach the consumer's KeyReused check
        deduplication_key=f"{request.operation.name}#{key}#{json.dumps(request.payload(), sort_keys=True)}",
        advice="send it without Prefer: respond-async",
    )
    logger.info("request queued", extra={"message_id": message_id})
    body = json.dumps({"messageId": message_id, "status": "queued"}, separators=(",", ":"))
    return _response(202, body, {"Preference-Applied": "respond-async"})


def handle(operation: Operation, event: Event, context: Any) -> dict[str, Any]:
    request_id = event["requestContext"]["requestId"]
    logger.set_correlation_id(request_id)
    try:
        raw_body = _raw_body(event)
        headers = _headers(event)
        _authenticate(operation, event, headers, raw_body)
        key = _idempotency_key(headers)
        body = _json_body(headers, raw_body)
        query = event.get("queryStringParameters") or {}
        request = requests.parse(operation, event.get("pathParameters") or {}, body, query=query, raw=raw_body or None)
        if _wants_async(headers):
            return _enqueue(request, key or request_id)
        result = service.execute(request, context=context, correlation_id=request_id, idempotency_key=key)
    except RelayError as exc:
        return error_response(exc, request_id)
    except Exception:
        logger.exception("unexpected error")  # the trace goes to the log, never to the caller
        return _response(
            500, json.dumps({"message": "Internal error in the relay; see its logs"}), {"X-Request-Id": request_id}
        )
    # Talon.One's success answers its body (or nothing, e.g. trackEventV2 when silent: 204)
    return _response(operation.success_status if result else 204, result or "")
