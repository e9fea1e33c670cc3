"""API Gateway's REST proxy events, read one way, and its proxy answers, written one way.

Both API adapters (`api`, an Integration API route; `webhook`, a webhook receiver's route) read their
events and shape their answers here. The event is read with plain dict lookups, as API Gateway's REST
proxy format has it (a Powertools event class would cost a cold start its import and every call its
wrappers, for the same fields).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from talon_relay.errors import InvalidRequest, RelayError
from talon_relay.observability import logger

Event = dict[str, Any]
#: A request's headers by lower-cased name (HTTP header names are case-insensitive).
Headers = dict[str, str]
Answer = dict[str, Any]


def is_api_event(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event


def headers(raw: Mapping[str, Any] | None) -> Headers:
    """Headers keyed by lower-cased name, made once per request (the first of two names that differ
    only in case wins, as a case-insensitive lookup would find it)."""
    found: Headers = {}
    for name, value in (raw or {}).items():
        if value is not None:
            found.setdefault(name.lower(), str(value))
    return found


def header(raw: Mapping[str, Any] | None, name: str) -> str | None:
    """One header of `raw`, looked up case-insensitively."""
    return headers(raw).get(name.lower())


def raw_body(event: Event) -> bytes:
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


#: What Lambda returns of a synchronous invocation at most (6 MB, its response payload quota), less room
#: for the answer's status and headers.
MAX_ANSWER_BYTES = 6 * 1024 * 1024 - 16 * 1024


def oversized(text: str) -> int | None:
    """The size of `text` in the invocation's answer (a JSON string, in UTF-8: the python3.12+ runtimes write
    non-ASCII as is, `ensure_ascii=False`) when Lambda could not return it, else None. Only a text over a
    sixth of the limit is measured (no character takes more there)."""
    if len(text) <= MAX_ANSWER_BYTES // 6:
        return None
    size = len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return size if size > MAX_ANSWER_BYTES else None


def answer(status: int, text: str, extra_headers: dict[str, str] | None = None) -> Answer:
    """A proxy answer; `text` is JSON passed on as it is (Talon.One's own bytes)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(extra_headers or {})},
        "body": text,
    }


def json_answer(status: int, body: Mapping[str, Any], extra_headers: dict[str, str] | None = None) -> Answer:
    return answer(status, json.dumps(body, separators=(",", ":")), extra_headers)


def error_answer(exc: RelayError, request_id: str | None) -> Answer:
    """An error's own answer (errors.py), logged at its level."""
    getattr(logger, exc.log_level)(exc.log_message, extra={"reason": exc.reason, "status": exc.api_status})
    extra = exc.api_headers()
    if request_id and exc.api_status >= 500:
        extra = {**extra, "X-Request-Id": request_id}
    return answer(exc.api_status, exc.api_text(), extra)


def unexpected_answer(request_id: str) -> Answer:
    """A failure nobody foresaw: the trace goes to the log, never to the caller."""
    logger.exception("unexpected error")
    return json_answer(500, {"message": "Internal error in the relay; see its logs"}, {"X-Request-Id": request_id})
