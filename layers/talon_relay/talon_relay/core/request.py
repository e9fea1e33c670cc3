"""A caller's request checked against its operation: path and query parameters, and body.

Whatever the trigger (API Gateway, an SQS message, the schedule), a request becomes a `Request`
here and only here, so an id is validated once and a body is checked by one set of rules. The
checker is strict (no coercion, every fault named) and the forwarder exact: a `Request` keeps the
caller's body bytes, which are what Talon.One receives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic_core import ValidationError

from talon_relay.config.applications import DEFAULT
from talon_relay.core import checkers
from talon_relay.errors import InvalidRequest, api_error
from talon_relay.operations import Operation
from talon_relay.talon.paths import path_params, value_error

if TYPE_CHECKING:
    from talon_relay.wire.models import APIError


#: A body checked from its bytes in one pass (`checkers.valid_json`): its JSON value is read when first asked.
UNREAD: Any = object()


class _Body:
    """`Request.body`: the JSON value as given, or, for a body checked from its bytes (UNREAD), `raw` read
    on first use. A synchronous call forwards the bytes and needs no value: a 256 KB cart is not parsed
    twice (docs/performance.md)."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None  # the dataclass field's default
        value = obj.__dict__.get("_body")
        if value is UNREAD:
            value = json.loads(obj.raw)  # checked already: the same value input_limits.parse_json reads
            obj.__dict__["_body"] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["_body"] = value


@dataclass(frozen=True)
class Request:
    """A validated call: its operation, path and query parameters, and the body as sent; what the rest
    of the way needs of it is worked out once, here, when first asked."""

    operation: Operation
    params: Mapping[str, str]
    #: The JSON value of the body (None: no body).
    body: _Body = _Body()
    #: The body's bytes exactly as the caller sent them (what Talon.One receives).
    raw: bytes | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    #: The Talon.One application it is for (docs/applications.md), decided where it entered.
    application: str = DEFAULT
    #: The request path and query, each id percent-encoded as one segment.
    path: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", self.operation.canonical_path(dict(self.params), dict(self.query)))

    @cached_property
    def payload(self) -> dict[str, Any]:
        """What identifies the request's content (for idempotency checks and queued copies)."""
        return {"params": dict(self.params), "query": dict(self.query), "body": self.body}

    @cached_property
    def group_id(self) -> str | None:
        """The customer key the request belongs to (its FIFO message group), when it has one."""
        key = self.operation.group_by
        if key is not None and key in self.params:
            return self.params[key]
        body = self.body if key is not None else None
        if isinstance(body, dict) and isinstance(body.get(key), str):
            return body[key]  # type: ignore[no-any-return]
        return self.operation.group


def _query(operation: Operation, query: Mapping[str, Any] | None) -> tuple[dict[str, str], list[APIError]]:
    known = {param.name: param for param in operation.query_params}
    errors: list[APIError] = []
    clean: dict[str, str] = {}
    for name, value in (query or {}).items():
        param = known.get(name)
        problem = f"{operation.name} takes no query parameter {name}" if param is None else value_error(param, value)
        if problem:
            errors.append(api_error("Invalid query parameter", problem, parameter=name))
        else:
            clean[name] = value
    return clean, errors


def _body(operation: Operation, body: Any) -> list[APIError]:
    ref = operation.body
    if body is None:
        if ref is not None and operation.body_required:
            return [api_error("Missing body", f"{operation.name} needs a JSON body", pointer="")]
        return []
    if ref is None:
        if body in ("", {}):
            return []
        return [api_error("Unexpected body", f"{operation.name} takes no request body", pointer="")]
    if not isinstance(body, dict):
        return [api_error("Invalid body", f"body must be a JSON object ({ref.partition(':')[2]})", pointer="")]
    try:
        checkers.check(ref, body)
    except ValidationError as exc:
        return validation_errors(exc)
    return []


def parse_request(
    operation: Operation,
    params: Mapping[str, Any] | None,
    body: Any,
    *,
    query: Mapping[str, Any] | None = None,
    raw: bytes | None = None,
    application: str = DEFAULT,
) -> Request:
    """Check a request (the body as a parsed JSON value, `raw` its bytes when the caller sent
    bytes); raise InvalidRequest naming every fault. Nothing in the request is changed. `body` UNREAD:
    `raw` was checked against the operation's model already (`checkers.valid_json`)."""
    clean, errors = path_params(operation, params)
    clean_query, query_errors = _query(operation, query)
    errors += query_errors + ([] if body is UNREAD and raw is not None else _body(operation, body))
    if errors:
        raise InvalidRequest(errors)
    if operation.body is None or body is None:
        return Request(operation=operation, params=clean, query=clean_query, application=application)
    if raw is None:  # a queued message: the same JSON value, as compact JSON
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Request(operation=operation, params=clean, body=body, raw=raw, query=clean_query, application=application)


def validation_errors(exc: ValidationError) -> list[APIError]:
    """Pydantic errors as spec APIErrors with JSON pointers; input values are never echoed."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        pointer = "".join(f"/{part}" for part in err["loc"])
        title = "Missing field" if err["type"] == "missing" else "Invalid field"
        out.append(api_error(title, err["msg"], pointer=pointer))
    return out
