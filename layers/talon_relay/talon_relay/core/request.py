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
from typing import TYPE_CHECKING, Any

from pydantic_core import ValidationError

from talon_relay.config.applications import DEFAULT
from talon_relay.core import checkers
from talon_relay.errors import InvalidRequest, api_error
from talon_relay.operations import Operation
from talon_relay.talon.paths import path_params, value_error

if TYPE_CHECKING:
    from talon_relay.wire.models import APIError

#: The body of a request checked from its bytes (`checkers.valid_json`) whose JSON value no step reads: a
#: synchronous call without an idempotency key forwards `raw`, and a 256 KB cart is not parsed at all.
UNREAD: Any = type("Unread", (), {"__repr__": lambda self: "UNREAD"})()


@dataclass(frozen=True)
class Request:
    """A validated call: its operation, path and query parameters, and the body as sent; what the rest
    of the way needs of it is worked out once, here (plain fields after that, no code to run)."""

    operation: Operation
    params: Mapping[str, str]
    #: The JSON value of the body (None: no body; UNREAD: checked from `raw`, not read: no step needs it).
    body: Any = None
    #: The body's bytes exactly as the caller sent them (what Talon.One receives).
    raw: bytes | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    #: The Talon.One application it is for (docs/applications.md), decided where it entered.
    application: str = DEFAULT
    #: The request path and query, each id percent-encoded as one segment (made here unless given: the
    #: path a signature was checked against, when the parameters it was made of passed as they are).
    path: str = ""
    #: What identifies the request's content (for idempotency checks and queued copies).
    payload: dict[str, Any] = field(init=False)
    #: The customer key the request belongs to (its FIFO message group), when it has one.
    group_id: str | None = field(init=False)

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: set once, while it is made
        if not self.path:
            set_field(self, "path", self.operation.canonical_path(dict(self.params), dict(self.query)))
        set_field(self, "payload", {"params": dict(self.params), "query": dict(self.query), "body": self.body})
        key = self.operation.group_by
        group = self.operation.group
        if key is not None and key in self.params:
            group = self.params[key]
        elif key is not None and isinstance(self.body, dict) and isinstance(self.body.get(key), str):
            group = self.body[key]
        set_field(self, "group_id", group)


#: json.dumps(value, ensure_ascii=False, separators=(",", ":"))'s encoder, made once (dumps with options
#: makes one per call): a queued message's body as compact JSON
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


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
    checked: bool = False,
    keyed: bool = False,
    queued: bool = False,
    signed_path: str | None = None,
) -> Request:
    """Check a request (the body as a parsed JSON value, `raw` its bytes when the caller sent
    bytes); raise InvalidRequest naming every fault. Nothing in the request is changed. `checked`:
    `raw` passed the operation's checker already (`checkers.valid_json`), `body` UNREAD; its value is
    read only if a later step needs it: an idempotency record hashes it (`keyed`), a queued copy carries
    it (`queued`), or the customer key (the FIFO group) is one of its fields. `signed_path`: the canonical
    path a signature was checked against (`access.authenticate`), made of `params` and `query` as sent."""
    clean, errors = path_params(operation, params)
    clean_query, query_errors = _query(operation, query)
    errors += query_errors + ([] if checked and raw is not None else _body(operation, body))
    if errors:
        raise InvalidRequest(errors)
    group_key = operation.group_by
    if body is UNREAD and (keyed or queued or (group_key is not None and group_key not in clean)):
        body = json.loads(raw or b"")  # checked: the value input_limits.parse_json reads
    # the signed path is the request's own when the parameters passed unchanged (else it is made anew)
    path = signed_path if signed_path and clean == params and clean_query == (query or {}) else ""
    if operation.body is None or body is None:
        return Request(operation=operation, params=clean, query=clean_query, application=application, path=path)
    if raw is None:  # a queued message: the same JSON value, as compact JSON
        raw = _COMPACT.encode(body).encode()
    return Request(
        operation=operation, params=clean, body=body, raw=raw, query=clean_query, application=application, path=path
    )


def validation_errors(exc: ValidationError) -> list[APIError]:
    """Pydantic errors as spec APIErrors with JSON pointers; input values are never echoed."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        pointer = "".join(f"/{part}" for part in err["loc"])
        title = "Missing field" if err["type"] == "missing" else "Invalid field"
        out.append(api_error(title, err["msg"], pointer=pointer))
    return out
