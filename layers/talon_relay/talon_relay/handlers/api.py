"""API Gateway (REST proxy) adapter: authenticate, validate, call (or queue), shape the answer.

A sender's mistake is a 4xx naming what is wrong, Talon.One being down a 502/504; every error's
answer comes from the error itself (`errors.py`), and a stack trace is never the answer.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from talon_relay import callers, limits, messages, queues, replay, requests, service
from talon_relay.errors import InvalidRequest, RelayError, SettingsError, UnsupportedMediaType
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.requests import Request
from talon_relay.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


def _response(status: int, text: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway proxy response; `text` is JSON passed on as it is (Talon.One's own bytes)."""
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})}, "body": text}


def error_response(exc: RelayError, request_id: str | None) -> dict[str, Any]:
    getattr(logger, exc.log_level)(exc.log_message, extra={"reason": exc.reason, "status": exc.api_status})
    headers = exc.api_headers()
    if request_id and exc.api_status >= 500:
        headers = {**headers, "X-Request-Id": request_id}
    return _response(exc.api_status, exc.api_text(), headers)


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
    return raw.encode("utf-8", "surrogatepass")  # a lone surrogate stays, to be refused as not UTF-8


def _json_body(headers: dict[str, str] | None, raw: bytes) -> Any:
    """The body's JSON value (None: no body), within the documented limits (limits.py): a 413, 415 or
    400 names the fault. JSON is the only content type Talon.One takes."""
    if not raw:
        return None
    limits.check_body_size(raw)
    content_type = callers.header(headers, "Content-Type")
    if content_type is None or not content_type.strip():
        raise UnsupportedMediaType.single(
            "Unsupported media type", "a body needs Content-Type: application/json", parameter="Content-Type"
        )
    limits.check_content_type(content_type)
    body = limits.parse_json(raw)
    if body is None:
        raise InvalidRequest.single("Invalid body", "body must be a JSON object, not null", pointer="")
    return body


def _authenticate(operation: Operation, event: APIGatewayProxyEvent, raw_body: bytes) -> None:
    """Let in only a sender API Gateway checked by API key, one with a relay caller key (the
    vendor SDKs' `Authorization: ApiKey-v1`), or one that signed this request (once)."""
    cfg = settings()
    if cfg.caller_auth == "disabled":
        return
    if event.request_context.identity.api_key_id:
        return  # the key API: API Gateway has checked the sender's API key and usage plan
    authorization = callers.header(event.headers, "Authorization")
    if authorization is not None and callers.header(event.headers, callers.SIGNATURE_HEADER) is None:
        if not cfg.caller_api_keys_secret_arn:
            raise SettingsError("CALLER_API_KEYS_SECRET_ARN must be set to accept Authorization: ApiKey-v1")
        keys = callers.caller_keys(cfg.caller_api_keys_secret_arn, max_age=cfg.secret_max_age)
        callers.verify_api_key(authorization, keys=keys)
        return
    if not cfg.caller_signing_secret_arn:
        raise SettingsError("CALLER_SIGNING_SECRET_ARN must be set while CALLER_AUTH is required")
    secrets = callers.signing_secrets(cfg.caller_signing_secret_arn, max_age=cfg.secret_max_age)
    signature = callers.verify(
        callers.header(event.headers, callers.SIGNATURE_HEADER),
        secrets=secrets,
        method=event.http_method,
        path=operation.canonical_path(event.path_parameters, event.query_string_parameters),
        body=raw_body,
        idempotency_key=callers.header(event.headers, "Idempotency-Key"),
        prefer=callers.header(event.headers, "Prefer"),
        accept_v1=cfg.caller_signature_v1 == "accepted",
    )
    replay.remember(signature, table=cfg.idempotency_table_name)
    if signature.version == "v1":  # who still signs the old way, for the migration (README)
        logger.info("deprecated signature scheme v1", extra={"source_ip": event.request_context.identity.source_ip})


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
    )
    logger.info("request queued", extra={"message_id": message_id})
    body = json.dumps({"messageId": message_id, "status": "queued"}, separators=(",", ":"))
    return _response(202, body, {"Preference-Applied": "respond-async"})


def handle(operation: Operation, raw_event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    event = APIGatewayProxyEvent(raw_event)
    request_id = event.request_context.request_id
    logger.set_correlation_id(request_id)
    try:
        raw_body = _raw_body(event)
        _authenticate(operation, event, raw_body)
        key = _idempotency_key(event.headers)
        body = _json_body(event.headers, raw_body)
        query = event.query_string_parameters
        request = requests.parse(operation, event.path_parameters, body, query=query, raw=raw_body or None)
        if _wants_async(event.headers):
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
