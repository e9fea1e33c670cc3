"""Contract: audiences, coupon reservations, best prior price, referrals for several advocates, the
customer's inventory and bulk profile updates, against the May 2026 spec (talon_one_openapi-v25.17.0.yaml)
and the June 2026 split specs: the operations, their request models (the v1-path ones included, which
test_spec_models_v2.py leaves out), their answers' models, and where the two specs differ."""

from __future__ import annotations

from typing import Any

import pytest
from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import BaseModel

from talon_relay.core import checkers
from talon_relay.operations import OPERATIONS, Operation, load_model
from talon_relay.operations import audiences as audience_area
from talon_relay.operations import coupons as coupon_area
from talon_relay.wire import audiences, coupons
from tests.contract.conftest import leaves, load_current_spec
from tests.support import flat_schema, june_2026_operation

SPEC = load_current_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
NAMES = [
    "createAudienceV2",
    "updateAudienceV2",
    "deleteAudienceV2",
    "deleteAudienceMembershipsV2",
    "updateAudienceCustomersAttributes",
    "updateCustomerProfileAudiences",
    "createCouponReservation",
    "deleteCouponReservation",
    "getReservedCustomers",
    "bestPriorPrice",
    "createReferralsForMultipleAdvocates",
    "getCustomerInventory",
    "updateCustomerProfilesV2",
]
OPS = [OPERATIONS[name] for name in NAMES]
#: the answers' models by the spec's schema name (library use; the relay passes answers on as sent)
ANSWERS = {
    "Audience": audiences.Audience,
    "MultipleCustomerProfileIntegrationResponseV2": audiences.MultipleCustomerProfileIntegrationResponseV2,
    "Coupon": coupons.Coupon,
    "inline_response_200_1": coupons.ReservedCustomers,
    "BestPriorPrice": coupons.BestPriorPrice,
    "inline_response_201": coupons.ReferralsCreated,
    "CustomerInventory": coupons.CustomerInventory,
}
PY_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict}


def spec_operation(op: Operation) -> dict[str, Any]:
    found = SPEC["paths"][op.path][op.method.lower()]
    assert isinstance(found, dict)
    return found


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def by_alias(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def test_the_areas_hold_these_entries() -> None:
    # Then the audience and coupon areas are where their entries are, and every name is in the table
    assert {op.name for op in vars(audience_area).values() if isinstance(op, Operation)} == set(NAMES[:6])
    assert {op.name for op in vars(coupon_area).values() if isinstance(op, Operation)} == set(NAMES[6:10])


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_each_entry_is_the_may_specs_operation(op: Operation) -> None:
    # Given the vendor's operation on the entry's method and path
    spec = spec_operation(op)
    assert spec["operationId"] == op.name and "integration" in spec["tags"]
    parameters = spec.get("parameters", [])
    # Then the path parameters are the spec's, those typed integer checked as integers
    path = [p for p in parameters if p["in"] == "path"]
    assert [p["name"] for p in path] == list(op.path_params)
    assert [p["name"] for p in path if p["schema"]["type"] == "integer"] == [
        c.name for c in op.path_checks if c.kind == "integer"
    ]
    # And the query parameters are the spec's, of the same kind
    kinds = {"boolean": "boolean", "string": "yes-no"}
    query = {p["name"]: kinds[p["schema"]["type"]] for p in parameters if p["in"] == "query"}
    assert {q.name: q.kind for q in op.query_params} == query
    # And the body is the spec's schema, required as the spec requires it
    body = spec.get("requestBody")
    if body is None:
        assert op.body is None
    else:
        assert op.body_model is not None
        assert op.body_model.__name__ == ref_name(body["content"]["application/json"]["schema"]["$ref"])
        assert op.body_required is bool(body.get("required"))
    # And the success status is the spec's first (the `silent` ones also answer 204)
    successes = sorted(int(code) for code in spec["responses"] if code.startswith("2"))
    assert op.success_status == successes[0]
    # And none of their answers carries effects
    assert op.effects_at is None


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_the_answer_model_is_the_specs_answer(op: Operation) -> None:
    # Given the spec's answer of the success status
    content = spec_operation(op)["responses"][str(op.success_status)].get("content", {})
    if "application/json" not in content:  # 204: no body
        assert op.response is None
        return
    schema = content["application/json"]["schema"]
    if schema.get("$ref", "").endswith("/BestPriorPriceResponse"):  # an array: its items' model, library use
        assert op.response is None
        return
    # Then the entry names the model of that schema
    assert op.response is not None
    assert load_model(op.response) is ANSWERS[ref_name(schema["$ref"])]


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_answer_models_require_what_the_spec_requires(name: str) -> None:
    # Given an answer's schema and its model
    schema, fields = SCHEMAS[name], by_alias(ANSWERS[name])
    # Then every field is a spec property, and the required ones are the spec's
    assert set(fields) <= set(schema["properties"]), name
    assert {alias for alias, info in fields.items() if info.is_required()} == set(schema.get("required", [])), name


def _request_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [op.body_model for op in OPS if op.body_model is not None]
    while pending:
        model = pending.pop(0)
        if model not in found:
            found.append(model)
            for info in model.model_fields.values():
                pending += [t for t in leaves(info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    return found


MODELS = _request_models()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_request_models_are_the_specs_schemas(model: type[BaseModel]) -> None:
    # Given the spec's schema of the model's name
    schema = SCHEMAS[model.__name__]
    fields = by_alias(model)
    props: dict[str, Any] = schema.get("properties", {})
    # Then it has the spec's properties, required alike, strict and open
    assert set(fields) == set(props)
    assert {alias for alias, info in fields.items() if info.is_required()} == set(schema.get("required", []))
    config = model.model_config
    assert config.get("strict") is True and config.get("extra") == "allow"
    for prop, definition in props.items():
        info, where = fields[prop], f"{model.__name__}.{prop}"
        found = leaves(info.annotation)
        if "$ref" in definition:
            assert any(getattr(t, "__name__", None) == ref_name(definition["$ref"]) for t in found), where
        elif "enum" in definition:
            assert {("literal", v) for v in definition["enum"]} == found - {type(None)}, where
        elif definition["type"] == "array":
            assert list in found, where
        else:
            assert PY_TYPES[definition["type"]] in found, where
        # and its constraints, array sizes and maximums included
        metadata = info.metadata
        low = definition.get("minLength", definition.get("minItems"))
        high = definition.get("maxLength", definition.get("maxItems"))
        assert [m.min_length for m in metadata if isinstance(m, MinLen)] == ([low] if low else []), where
        assert [m.max_length for m in metadata if isinstance(m, MaxLen)] == ([high] if high else []), where
        # (an integer's int64 bound, base.Int64, is Talon.One's range, not a minimum of the spec's)
        assert [m.ge for m in metadata if isinstance(m, Ge) and m.ge != -(2**63)] == (
            [definition["minimum"]] if "minimum" in definition else []
        )
        assert [m.le for m in metadata if isinstance(m, Le) and m.le != 2**63 - 1] == (
            [definition["maximum"]] if "maximum" in definition else []
        )


# --- where the June 2026 split specs differ ------------------------------------------------------------


def _june(op: Operation) -> dict[str, Any]:
    found = june_2026_operation(op.path, op.method)
    if found is None:
        pytest.skip("the June 2026 split specs are not in shared/reference beside the repository")
    return found


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_the_june_specs_have_the_same_operation(op: Operation) -> None:
    # Given the June spec's operation on the entry's path
    june, may = _june(op), spec_operation(op)
    # Then it is the same operation, with the same parameters
    assert june["operationId"] == op.name
    assert sorted((p["in"], p["name"]) for p in june.get("parameters", [])) == sorted(
        (p["in"], p["name"]) for p in may.get("parameters", [])
    )
    # And the same success statuses, but for updateCustomerProfilesV2, where June adds the 204 of silent=yes
    # (its default) that May leaves out: the relay passes either on as sent
    added = {"204"} if op.name == "updateCustomerProfilesV2" else set()
    assert {c for c in june["responses"] if c.startswith("2")} == {
        c for c in may["responses"] if c.startswith("2")
    } | added


@pytest.mark.parametrize("name", ["createAudienceV2", "updateAudienceV2"])
def test_june_adds_subscribed_applications_to_audiences_which_pass_through_unchecked(name: str) -> None:
    # Given the audience bodies of both specs
    op = OPERATIONS[name]
    june, _ = flat_schema(_june(op)["requestBody"]["content"]["application/json"]["schema"])
    assert op.body_model is not None
    may = set(SCHEMAS[op.body_model.__name__]["properties"])
    # Then June adds subscribedApplicationsIds, which the relay's model (May's) does not name
    assert set(june) - may == {"subscribedApplicationsIds"}
    assert "subscribedApplicationsIds" not in by_alias(op.body_model)
    # And a body with it passes the checker as it is (it is Talon.One's to judge)
    body = {"name": "VIP", "subscribedApplicationsIds": [3, 13]}
    checkers.check(op.body or "", body)  # raises on a fault
    assert body == {"name": "VIP", "subscribedApplicationsIds": [3, 13]}


#: (the audience bodies differ: test_june_adds_subscribed_applications_...)
SAME_BODIES = [op for op in OPS if op.body is not None and op.name not in ("createAudienceV2", "updateAudienceV2")]


@pytest.mark.parametrize("op", SAME_BODIES, ids=lambda op: op.name)
def test_june_bodies_are_mays_but_for_audiences(op: Operation) -> None:
    june, required = flat_schema(_june(op)["requestBody"]["content"]["application/json"]["schema"])
    assert op.body_model is not None
    schema = SCHEMAS[op.body_model.__name__]
    assert set(june) == set(schema.get("properties", {}))
    assert required == set(schema.get("required", []))


# --- how they are delivered -------------------------------------------------------------------------


def test_reads_are_answered_at_once_and_writes_queued_in_their_order() -> None:
    table = {op.name: op for op in OPS}
    # Then the reads have no queue: the GETs, and bestPriorPrice, a read sent as POST
    assert {name for name, op in table.items() if not op.queued} == {
        "getReservedCustomers",
        "getCustomerInventory",
        "bestPriorPrice",
    }
    # And one audience's writes are in order, as are one coupon's reservations
    assert {name for name, op in table.items() if op.group_by == "audienceId"} == set(NAMES[1:5])
    assert {name for name, op in table.items() if op.group_by == "couponValue"} == set(NAMES[6:8])
    # And the writes of many customers at once are one FIFO group each, never last-write-wins
    for name in ("updateCustomerProfilesV2", "updateCustomerProfileAudiences"):
        assert table[name].fifo and table[name].group and not table[name].last_write_wins
    # And creates without an id to order by are on standard queues
    assert not table["createAudienceV2"].fifo and not table["createReferralsForMultipleAdvocates"].fifo


# --- the answers in the June 2026 split specs -----------------------------------------------------------


def _june_answer(name: str) -> tuple[dict[str, Any], set[str]]:
    op = OPERATIONS[name]
    schema = _june(op)["responses"][str(op.success_status)]["content"]["application/json"]["schema"]
    return flat_schema(schema.get("items", schema))


@pytest.mark.parametrize(
    "name",
    ["createCouponReservation", "getReservedCustomers", "createReferralsForMultipleAdvocates", "getCustomerInventory"],
)
def test_june_answers_are_mays(name: str) -> None:
    properties, required = _june_answer(name)
    response = OPERATIONS[name].response
    assert response is not None
    schema = SCHEMAS[next(key for key, model in ANSWERS.items() if model is load_model(response))]
    assert (set(properties), required) == (set(schema["properties"]), set(schema.get("required", [])))


def test_june_adds_subscribed_applications_to_the_audience_answer() -> None:
    properties, required = _june_answer("createAudienceV2")
    assert set(properties) - set(SCHEMAS["Audience"]["properties"]) == {"subscribedApplicationsIds"}
    assert required == set(SCHEMAS["Audience"]["required"])


def test_june_answers_best_prior_prices_with_context_ids_required_where_may_requires_one_context_id() -> None:
    # Given the best prior price of both specs
    properties, required = _june_answer("bestPriorPrice")
    may = SCHEMAS["BestPriorPrice"]
    # Then June adds a list `contextIds`, required, and no longer requires `contextId`, which May (and
    # talon-one-sdk 26.2) require: the relay passes the answer on as Talon.One sends it; its library model
    # and the emulator follow May
    assert set(properties) - set(may["properties"]) == {"contextIds"}
    assert properties["contextIds"]["type"] == "array"
    assert required ^ set(may["required"]) == {"contextIds", "contextId"}
    assert "context_id" in coupons.BestPriorPrice.model_fields
