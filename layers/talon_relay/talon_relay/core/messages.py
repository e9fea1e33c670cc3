"""The SQS message format (docs/api.md, "Queue message formats"), both ways: a request without its verb.

Path parameters at the top level under their spec names, query parameters under `query`, the JSON
body under `body` (forwarded to Talon.One as the same JSON value), an optional non-empty
`idempotencyKey`; any other top-level key is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from talon_relay.config.applications import DEFAULT
from talon_relay.core import input_limits
from talon_relay.core.request import Request, parse_request
from talon_relay.errors import InvalidRequest
from talon_relay.operations import OPERATION_ATTRIBUTE, Operation

#: Top-level keys a message may carry besides the operation's path parameters.
_MESSAGE_KEYS = frozenset({"body", "query", "idempotencyKey"})


def encode(request: Request, idempotency_key: str | None) -> str:
    """The request as a message body (what the API's asynchronous mode queues)."""
    message: dict[str, Any] = dict(request.params)
    if request.query:
        message["query"] = dict(request.query)
    if request.body is not None:
        message["body"] = request.body
    if idempotency_key:
        message["idempotencyKey"] = idempotency_key
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def decode(operation: Operation, raw: str, application: str = DEFAULT) -> tuple[Request, str | None]:
    """A message body as a Request and its optional idempotency key; InvalidRequest names the fault.

    Whatever parsing, validating or serialising the message raises ends here as an InvalidRequest
    (a dead letter with its reason), never as another exception: a poison message must not hold up
    its FIFO group or stop an erasure run.
    """
    try:
        request, key = _decode(operation, raw, application)
        return request, key
    except InvalidRequest:
        raise
    except Exception as exc:  # a fault the limits did not foresee: the message is still to blame
        raise InvalidRequest.single(
            "Invalid message", f"message cannot be read: {type(exc).__name__}", line="1"
        ) from exc


def _decode(operation: Operation, raw: str, application: str) -> tuple[Request, str | None]:
    if not isinstance(raw, str):
        raise InvalidRequest.single("Invalid message", "message body must be text", line="1")
    message = input_limits.parse_json(raw, what="message body", max_depth=input_limits.MAX_DEPTH + 1)
    if not isinstance(message, dict):
        raise InvalidRequest.single("Invalid message", "message body must be a JSON object", pointer="")
    if unknown := sorted(set(message).difference(_MESSAGE_KEYS, operation.path_params)):
        raise InvalidRequest.single(
            "Invalid message",
            f"unknown top-level key(s) {unknown}; "
            f"expected {sorted(operation.path_params)}, query, body, idempotencyKey",
            pointer="/" + unknown[0],
        )
    key = message.get("idempotencyKey")
    if key is not None and (not isinstance(key, str) or not key):
        raise InvalidRequest.single(
            "Invalid message", "idempotencyKey must be a non-empty string", pointer="/idempotencyKey"
        )
    query = message.get("query")
    if query is not None and not isinstance(query, dict):
        raise InvalidRequest.single("Invalid message", "query must be an object of strings", pointer="/query")
    if "body" in message and message["body"] is None:
        raise InvalidRequest.single("Invalid message", "body must be a JSON object, not null", pointer="/body")
    try:
        params = {name: message.get(name) for name in operation.path_params}
        request = parse_request(operation, params, message.get("body"), query=query, application=application)
    except InvalidRequest as exc:
        # Body errors point into the message: /cartItems/0 of the body is /body/cartItems/0 here.
        for err in exc.response.errors or []:
            if err.source.pointer is not None:
                err.source.pointer = "/body" + err.source.pointer
        raise InvalidRequest(exc.response.errors or [], exc.response.message) from None
    return request, key


def operation_attribute(operation: Operation) -> dict[str, Any]:
    """The message attribute (SendMessage shape) that names `operation` on its shared queue; none elsewhere."""
    if operation.shared_queue is None:
        return {}
    return {OPERATION_ATTRIBUTE: {"DataType": "String", "StringValue": operation.name}}


def carried_operation(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's `relayOperation` (SendMessage shape), kept when it is dead-lettered, so a redrive
    brings it back to its operation on the shared queue."""
    found = (attributes or {}).get(OPERATION_ATTRIBUTE)
    value = found.get("stringValue", found.get("StringValue")) if isinstance(found, Mapping) else None
    return {OPERATION_ATTRIBUTE: {"DataType": "String", "StringValue": value}} if isinstance(value, str) else {}
