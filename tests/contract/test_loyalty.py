"""Contract: the loyalty and achievement entries (operations/loyalty.py), their request and answer models
(wire/loyalty.py) and the emulator's routes against today's spec (talon_one_openapi-v25.17.0.yaml) and the
June 2026 split specs; where those two differ, the test below says how."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from local.emulator.operations import ROUTES
from talon_relay.operations import OPERATIONS, Operation, QueryParam, loyalty
from tests.contract.conftest import leaves, load_current_spec
from tests.support import flat_schema, june_2026_operation

SPEC = load_current_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
ENTRIES = [op for op in OPERATIONS.values() if any(op is value for value in vars(loyalty).values())]


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def may(op: Operation) -> dict[str, Any]:
    found: dict[str, Any] = SPEC["paths"][op.path][op.method.lower()]
    return found


def june(op: Operation) -> dict[str, Any]:
    found = june_2026_operation(op.path, op.method)
    if found is None:
        pytest.skip("the June 2026 split specs are not in shared/reference beside the repository")
    return found


def expected_kind(schema: dict[str, Any]) -> QueryParam:
    """The relay's parameter for a spec parameter's schema (name left empty)."""
    if schema["type"] == "array":
        items = schema["items"].get("enum")
        return QueryParam("", "list", tuple(items) if items else None)
    if schema["type"] == "integer":
        return QueryParam("", "integer", None, schema.get("minimum"), schema.get("maximum"))
    if schema.get("format") == "date-time":
        return QueryParam("", "date-time")
    if schema["type"] == "boolean":
        return QueryParam("", "boolean")
    values = schema.get("enum")
    return QueryParam("", "string", tuple(values) if values else None, schema.get("minLength"), schema.get("maxLength"))


def test_thirteen_entries_all_of_todays_spec() -> None:
    assert len(ENTRIES) == 13
    assert {op.name for op in ENTRIES} <= {
        item[method]["operationId"] for item in SPEC["paths"].values() for method in item if method != "parameters"
    }


@pytest.mark.parametrize("op", ENTRIES, ids=lambda op: op.name)
def test_each_entry_is_the_may_specs_operation(op: Operation) -> None:
    # Given the vendor's operation on the entry's method and path
    spec = may(op)
    assert spec["operationId"] == op.name
    parameters = spec.get("parameters", [])
    # Then its path parameters are the entry's, each typed beyond text checked as the spec types it
    path = {p["name"]: p["schema"] for p in parameters if p["in"] == "path"}
    assert list(path) == list(op.path_params)
    typed = {name: expected_kind(schema) for name, schema in path.items() if schema != {"type": "string"}}
    assert {check.name: check._replace(name="") for check in op.path_checks} == typed
    # And its query parameters, each of the spec's kind, values and bounds
    query = {p["name"]: expected_kind(p["schema"]) for p in parameters if p["in"] == "query"}
    assert {q.name: q._replace(name="") for q in op.query_params} == query
    # And its body, answer and success status
    successes = sorted(int(code) for code in spec["responses"] if code.startswith("2"))
    assert op.success_status == successes[0]
    body = spec.get("requestBody")
    assert (op.body_model.__name__ if op.body_model else None) == (
        body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1] if body else None
    )
    assert op.body_required is bool(body and body.get("required"))
    assert op.effects_at is None  # no loyalty answer carries effects
    content = spec["responses"][str(op.success_status)].get("content") or None  # 204: none
    assert (op.response is None) is (content is None)


@pytest.mark.parametrize("op", ENTRIES, ids=lambda op: op.name)
def test_the_june_spec_has_the_same_operation_but_one_parameter(op: Operation) -> None:
    # Given the June 2026 split specs' operation on the same route
    spec = june(op)
    assert spec["operationId"] == op.name
    params = {(p["in"], p["name"]): p["schema"] for p in spec.get("parameters", [])}
    ours = {(p["in"], p["name"]): p["schema"] for p in may(op).get("parameters", [])}
    assert params.keys() == ours.keys()
    # Then they agree on every parameter's kind, but one: June makes getLoyaltyProgramProfilePoints'
    # subledgerId an array (May: one string), as the card reads have it; the relay takes one value of either
    differ = {key for key in params if expected_kind(params[key]) != expected_kind(ours[key])}
    if op.name == "getLoyaltyProgramProfilePoints":
        assert differ == {("query", "subledgerId")}
        assert (params[("query", "subledgerId")]["type"], ours[("query", "subledgerId")]["type"]) == ("array", "string")
    else:
        assert differ == set()
    assert sorted(c for c in spec["responses"] if c.startswith("2")) == [str(op.success_status)]


# --- the models -------------------------------------------------------------------------------------


def differences(model: type[BaseModel], schema: dict[str, Any], where: str) -> list[str]:
    """Every way the model differs from the spec's schema: properties, required, nested models, enums."""
    properties, required = flat_schema(resolved(schema))
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    found = [f"{where}.{name}: not in the spec" for name in set(fields) - set(properties)]
    found += [f"{where}.{name}: missing" for name in set(properties) - set(fields)]
    mine = {name for name, info in fields.items() if info.is_required()}
    if mine != required:
        found.append(f"{where}: required {sorted(mine)}, the spec {sorted(required)}")
    for name in set(fields) & set(properties):
        prop = resolved(properties[name])
        inner = prop.get("items") or prop.get("additionalProperties") or properties[name]
        nested = [t for t in leaves(fields[name].annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        if nested and isinstance(inner, dict):
            found += differences(nested[0], inner, f"{where}.{name}")
        values = (prop.get("items") or prop).get("enum")
        if values and not nested:
            literals = {value for kind, value in (t for t in leaves(fields[name].annotation) if isinstance(t, tuple))}
            if literals and literals != set(values):
                found.append(f"{where}.{name}: {sorted(literals)}, the spec {sorted(values)}")
    return found


@pytest.mark.parametrize("op", [op for op in ENTRIES if op.body], ids=lambda op: op.name)
def test_each_request_model_is_the_specs_body(op: Operation) -> None:
    schema = may(op)["requestBody"]["content"]["application/json"]["schema"]
    assert op.body_model is not None
    assert differences(op.body_model, schema, op.body_model.__name__) == []
    config = op.body_model.model_config
    assert (config.get("strict"), config.get("extra")) == (True, "allow")


@pytest.mark.parametrize("op", [op for op in ENTRIES if op.response], ids=lambda op: op.name)
def test_each_answer_model_is_the_specs_answer(op: Operation) -> None:
    schema = may(op)["responses"][str(op.success_status)]["content"]["application/json"]["schema"]
    assert op.response_model is not None
    assert differences(op.response_model, schema, op.response_model.__name__) == []


# --- the emulator -----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ENTRIES, ids=lambda op: op.name)
def test_the_emulators_query_parameters_are_the_specs(op: Operation) -> None:
    (route,) = [r for r in ROUTES if r.operation == op.name]
    declared = {p["name"]: p["schema"] for p in may(op).get("parameters", []) if p["in"] == "query"}
    assert {q.name for q in route.query} == set(declared)
    for param in route.query:
        schema = declared[param.name]
        assert param.type == schema["type"], param.name
        assert param.default == schema.get("default"), param.name
        assert param.format == schema.get("format"), param.name
        enum = schema.get("enum") or schema.get("items", {}).get("enum")
        assert param.values == (tuple(enum) if enum else None), param.name
