"""What an entry of the emulator's operation table is (`Route`), and routing on the raw (still encoded) path.

The table itself is `operations.ROUTES`: one `Route` per Integration API operation, with its path
template, success status, body definition, query parameters and handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from local.emulator.errors import ApiError
from local.emulator.loyalty import Era
from local.emulator.model import Outcome
from local.emulator.state import Backend


@dataclass(frozen=True)
class QueryParam:
    """A query parameter as the spec declares it (`type`, `format`, `default`)."""

    name: str
    type: str  # "boolean" | "string" | "integer" | "array" (of strings: every value sent, each split on commas)
    format: str | None = None
    default: bool | str | int | None = None
    #: accepted values of a string parameter, or of an array's items (None: any, checked by `format`)
    values: tuple[str, ...] | None = None
    #: an integer's bounds
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Call:
    """One checked request, as a handler gets it (the caller holds the emulator's lock)."""

    backend: Backend
    #: the path parameters, decoded
    params: dict[str, str]
    #: the route's query parameters, typed, defaults filled in
    query: dict[str, Any]
    #: the body, checked against its definition ({} when the operation takes none)
    body: dict[str, Any]
    application_id: int
    #: the shape of v1 loyalty answers
    era: Era
    #: the request's headers as sent (those Talon.One acts on: `Idempotency-Key`)
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Outcome]


@dataclass(frozen=True)
class Route:
    """One operation the emulator serves: its route, its checks and its behaviour."""

    #: the spec's operationId
    operation: str
    method: str
    #: the spec's path template, e.g. `/v2/customer_sessions/{customerSessionId}`
    path: str
    status: int
    handle: Handler
    #: definition of the body in schemas/<version>.json (or in `definitions`); None: no body
    body: str | None = None
    #: the body must be present (v2); a v1 body may be empty (read as {})
    body_required: bool = False
    query: tuple[QueryParam, ...] = ()
    #: JSON Schema definitions this operation brings to schemas/<version>.json (merged when loaded)
    definitions: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def version(self) -> str:
        """`v1` or `v2`: which schema document (and which spec) describes it."""
        return self.path.split("/")[1]

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(part[1:-1] for part in self.path.split("/") if part.startswith("{"))


def route_path(route: Route) -> str:
    """The spec's path template of a route, e.g. `/v2/customer_sessions/{customerSessionId}`."""
    return route.path


def _params(route: Route, segments: list[str]) -> dict[str, str] | None:
    """The route's path parameters in these raw segments (None: the route does not match them)."""
    template = route.path.split("/")
    if len(template) != len(segments):
        return None
    if any(want != got for want, got in zip(template, segments, strict=True) if not want.startswith("{")):
        return None
    params: dict[str, str] = {}
    for want, got in zip(template, segments, strict=True):
        if want.startswith("{"):
            name = want[1:-1]
            try:
                params[name] = unquote(got, encoding="utf-8", errors="strict")
            except UnicodeDecodeError:
                raise ApiError(
                    400,
                    f"Path parameter {name} is not valid percent-encoded UTF-8",
                    title="Invalid path parameter",
                    parameter=name,
                ) from None
    return params


def match_route(routes: Sequence[Route], method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route and decoded path parameters of a raw (still percent-encoded) path.

    The path is split on "/" before decoding, so `%2F` inside an id never makes a new segment.
    """
    segments = raw_path.split("/")
    candidates = [(route, params) for route in routes if (params := _params(route, segments)) is not None]
    if not candidates:
        raise ApiError(404, f"No such endpoint: {raw_path}", title="Not found", pointer="")
    for route, params in candidates:
        if route.method == method:
            for name in route.parameters:
                if params[name] == "":
                    raise ApiError(
                        400,
                        f"Path parameter {name} must not be empty",
                        title="Invalid path parameter",
                        parameter=name,
                    )
            return route, params
    allowed = ", ".join(sorted({route.method for route, _ in candidates}))
    raise ApiError(
        405,
        f"Method {method} is not allowed here (allowed: {allowed})",
        title="Method not allowed",
        pointer="",
        headers={"Allow": allowed},
    )
