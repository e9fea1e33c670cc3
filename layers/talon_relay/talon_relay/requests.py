"""A caller's request checked against its operation: path parameters and body, every fault named.

Whatever the trigger (API Gateway, an SQS message, the schedule), a request becomes a `Request`
here and only here, so a path id is validated once and a body is checked by one set of rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from talon_relay import limits
from talon_relay.errors import InvalidRequest
from talon_relay.models import APIError, ErrorSource, RequestModel
from talon_relay.operations import Operation


def path_segment(value: str, *, name: str) -> str:
    """Percent-encode `value` as exactly one path segment, so no id can change the path."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{name} must be a non-empty string")
    if value in (".", ".."):
        # Dot segments are removed by URL normalisation (RFC 3986 5.2.4), even percent-encoded.
        raise ValueError(f"{name} cannot be {value!r}: it is not a usable path segment")
    limits.check_id(value, name=name)
    return quote(value, safe="")


@dataclass(frozen=True)
class Request:
    """A validated call: its operation, path parameters by their spec names, and the body model."""

    operation: Operation
    params: Mapping[str, str]
    body: RequestModel | None

    @property
    def path(self) -> str:
        """The request path, each id percent-encoded as one segment (validated when parsed)."""
        return self.operation.canonical_path(dict(self.params))

    def body_bytes(self) -> bytes | None:
        """The JSON body to send (camelCase, only what the caller set), None without a body."""
        if self.body is None:
            return None
        return self.body.to_json()

    def payload(self) -> dict[str, Any]:
        """What identifies the request's content (for idempotency checks and queued copies)."""
        body = None
        if self.body is not None:
            body = self.body.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {"params": dict(self.params), "body": body}

    def group_id(self) -> str | None:
        """The customer key the request belongs to (its FIFO message group), when it has one."""
        key = self.operation.group_by
        if key is None:
            return None
        if key in self.params:
            return self.params[key]
        value = (self.payload()["body"] or {}).get(key)
        return value if isinstance(value, str) else None


def _path_params(operation: Operation, params: Mapping[str, Any] | None) -> tuple[dict[str, str], list[APIError]]:
    errors: list[APIError] = []
    clean: dict[str, str] = {}
    params = params or {}
    for name in operation.path_params:
        value = params.get(name)
        try:
            if not isinstance(value, str):
                raise ValueError(f"{name} is required and must be a string")
            path_segment(value, name=name)
        except ValueError as exc:
            errors.append(
                APIError(title="Invalid path parameter", details=str(exc), source=ErrorSource(parameter=name))
            )
        else:
            clean[name] = value
    return clean, errors


def build(operation: Operation, params: Mapping[str, Any] | None, body: RequestModel | None) -> Request:
    """A Request from an already typed body (library use); the path parameters are validated."""
    clean, errors = _path_params(operation, params)
    if errors:
        raise InvalidRequest(errors)
    return Request(operation=operation, params=clean, body=body)


def parse(operation: Operation, params: Mapping[str, Any] | None, body: Any) -> Request:
    """Validate path parameters and a JSON body; raise InvalidRequest naming every bad field."""
    clean, errors = _path_params(operation, params)
    model: RequestModel | None = None
    if operation.body_model is None:
        if body not in (None, "", {}):
            errors.append(
                APIError(
                    title="Unexpected body",
                    details=f"{operation.name} takes no request body",
                    source=ErrorSource(pointer=""),
                )
            )
    elif not isinstance(body, dict):
        errors.append(
            APIError(
                title="Invalid body",
                details=f"body must be a JSON object ({operation.body_model.__name__})",
                source=ErrorSource(pointer=""),
            )
        )
    else:
        try:
            model = operation.body_model.model_validate(body)
        except ValidationError as exc:
            errors.extend(validation_errors(exc))
    if errors:
        raise InvalidRequest(errors)
    return Request(operation=operation, params=clean, body=model)


def validation_errors(exc: ValidationError) -> list[APIError]:
    """Pydantic errors as spec APIErrors with JSON pointers; input values are never echoed."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        pointer = "".join(f"/{part}" for part in err["loc"])
        title = "Missing field" if err["type"] == "missing" else "Invalid field"
        if err["type"] == "extra_forbidden":
            title = "Unknown field"
        out.append(APIError(title=title, details=err["msg"], source=ErrorSource(pointer=pointer)))
    return out


def checked(request: Request) -> Request:
    """`request`, once its body is known to serialise (so the call cannot fail on it)."""
    try:
        request.body_bytes()
    except Exception as exc:  # the limits make this unreachable; a body is still never sent half-checked
        raise InvalidRequest.single(
            "Invalid body", f"body cannot be serialised: {type(exc).__name__}", pointer=""
        ) from exc
    return request
