"""Contract: syncCatalog's entry and models (talon_relay.wire.catalogs) against the May 2026 spec and the
June 2026 split specs, and where the two differ, a test saying how."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from annotated_types import Ge, MaxLen, MinLen
from pydantic import BaseModel

from talon_relay.operations import OPERATIONS
from talon_relay.wire import catalogs
from tests.contract.conftest import leaves, load_current_spec
from tests.support import flat_schema, june_2026_operation

SPEC = load_current_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OP = OPERATIONS["syncCatalog"]
PY_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list}

#: The union's variants by their `type`.
VARIANTS: dict[str, type[BaseModel]] = {
    typing.get_args(model.model_fields["type"].annotation)[0]: model
    for model in typing.get_args(typing.get_args(catalogs.CatalogAction)[0])
}
#: Each action type's payload schema in the May spec.
PAYLOADS = {
    "ADD": "AddItemCatalogAction",
    "PATCH": "PatchItemCatalogAction",
    "PATCH_MANY": "PatchManyItemsCatalogAction",
    "REMOVE": "RemoveItemCatalogAction",
    "REMOVE_MANY": "RemoveManyItemsCatalogAction",
    "ADD_PRICE_ADJUSTMENT": "AddPriceAdjustmentCatalogAction",
}


def by_alias(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def same_fields(model: type[BaseModel], properties: dict[str, Any], required: set[str], where: str) -> None:
    fields = by_alias(model)
    assert set(fields) == set(properties), where
    assert {alias for alias, info in fields.items() if info.is_required()} == required, where
    for prop, definition in properties.items():
        found = leaves(fields[prop].annotation)
        kind = definition.get("type")
        if "enum" in definition:
            assert {("literal", v) for v in definition["enum"]} == found - {type(None)}, f"{where}.{prop}"
        elif kind == "object" and ("$ref" in definition or "required" in definition):
            assert any(isinstance(t, type) and issubclass(t, BaseModel) for t in found), f"{where}.{prop}"
        elif kind == "object" or "$ref" in definition:
            assert dict in found or any(isinstance(t, type) and issubclass(t, BaseModel) for t in found), where
        elif kind in PY_TYPES:
            assert PY_TYPES[kind] in found, f"{where}.{prop}"


# --- May 2026 -----------------------------------------------------------------------------------------


def test_the_entry_is_the_may_specs_operation() -> None:
    # Given the vendor's operation on the entry's method and path
    spec = SPEC["paths"][OP.path][OP.method.lower()]
    # Then it is syncCatalog, an Integration API operation, with its integer catalogId, body and answer
    assert spec["operationId"] == OP.name and "integration" in spec["tags"]
    (param,) = spec["parameters"]
    assert (param["name"], param["in"], param["schema"]["type"]) == ("catalogId", "path", "integer")
    assert OP.path_params == ("catalogId",)
    assert [(check.name, check.kind) for check in OP.path_checks] == [("catalogId", "integer")]
    body = spec["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/CatalogSyncRequest")
    assert OP.body_model is catalogs.CatalogSyncRequest and OP.body_required is body["required"] is True
    assert spec["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Catalog")
    assert OP.response_model is catalogs.Catalog and OP.success_status == 200
    # And it is queued per catalog, coalesced, and carries no effects
    assert (OP.group_by, OP.coalesce, OP.effects_at) == ("catalogId", True, None)


def test_the_sync_request_is_the_specs() -> None:
    schema = SCHEMAS["CatalogSyncRequest"]
    fields = by_alias(catalogs.CatalogSyncRequest)
    assert set(fields) == set(schema["properties"]) and schema["required"] == ["actions"]
    actions = schema["properties"]["actions"]
    meta = fields["actions"].metadata
    assert [m.min_length for m in meta if isinstance(m, MinLen)] == [actions["minItems"]] == [1]
    assert [m.max_length for m in meta if isinstance(m, MaxLen)] == [actions["maxItems"]] == [1000]
    minimum = schema["properties"]["version"]["minimum"]
    assert [m.ge for m in fields["version"].metadata if isinstance(m, Ge)] == [minimum]


def test_the_action_types_are_the_specs() -> None:
    assert tuple(VARIANTS) == tuple(SCHEMAS["CatalogAction"]["properties"]["type"]["enum"]) == catalogs.ACTION_TYPES


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_each_actions_payload_is_the_specs(kind: str) -> None:
    # Given the May spec's schema of the action type's payload
    schema = SCHEMAS[PAYLOADS[kind]]
    payload = VARIANTS[kind].model_fields["payload"].annotation
    assert isinstance(payload, type) and payload.__name__ == PAYLOADS[kind]
    # Then the model has its properties, required where the spec says
    same_fields(payload, schema["properties"], set(schema.get("required", [])), PAYLOADS[kind])


@pytest.mark.parametrize("name", ["NewPriceAdjustment", "Catalog"])
def test_the_parts_and_the_answer_are_the_specs(name: str) -> None:
    schema = SCHEMAS[name]
    same_fields(getattr(catalogs, name), schema["properties"], set(schema.get("required", [])), name)


def test_a_filters_value_is_any_json_value_though_the_schema_says_object() -> None:
    # Given the spec's filter: its `value` typed "object", while its own examples send "blue" and "45"
    schema = SCHEMAS["CatalogActionFilter"]
    description = SPEC["paths"][OP.path]["put"]["description"]
    assert schema["properties"]["value"]["type"] == "object" and '"value": "blue"' in description
    # Then the relay takes any JSON value there (as the vendor's SDK does: Any), and checks the rest
    fields = by_alias(catalogs.CatalogActionFilter)
    assert fields["value"].annotation is Any and fields["value"].is_required()
    same_fields(
        catalogs.CatalogActionFilter,
        {k: v for k, v in schema["properties"].items() if k != "value"} | {"value": {}},
        set(schema["required"]),
        "CatalogActionFilter",
    )


# --- June 2026, and how it differs ----------------------------------------------------------------------


def _june() -> dict[str, Any]:
    found = june_2026_operation(OP.path, OP.method)
    if found is None:
        pytest.skip("the June 2026 split specs are not in shared/reference beside the repository")
    return found


def test_the_june_spec_types_each_payload_by_its_action_type_where_may_leaves_it_open() -> None:
    # Given the June operation's body: actions as a oneOf on a const type
    body = _june()["requestBody"]["content"]["application/json"]["schema"]
    variants = body["properties"]["actions"]["items"]["oneOf"]
    # Then its types are the May enum, in order, and the union's tags
    assert [v["properties"]["type"]["const"] for v in variants] == list(VARIANTS)
    # And each variant's payload is the model's (May names each payload schema; June inlines it)
    for variant in variants:
        kind = variant["properties"]["type"]["const"]
        payload = variant["properties"]["payload"]
        model = VARIANTS[kind].model_fields["payload"].annotation
        assert isinstance(model, type)
        same_fields(model, payload.get("properties", {}), set(payload.get("required", [])), f"June {kind}")
    # The difference: May's CatalogAction.payload is an open object, the June spec types it per action
    assert SCHEMAS["CatalogAction"]["properties"]["payload"] == {"properties": {}, "type": "object"}
    # And the limits are the same
    assert (body["properties"]["actions"]["minItems"], body["properties"]["actions"]["maxItems"]) == (1, 1000)


def test_the_june_answer_is_the_may_catalog_and_its_catalog_id_has_no_int64_format() -> None:
    spec = _june()
    properties, required = flat_schema(spec["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(properties) == set(SCHEMAS["Catalog"]["properties"])
    assert required == set(SCHEMAS["Catalog"]["required"])
    # the difference: May says int64, June a plain integer; both an integer, which is what the relay checks
    (may,) = SPEC["paths"][OP.path]["put"]["parameters"]
    (june,) = spec["parameters"]
    assert may["schema"] == {"format": "int64", "type": "integer"} and june["schema"] == {"type": "integer"}
