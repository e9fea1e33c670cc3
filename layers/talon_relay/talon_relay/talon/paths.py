"""Path parameters: each id checked and sent as exactly one path segment, whoever builds the call
(a caller's request, `core.request`; a typed call of the client in code, `talon.client`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talon_relay.errors import InvalidRequest, api_error

if TYPE_CHECKING:
    from talon_relay.operations import Operation
    from talon_relay.wire.models import APIError

#: Characters of a path parameter (a session or customer id) before it is percent-encoded.
MAX_ID_CHARS = 512
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def path_params(operation: Operation, params: Mapping[str, Any] | None) -> tuple[dict[str, str], list[APIError]]:
    """The operation's path parameters that are valid, and an error naming each one that is not."""
    errors: list[APIError] = []
    clean: dict[str, str] = {}
    params = params or {}
    for name in operation.path_params:
        try:
            clean[name] = check_segment(params.get(name), name=name)
            if name in operation.integer_params and not (clean[name].isascii() and clean[name].isdigit()):
                raise ValueError(f"{name} must be an integer (digits only)")
        except ValueError as exc:
            errors.append(api_error("Invalid path parameter", str(exc), parameter=name))
    return clean, errors


def checked_params(operation: Operation, params: Mapping[str, Any] | None) -> dict[str, str]:
    """The path parameters, or InvalidRequest naming each that is not valid."""
    clean, errors = path_params(operation, params)
    if errors:
        raise InvalidRequest(errors)
    return clean
