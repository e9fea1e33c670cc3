"""Contract: today's operations (v2) in the operation table and talon_relay.wire.models_v2 against the
current vendor spec (talon_one_openapi-v25.17.0.yaml), item by item."""

from __future__ import annotations

from typing import Any

import pytest
from annotated_types import Ge, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from talon_relay.operations import OPERATIONS, Operation
from talon_relay.wire import audiences, coupons, loyalty, models_v2
from tests.contract.conftest import leaves, load_current_spec, load_spec

SPEC = load_current_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
V2 = [op for op in OPERATIONS.values() if op.path.startswith("/v2/")]


def _request_models() -> list[str]:
    """The models a v2 entry's request body reaches (its own and every model named in its fields)."""
    found: list[str] = []
    pending: list[type[BaseModel]] = [op.body_model for op in V2 if op.body_model is not None]
    while pending:
        model = pending.pop(0)
        if model.__name__ in found:
            continue
        found.append(model.__name__)
        for info in model.model_fields.values():
            pending += [t for t in leaves(info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    return found


MODELS = _request_models()
PY_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict}


def spec_operation(op: Operation) -> dict[str, Any]:
    found = SPEC["paths"][op.path][op.method.lower()]
    assert isinstance(found, dict)
    return found


def schema_name(ref: str) -> str:
    assert ref.startswith("#/components/schemas/")
    return ref.removeprefix("#/components/schemas/")


#: The wire modules today's request models live in (one per API area beside models_v2).
WIRE_MODULES = (models_v2, audiences, coupons, loyalty)


def model_of(name: str) -> type[BaseModel]:
    model = next((getattr(m, name) for m in WIRE_MODULES if hasattr(m, name)), None)
    assert isinstance(model, type) and issubclass(model, BaseModel), f"no wire module holds {name}"
    return model


def by_alias(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


# --- the operations ----------------------------------------------------------------------------------


def test_the_current_spec_serves_each_v2_entry_and_not_the_v1_one_it_replaces() -> None:
    # Given the Integration API operations of today's spec
    integration = {
        op["operationId"]
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "integration" in op.get("tags", [])
    }
    # Then every v2 entry of the table is one of them
    assert V2
    assert {op.name for op in V2} <= integration
    # And the v1 entries that a V2 entry replaces (sessions, profiles, events) are served only under /v2/:
    # the relay keeps them for a Talon.One that still has them
    # (of 2019's operations: createAudienceV2 and the like replace nothing the relay ever served)
    of_2019 = {
        op["operationId"] for item in load_spec()["paths"].values() for op in item.values() if isinstance(op, dict)
    }
    replaced = {op.name.removesuffix("V2") for op in V2 if op.name.endswith("V2")} & of_2019
    assert replaced
    assert replaced <= {op.name for op in OPERATIONS.values() if op.path.startswith("/v1/")}
    assert not replaced & integration


def test_the_request_models_are_found_from_the_table() -> None:
    # Given the models the v2 entries' bodies reach
    # Then they hold the bodies and the parts they are made of (so each is compared with the spec below)
    assert {op.body_model.__name__ for op in V2 if op.body_model is not None} <= set(MODELS)
    assert {"CartItem", "Product", "AdditionalCost", "ProfileAudiencesChanges"} <= set(MODELS)


@pytest.mark.parametrize("op", V2, ids=lambda op: op.name)
def test_each_v2_entry_is_the_specs_operation(op: Operation) -> None:
    # Given the vendor's operation on the entry's method and path
    spec = spec_operation(op)
    # Then it is the same operation, with the same path and query parameters
    assert spec["operationId"] == op.name
    parameters = spec.get("parameters", [])
    assert [p["name"] for p in parameters if p["in"] == "path"] == list(op.path_params)
    kinds = {"boolean": "boolean", "string": "yes-no"}
    for param in (p for p in parameters if p["in"] == "query"):
        (mine,) = [q for q in op.query_params if q.name == param["name"]]
        expected = "date-time" if param["schema"].get("format") == "date-time" else kinds[param["schema"]["type"]]
        assert mine.kind == expected, param["name"]
    assert {q.name for q in op.query_params} == {p["name"] for p in parameters if p["in"] == "query"}
    # And the body model is the spec's request schema, required as the spec requires it
    body = spec.get("requestBody")
    if body is None:  # reopenCustomerSession, getCustomerSession: no body
        assert op.body is None and not op.body_required
        return
    assert op.body_model is not None
    assert op.body_model.__name__ == schema_name(body["content"]["application/json"]["schema"]["$ref"])
    assert op.body_required is bool(body.get("required"))
    # And its success status is the spec's (trackEventV2 also has 204: silent, no body)
    successes = sorted(int(code) for code in spec["responses"] if code.startswith("2"))
    assert op.success_status == successes[0]


@pytest.mark.parametrize("op", V2, ids=lambda op: op.name)
def test_effects_are_read_where_the_spec_puts_them(op: Operation) -> None:
    spec = spec_operation(op)
    content = spec["responses"][str(op.success_status)].get("content", {})
    if "application/json" not in content:  # a 204 without a body (deleteAudienceV2, ...)
        assert op.effects_at is None
        return
    response = content["application/json"]["schema"]
    answer = SCHEMAS[schema_name(response["$ref"])]
    if "effects" not in answer.get("properties", {}):  # an answer without effects (a loyalty card, ...)
        assert op.effects_at is None
        return
    assert op.effects_at == ("effects",)
    # (getCustomerSession's answer may leave them out: its effects are not required)
    assert "effects" in answer.get("required", ["effects"]) and "effects" in answer["properties"]
    assert schema_name(answer["properties"]["effects"]["items"]["$ref"]) == "Effect"


def test_the_spec_effect_carries_what_the_relay_logs() -> None:
    effect = SCHEMAS["Effect"]
    assert {"campaignId", "rulesetId", "ruleIndex", "ruleName", "effectType", "props"} <= set(effect["required"])


# --- the request models ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_properties_required_and_constraints_match(name: str) -> None:
    # Given the spec's schema and the model's fields by wire name
    schema = SCHEMAS[name]
    fields = by_alias(model_of(name))
    props: dict[str, Any] = schema.get("properties", {})
    # Then the model has exactly the spec's properties, required where the spec says
    assert set(fields) == set(props), name
    assert {alias for alias, info in fields.items() if info.is_required()} == set(schema.get("required", []))
    for prop, definition in props.items():
        info = fields[prop]
        where = f"{name}.{prop}"
        found = leaves(info.annotation)
        # types (a $ref is the model of that name; a date-time stays text)
        if "$ref" in definition:
            assert model_of(schema_name(definition["$ref"])) in found, where
        elif definition.get("type") == "array":
            assert list in found, where
            items = definition["items"]
            if "$ref" in items:
                assert model_of(schema_name(items["$ref"])) in found, where
            elif "enum" in items:
                assert {("literal", v) for v in items["enum"]} <= found, where
            else:
                assert PY_TYPES[items["type"]] in found, where
        elif "enum" in definition:
            assert {("literal", v) for v in definition["enum"]} == found - {type(None)}, where
        else:
            assert PY_TYPES[definition["type"]] in found, where
        # constraints
        metadata = info.metadata
        assert [m.min_length for m in metadata if isinstance(m, MinLen)] == (
            [definition["minLength"]] if "minLength" in definition else []
        ), where
        max_len = definition.get("maxLength", definition.get("maxItems"))
        assert [m.max_length for m in metadata if isinstance(m, MaxLen)] == ([max_len] if max_len else []), where
        # (an integer the spec types int64, or leaves at Talon.One's int64, is bounded to int64: base.Int64)
        int64 = definition.get("type") == "integer" and definition.get("format") in {None, "int64"}
        assert [m.ge for m in metadata if isinstance(m, Ge) and not (int64 and m.ge == -(2**63))] == (
            [definition["minimum"]] if "minimum" in definition else []
        ), where


@pytest.mark.parametrize("name", MODELS)
def test_request_models_are_strict_and_open(name: str) -> None:
    config = model_of(name).model_config
    assert config.get("strict") is True and config.get("allow_inf_nan") is False
    assert config.get("extra") == "allow"
