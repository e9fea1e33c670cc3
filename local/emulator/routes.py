"""The Integration API operations the emulator serves, and routing on the raw (still encoded) path.

v1 routes are the five of May 2019; v2 routes are today's session, profile and event operations
(`talon_one_openapi-v25.17.0.yaml`). Each route names the definition in `schemas/<version>.json`
that its body must match, and the query parameters it reads (v1 routes read none: a query there is
ignored, as before).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from local.emulator.errors import ApiError


@dataclass(frozen=True)
class QueryParam:
    """A query parameter as the spec declares it (`type`, `format`, `default`)."""

    name: str
    type: str  # "boolean" | "string"
    format: str | None = None
    default: bool | str | None = None
    #: accepted values of a string parameter (None: any, checked by `format`)
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    #: the collection segment after /<version>/
    collection: str
    #: name of the path parameter, None for /v1/events, /v1/referrals and /v2/events
    parameter: str | None
    status: int
    version: str = "v1"
    #: definition of the body in schemas/<version>.json; None: the operation takes no body
    body: str | None = None
    #: the body must be present (v2); a v1 body may be empty (read as {})
    body_required: bool = False
    query: tuple[QueryParam, ...] = ()


_DRY = QueryParam("dry", "boolean")
#: trackEventV2's `silent` is a string in the spec: "yes" (default: answer 204) or "no" (answer 200).
#: "true"/"false" are read as "yes"/"no" too (see validation.query_values).
SILENT = QueryParam("silent", "string", default="yes", values=("yes", "no", "true", "false"))

ROUTES: tuple[Route, ...] = (
    Route("updateCustomerProfile", "PUT", "customer_profiles", "integrationId", 200, body="NewCustomerProfile"),
    Route("updateCustomerSession", "PUT", "customer_sessions", "customerSessionId", 200, body="NewCustomerSession"),
    Route("trackEvent", "POST", "events", None, 201, body="NewEvent"),
    Route("createReferral", "POST", "referrals", None, 201, body="NewReferral"),
    Route("deleteCustomerData", "DELETE", "customer_data", "integrationId", 204),
    Route(
        "updateCustomerSessionV2",
        "PUT",
        "customer_sessions",
        "customerSessionId",
        200,
        version="v2",
        body="IntegrationRequest",
        body_required=True,
        query=(_DRY, QueryParam("now", "string", format="date-time")),
    ),
    Route(
        "updateCustomerProfileV2",
        "PUT",
        "customer_profiles",
        "integrationId",
        200,
        version="v2",
        body="CustomerProfileIntegrationRequestV2",
        body_required=True,
        query=(QueryParam("runRuleEngine", "boolean", default=False), _DRY),
    ),
    Route(
        "trackEventV2",
        "POST",
        "events",
        None,
        200,
        version="v2",
        body="IntegrationEventV2Request",
        body_required=True,
        query=(SILENT, _DRY, QueryParam("forceCompleteEvaluation", "boolean", default=False)),
    ),
)

VERSIONS = frozenset(route.version for route in ROUTES)


def route_path(route: Route) -> str:
    """The spec's path template of a route, e.g. `/v2/customer_sessions/{customerSessionId}`."""
    tail = f"/{{{route.parameter}}}" if route.parameter else ""
    return f"/{route.version}/{route.collection}{tail}"


def match_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route and decoded path parameter of a raw (still percent-encoded) path.

    The path is split on "/" before decoding, so `%2F` inside an id never makes a new segment.
    """
    segments = raw_path.split("/")
    candidates: list[tuple[Route, dict[str, str]]] = []
    if len(segments) in (3, 4) and segments[0] == "" and segments[1] in VERSIONS:
        for route in ROUTES:
            if segments[1] != route.version or segments[2] != route.collection:
                continue
            if route.parameter is None and len(segments) == 3:
                candidates.append((route, {}))
            elif route.parameter is not None and len(segments) == 4:
                try:
                    value = unquote(segments[3], encoding="utf-8", errors="strict")
                except UnicodeDecodeError:
                    raise ApiError(
                        400,
                        f"Path parameter {route.parameter} is not valid percent-encoded UTF-8",
                        title="Invalid path parameter",
                        parameter=route.parameter,
                    ) from None
                candidates.append((route, {route.parameter: value}))
    if not candidates:
        raise ApiError(404, f"No such endpoint: {raw_path}", title="Not found", pointer="")
    for route, params in candidates:
        if route.method == method:
            if route.parameter is not None and params[route.parameter] == "":
                raise ApiError(
                    400,
                    f"Path parameter {route.parameter} must not be empty",
                    title="Invalid path parameter",
                    parameter=route.parameter,
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
