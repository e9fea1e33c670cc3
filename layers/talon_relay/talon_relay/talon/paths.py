"""Path parameters: each id checked and sent as exactly one path segment, whoever builds the call
(a caller's request, `core.request`; a typed call of the client in code, `talon.client`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talon_relay.errors import InvalidRequest, api_error
from talon_relay.wire.formats import rfc3339

if TYPE_CHECKING:
    from talon_relay.operations import Operation, QueryParam
    from talon_relay.wire.models import APIError

#: Characters of a path parameter (a session or customer id) before it is percent-encoded.
MAX_ID_CHARS = 512
_SURROGATE = re.compile("[\ud800-\udfff]")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
#: An int64 (the spec's `format: int64`).
_INT64 = 2**63


def check_segment(value: Any, *, name: str) -> str:
    """`value` when it can be one path segment, else ValueError saying why: a non-empty string, not a
    dot segment, not too long, and text that can be sent (valid Unicode)."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{name} is required and must be a non-empty string")
    if value in (".", ".."):
        # Dot segments are removed by URL normalisation (RFC 3986 5.2.4), even percent-encoded.
        raise ValueError(f"{name} cannot be {value!r}: it is not a usable path segment")
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{name} has {len(value):,} characters; at most {MAX_ID_CHARS} are allowed")
    found = _SURROGATE.search(value)
    if found:
        escaped = found.group().encode("utf-8", "backslashreplace").decode("utf-8")
        raise ValueError(f"{name} is not valid Unicode: lone surrogate {escaped} at {found.start()}")
    return value


def _integer_error(param: QueryParam, value: str) -> str | None:
    if not _INTEGER.fullmatch(value) or not -_INT64 <= int(value) < _INT64:
        return f"{param.name} must be an integer"
    low, high = param.minimum, param.maximum
    if (low is not None and int(value) < low) or (high is not None and int(value) > high):
        return f"{param.name} must be from {low if low is not None else '-'} to {high if high is not None else '-'}"
    return None


def _text_error(param: QueryParam, value: str) -> str | None:
    # a list's items are comma-separated (the SDK's `csv`); an enumerated one's are each checked
    items = value.split(",") if param.kind == "list" and param.values is not None else [value]
    if param.values is not None and any(item not in param.values for item in items):
        return f"{param.name} must be {'each ' if param.kind == 'list' else ''}one of {', '.join(param.values)}"
    if param.minimum is not None and len(value) < param.minimum:
        return f"{param.name} must have at least {param.minimum} characters"
    if param.maximum is not None and len(value) > param.maximum:
        return f"{param.name} must have at most {param.maximum} characters"
    return None


def value_error(param: QueryParam, value: Any) -> str | None:
    """Why `value` is not one the spec allows for the parameter (None: it is); the value is not echoed."""
    if not isinstance(value, str):
        return f"{param.name} must be a single string value"
    if found := _SURROGATE.search(value):  # cannot be sent as UTF-8, so not as part of Talon.One's URL
        return f"{param.name} is not valid Unicode: a lone surrogate at {found.start()}"
    if param.kind == "boolean" and value not in ("true", "false"):
        return f"{param.name} must be true or false"
    if param.kind == "yes-no" and value not in ("yes", "no"):
        return f"{param.name} must be yes or no"
    if param.kind == "date-time":
        try:
            rfc3339(value)
        except ValueError as exc:
            return f"{param.name} {exc}"
    if param.kind == "integer":
        return _integer_error(param, value)
    if param.kind in ("string", "list"):
        return _text_error(param, value)
    return None


def path_params(operation: Operation, params: Mapping[str, Any] | None) -> tuple[dict[str, str], list[APIError]]:
    """The operation's path parameters that are valid, and an error naming each one that is not."""
    errors: list[APIError] = []
    clean: dict[str, str] = {}
    params = params or {}
    for name in operation.path_params:
        try:
            clean[name] = check_segment(params.get(name), name=name)
        except ValueError as exc:
            errors.append(api_error("Invalid path parameter", str(exc), parameter=name))
    for check in operation.path_checks:
        problem = value_error(check, clean[check.name]) if check.name in clean else None
        if problem:
            del clean[check.name]
            errors.append(api_error("Invalid path parameter", problem, parameter=check.name))
    return clean, errors


def checked_params(operation: Operation, params: Mapping[str, Any] | None) -> dict[str, str]:
    """The path parameters, or InvalidRequest naming each that is not valid."""
    clean, errors = path_params(operation, params)
    if errors:
        raise InvalidRequest(errors)
    return clean
