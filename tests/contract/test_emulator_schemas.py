"""Contract: the emulator's own request schemas (local/emulator/schemas/) against the vendor's specs.

For every operation the emulator serves, its body definition must be the spec's, item by item, with
every `$ref` resolved on both sides: the same properties, required set, types, formats, enums,
lengths, minimums, closed or open objects. v1 routes follow the May 2019 Swagger file (the v1
operations it does not have, such as coupon reservations, the May 2026 file), v2 routes the May 2026
OpenAPI file (talon_one_openapi-v25.17.0.yaml). Only documentation keywords are left out
(`description`, `title`, `example`, `default`). The query parameters of today's routes and the success
statuses are checked too. A drift on either side (a property added, removed or retyped) fails here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from local.emulator.operations import ROUTES
from local.emulator.routes import Route, route_path
from local.emulator.validation import schema_document
from tests.contract.conftest import load_current_spec, load_spec

SWAGGER_2019 = load_spec()
#: Keywords that document a schema without constraining it.
DOCUMENTATION = frozenset({"description", "title", "example", "default"})


SPEC_2026 = load_current_spec()


def spec_of(route: Route) -> tuple[dict[str, Any], dict[str, Any]]:
    """(operation, definitions) of the spec that describes this route: a v1 route of 2019 the Swagger file's,
    any other (today's, loyalty's /v1/ paths included) today's."""
    if route.version == "v1" and route_path(route) in SWAGGER_2019["paths"]:
        return SWAGGER_2019["paths"][route_path(route)][route.method.lower()], SWAGGER_2019["definitions"]
    return SPEC_2026["paths"][route_path(route)][route.method.lower()], SPEC_2026["components"]["schemas"]


def body_ref(operation: dict[str, Any]) -> str:
    if "requestBody" in operation:  # OpenAPI 3
        ref: str = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    else:  # Swagger 2
        (body,) = [p for p in operation.get("parameters", []) if p["in"] == "body"]
        ref = body["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


# --- the comparison ---------------------------------------------------------------------------


def differences(
    spec: dict[str, Any],
    spec_defs: dict[str, Any],
    ours: dict[str, Any],
    our_defs: dict[str, Any],
    where: str = "",
    seen: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Every way `ours` differs from `spec` (refs resolved on both sides), each naming its place."""
    refs = (spec.get("$ref", ""), ours.get("$ref", ""))
    if refs != ("", ""):
        if refs in seen:  # a recursive definition: already being compared further up
            return []
        seen = seen | {refs}
    while "$ref" in spec:
        spec = spec_defs[spec["$ref"].rsplit("/", 1)[-1]]
    while "$ref" in ours:
        ours = our_defs[ours["$ref"].rsplit("/", 1)[-1]]
    found: list[str] = []
    spec_keys = {k for k in spec if k not in DOCUMENTATION and not k.startswith("x-")}
    for key in sorted(spec_keys | set(ours)):
        here = f"{where}.{key}" if where else key
        if key not in ours:
            found.append(f"{here}: in the spec ({spec[key]!r}), missing in the emulator")
        elif key not in spec_keys:
            found.append(f"{here}: in the emulator ({ours[key]!r}), not in the spec")
        elif key == "properties":
            for name in sorted(set(spec[key]) | set(ours[key])):
                if name not in ours[key]:
                    found.append(f"{here}.{name}: property removed in the emulator")
                elif name not in spec[key]:
                    found.append(f"{here}.{name}: property added in the emulator")
                else:
                    found += differences(spec[key][name], spec_defs, ours[key][name], our_defs, f"{here}.{name}", seen)
        elif key in ("items", "additionalProperties") and isinstance(spec[key], dict):
            if not isinstance(ours[key], dict):
                found.append(f"{here}: {ours[key]!r} in the emulator, a schema in the spec")
            else:
                found += differences(spec[key], spec_defs, ours[key], our_defs, here, seen)
        elif key == "required":
            if set(spec[key]) != set(ours[key]):
                found.append(f"{here}: {sorted(ours[key])} in the emulator, {sorted(spec[key])} in the spec")
        elif spec[key] != ours[key]:
            found.append(f"{here}: {ours[key]!r} in the emulator, {spec[key]!r} in the spec")
    return found


#: v3 routes are the June 2026 split specs' (tests/contract/test_june_2026.py)
MAY_2026_AND_BEFORE = [route for route in ROUTES if route.version != "v3"]
BODY_ROUTES = [route for route in MAY_2026_AND_BEFORE if route.body is not None]


def route_id(route: Route) -> str:
    return f"{route.method} {route_path(route)}"


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_body_schema_is_the_specs_definition(route: Route) -> None:
    # Given the spec's operation for the route and the emulator's schema document of its version
    operation, spec_defs = spec_of(route)
    our_defs = schema_document(route.version)["definitions"]
    # Then the route names the operation and the definition the spec gives its body
    assert operation["operationId"] == route.operation
    assert body_ref(operation) == route.body
    # And the emulator's definition is the spec's, all the way down
    assert route.body is not None
    problems = differences(spec_defs[route.body], spec_defs, our_defs[route.body], our_defs)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", MAY_2026_AND_BEFORE, ids=route_id)
def test_success_status_is_one_the_spec_lists(route: Route) -> None:
    operation, _ = spec_of(route)
    assert str(route.status) in operation["responses"]
    statuses = {code for code in operation["responses"] if code.startswith("2")}
    # (an operation with `silent` also answers 204 without a body: createReferralsForMultipleAdvocates)
    silent = {"204"} if any(q.name == "silent" for q in route.query) else set()
    assert statuses - silent == {str(route.status)}


#: the routes today's spec describes (v2, and the v1 operations the 2019 file does not have)
MAY_2026 = [
    r for r in ROUTES if r.version == "v2" or (r.version == "v1" and route_path(r) not in SWAGGER_2019["paths"])
]


@pytest.mark.parametrize("route", MAY_2026, ids=route_id)
def test_v2_query_parameters_are_the_specs(route: Route) -> None:
    operation, _ = spec_of(route)
    declared = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
    ours = {p.name: p for p in route.query}
    assert set(ours) == set(declared)
    for name, schema in declared.items():
        assert ours[name].type == schema["type"], name
        assert ours[name].format == schema.get("format"), name
        assert ours[name].default == schema.get("default"), name


def test_the_emulator_documents_hold_nothing_the_routes_do_not_reach() -> None:
    """Each schema document holds exactly the definitions its routes' bodies reach (no stale ones)."""
    for version in ("v1", "v2"):
        definitions = schema_document(version)["definitions"]
        reached: set[str] = set()
        pending = [route.body for route in BODY_ROUTES if route.version == version]
        while pending:
            name = pending.pop()
            if name is None or name in reached:
                continue
            reached.add(name)
            pending += [ref.rsplit("/", 1)[-1] for ref in _refs(definitions[name])]
        assert set(definitions) == reached, version


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


# --- the comparison catches drift (so the tests above can fail) -------------------------------


def _session_v1() -> tuple[dict[str, Any], dict[str, Any]]:
    return copy.deepcopy(schema_document("v1")["definitions"]), SWAGGER_2019["definitions"]


def _check(ours: dict[str, Any], spec_defs: dict[str, Any], name: str) -> list[str]:
    return differences(spec_defs[name], spec_defs, ours[name], ours)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["NewCustomerSession"]["properties"].pop("total"), "properties.total: property removed"),
        (
            lambda d: d["NewCustomerSession"]["properties"].update(tip={"type": "number"}),
            "properties.tip: property added",
        ),
        (lambda d: d["CartItem"]["properties"]["price"].update(type="string"), "properties.cartItems.items.properties"),
        (lambda d: d["NewEvent"]["required"].remove("sessionId"), "required"),
        (lambda d: d["CartItem"]["properties"]["quantity"].pop("minimum"), "quantity.minimum"),
        (lambda d: d["NewCustomerSession"]["properties"]["state"]["enum"].append("paid"), "state.enum"),
        (lambda d: d["NewCustomerSession"].pop("additionalProperties"), "additionalProperties"),
    ],
)
def test_a_drift_in_the_emulator_is_caught(change: Any, expected: str) -> None:
    ours, spec_defs = _session_v1()
    change(ours)
    name = next(n for n in ("NewCustomerSession", "NewEvent") if _check(ours, spec_defs, n))
    assert any(expected in problem for problem in _check(ours, spec_defs, name)), _check(ours, spec_defs, name)


def test_a_drift_in_the_spec_is_caught() -> None:
    # Given the 2026 spec with a CartItem property retyped and one added
    spec_defs = copy.deepcopy(SPEC_2026["components"]["schemas"])
    spec_defs["CartItem"]["properties"]["sku"]["type"] = "integer"
    spec_defs["IntegrationEventV2Request"]["properties"]["sessionId"] = {"type": "string"}
    ours = schema_document("v2")["definitions"]
    # Then both show, at their places
    session = differences(spec_defs["IntegrationRequest"], spec_defs, ours["IntegrationRequest"], ours)
    event = differences(spec_defs["IntegrationEventV2Request"], spec_defs, ours["IntegrationEventV2Request"], ours)
    assert any("customerSession.properties.cartItems.items.properties.sku.type" in p for p in session), session
    assert event == ["properties.sessionId: property removed in the emulator"]
