"""Contract: talon_relay.wire.models and the client against the reference Swagger file, item by item.

Every definition the five integration operations reach has a model of the same name whose aliases,
required set, enums and constraints are the spec's; and each operation the client offers has the
spec's method, path, body and response definitions.
"""

from __future__ import annotations

import enum
import json
import re
import typing
from datetime import datetime
from typing import Any, get_type_hints

import pytest
from annotated_types import Ge, MinLen
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.samples import integration_state, referral
from talon_relay.talon.auth import HmacAuth
from talon_relay.talon.client import IntegrationClient
from talon_relay.wire import models, responses
from talon_relay.wire.effects import Effect
from tests.contract.conftest import leaves, load_spec

SPEC = load_spec()
DEFINITIONS: dict[str, Any] = SPEC["definitions"]

NAMES = [
    "NewReferral",
    "Referral",
    "NewEvent",
    "Event",
    "IntegrationState",
    "NewCustomerProfile",
    "CustomerProfile",
    "NewCustomerSession",
    "CustomerSession",
    "CartItem",
    "CartItemAdjustment",
    "LedgerEntry",
    "Meta",
    "Loyalty",
    "LoyaltyProgramBalance",
    "LoyaltyMembership",
    "CouponRejectionReason",
    "ErrorResponse",
    "APIError",
    "ErrorSource",
]

#: Names a definition lists as required without declaring them under `properties`. None in this
#: copy of the file (APIError's `title` is declared); the test below fails if that ever changes,
#: so that such a name is handled here on purpose rather than by accident.
REQUIRED_WITHOUT_PROPERTY: dict[str, set[str]] = {}


#: `minimum: 0` on a `format: date-time` string (NewReferral/Referral startDate, expiryDate) is an
#: artefact of the spec's generator: a minimum has no meaning for text, so it is not a constraint.
def meaningful_minimum(prop: dict[str, Any]) -> bool:
    return "minimum" in prop and prop.get("type") in ("integer", "number")


#: Where the model deliberately reads a spec type into a richer Python type.
TYPE_EXCEPTIONS = {
    # effects travel as v1 tuples (the spec says "object"); they parse into Effect.
    ("Event", "effects"): Effect,
}

PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict,
    "array": list,
}


def is_rfc3339_checked(info: FieldInfo) -> bool:
    """A request date-time: text checked as RFC 3339 (models.DateTime), optional or not."""
    return info.annotation is models.DateTime or models.DateTime in typing.get_args(info.annotation)


def model_of(name: str) -> type[BaseModel]:
    model = getattr(models, name, None)
    assert isinstance(model, type) and issubclass(model, BaseModel), f"models.{name} is missing"
    return model


def fields_by_alias(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def properties(name: str) -> dict[str, dict[str, Any]]:
    props = DEFINITIONS[name].get("properties", {})
    assert isinstance(props, dict)
    return props


def enum_values(annotation: Any) -> set[str]:
    values: set[str] = set()
    for leaf in leaves(annotation):
        if isinstance(leaf, tuple) and leaf[0] == "literal":
            values.add(leaf[1])
        elif isinstance(leaf, type) and issubclass(leaf, enum.Enum):
            values |= {member.value for member in leaf}
    return values


def has_type(found: set[Any], expected: type) -> bool:
    """`expected` itself, an Enum of it (a str enum is a string on the wire), or Literal values of it."""
    literals = [leaf[1] for leaf in found if isinstance(leaf, tuple) and leaf[0] == "literal"]
    return (
        expected in found
        or any(isinstance(leaf, type) and issubclass(leaf, enum.Enum) and issubclass(leaf, expected) for leaf in found)
        or (bool(literals) and all(isinstance(value, expected) for value in literals))
    )


def ref_name(schema: dict[str, Any]) -> str:
    ref = schema["$ref"]
    assert isinstance(ref, str) and ref.startswith("#/definitions/")
    return ref.removeprefix("#/definitions/")


# --- definitions -------------------------------------------------------------------------------


def test_the_spec_defines_all_twenty_definitions_and_the_models_exist() -> None:
    assert len(set(NAMES)) == 20
    assert set(NAMES) <= set(DEFINITIONS), sorted(set(NAMES) - set(DEFINITIONS))
    missing = [name for name in NAMES if not isinstance(getattr(models, name, None), type)]
    assert missing == []


@pytest.mark.parametrize("name", NAMES)
def test_every_spec_property_is_a_field_alias_and_nothing_else(name: str) -> None:
    # Given the spec's properties and the model's fields (by wire name)
    spec_props = set(properties(name))
    aliases = set(fields_by_alias(model_of(name)))
    # Then each property is a field, and the model invents none
    assert spec_props - aliases == set(), f"{name}: spec properties missing from the model"
    assert aliases - spec_props == set(), f"{name}: model fields the spec does not define"


@pytest.mark.parametrize("name", NAMES)
def test_required_names_are_declared_properties_or_a_known_quirk(name: str) -> None:
    required = set(DEFINITIONS[name].get("required", []))
    undeclared = required - set(properties(name))
    assert undeclared == REQUIRED_WITHOUT_PROPERTY.get(name, set())


@pytest.mark.parametrize("name", NAMES)
def test_the_required_set_matches(name: str) -> None:
    # Given the spec's required list, including any name it forgets to declare as a property
    spec_required = set(DEFINITIONS[name].get("required", []))
    fields = fields_by_alias(model_of(name))
    # Then every required name is a required field of the model, and no other field is required
    assert spec_required - set(fields) == set(), f"{name}: required names with no field"
    model_required = {alias for alias, info in fields.items() if info.is_required()}
    assert model_required == spec_required


@pytest.mark.parametrize("name", NAMES)
def test_enum_values_match(name: str) -> None:
    fields = fields_by_alias(model_of(name))
    for prop_name, prop in properties(name).items():
        declared = enum_values(fields[prop_name].annotation)
        if "enum" in prop:
            assert declared == set(prop["enum"]), f"{name}.{prop_name}"
        else:
            assert declared == set(), f"{name}.{prop_name} has an enum the spec does not"


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("New")])
def test_request_models_enforce_their_enums(name: str) -> None:
    model = model_of(name)
    for prop_name, prop in properties(name).items():
        if "enum" in prop:
            with pytest.raises(ValidationError):
                model.model_validate({prop_name: "not-one-of-" + "-".join(prop["enum"])})


@pytest.mark.parametrize("name", NAMES)
def test_min_length_and_minimum_constraints_are_present(name: str) -> None:
    fields = fields_by_alias(model_of(name))
    for prop_name, prop in properties(name).items():
        metadata = fields[prop_name].metadata
        min_lengths = [m.min_length for m in metadata if isinstance(m, MinLen)]
        # (an integer's int64 bound, base.Int64, is Talon.One's range, not a minimum of the spec's)
        minimums = [m.ge for m in metadata if isinstance(m, Ge) and m.ge != -(2**63)]
        where = f"{name}.{prop_name}"
        if "minLength" in prop:
            assert min_lengths == [prop["minLength"]], where
        else:
            assert min_lengths == [], f"{where} has a minLength the spec does not"
        if meaningful_minimum(prop):
            assert minimums == [prop["minimum"]], where
        else:
            assert minimums == [], f"{where} has a minimum the spec does not"


@pytest.mark.parametrize("name", NAMES)
def test_property_types_match(name: str) -> None:
    fields = fields_by_alias(model_of(name))
    for prop_name, prop in properties(name).items():
        found = leaves(fields[prop_name].annotation)
        where = f"{name}.{prop_name}"
        if "$ref" in prop:
            assert model_of(ref_name(prop)) in found, where
            continue
        if (name, prop_name) in TYPE_EXCEPTIONS:
            assert TYPE_EXCEPTIONS[(name, prop_name)] in found, where
            continue
        if prop.get("format") == "date-time":
            if name.startswith("New"):  # requests keep the caller's text, checked as RFC 3339
                assert is_rfc3339_checked(fields[prop_name]), where
            else:
                assert found & {datetime, AwareDatetime}, f"{where}: expected a datetime, got {found}"
        else:
            expected = PY_TYPES[prop["type"]]
            assert has_type(found, expected), f"{where}: expected {expected.__name__}, got {found}"
        items = prop.get("items") or {}
        if "$ref" in items:
            assert model_of(ref_name(items)) in found, f"{where} items"
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict) and "$ref" in extra:
            assert model_of(ref_name(extra)) in found, f"{where} values"
        elif isinstance(extra, dict) and "type" in extra:
            assert PY_TYPES[extra["type"]] in found, f"{where} values"


@pytest.mark.parametrize("name", ["NewCustomerSession", "NewEvent"])
def test_closed_request_definitions_are_open_models_on_purpose(name: str) -> None:
    # The 2019 spec closes these; Talon.One later added fields to them (identifiers, ...). The relay
    # is a tolerant reader: an unknown field is Talon.One's to judge, so it is let through unchanged.
    assert DEFINITIONS[name].get("additionalProperties") is False
    assert model_of(name).model_config.get("extra") == "allow"


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("New")])
def test_request_models_check_strictly(name: str) -> None:
    assert model_of(name).model_config.get("strict") is True
    assert model_of(name).model_config.get("allow_inf_nan") is False


# --- operations --------------------------------------------------------------------------------


def integration_operations() -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "integration" in op.get("tags", []):
                found.append((op["operationId"], method.upper(), path, op))
    return sorted(found)


OPERATIONS = [pytest.param(*op, id=op[0]) for op in integration_operations()]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_spec_has_exactly_the_five_operations() -> None:
    assert [op[0] for op in integration_operations()] == [
        "createReferral",
        "deleteCustomerData",
        "trackEvent",
        "updateCustomerProfile",
        "updateCustomerSession",
    ]


@pytest.mark.parametrize(("operation_id", "method", "path", "op"), OPERATIONS)
def test_client_method_signature_matches_the_operation(
    operation_id: str, method: str, path: str, op: dict[str, Any]
) -> None:
    function = getattr(IntegrationClient, snake(operation_id))
    # The client imports its typed methods' models when one is first used (not at its own import):
    # resolve the annotations against the modules that define them.
    hints = get_type_hints(function, localns={**vars(models), **vars(responses)})
    body = [p for p in op.get("parameters", []) if p["in"] == "body"]
    if body:
        assert hints["body"] is model_of(ref_name(body[0]["schema"]))
    else:
        assert "body" not in hints
    ((status, response),) = op["responses"].items()
    if "schema" in response:
        assert hints["return"] is model_of(ref_name(response["schema"]))
    else:
        assert status == "204" and hints["return"] is type(None)


def example_body(name: str) -> BaseModel:
    examples: dict[str, dict[str, Any]] = {
        "NewCustomerProfile": {"attributes": {"a": 1}},
        "NewCustomerSession": {"profileId": "p-1", "state": "open", "total": 1},
        "NewEvent": {"sessionId": "s-1", "type": "t", "attributes": {}},
        "NewReferral": {"campaignId": 1, "advocateProfileIntegrationId": "p-1"},
    }
    return model_of(name).model_validate(examples[name])


def example_response(name: str) -> dict[str, Any]:
    """A complete answer of the named definition, as the stand-ins of the tests and the bench give it."""
    if name == "Referral":
        return referral()
    assert name == "IntegrationState"
    return integration_state(effects=[])


@pytest.mark.parametrize(("operation_id", "method", "path", "op"), OPERATIONS)
def test_client_calls_the_operation_as_the_spec_describes_it(
    httpserver: HTTPServer, operation_id: str, method: str, path: str, op: dict[str, Any]
) -> None:
    # Given a Talon.One that answers the operation's documented success status and schema
    params = [p for p in op.get("parameters", []) if p["in"] == "path"]
    values = {p["name"]: f"{p['name']}-1" for p in params}
    expected_path = path.format(**values)
    ((status, response),) = op["responses"].items()
    schema = response.get("schema")
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        request.get_data()
        seen.append(request)
        if schema is None:
            return Response(status=int(status))
        body = json.dumps(example_response(ref_name(schema)))
        return Response(body, status=int(status), content_type="application/json")

    httpserver.expect_request(expected_path, method=method).respond_with_handler(handler)
    client = IntegrationClient(httpserver.url_for("/"), HmacAuth(5, "00ff"), max_retries=0)
    # When the client method of the same name is called
    args: list[Any] = [values[p["name"]] for p in params]
    body_params = [p for p in op.get("parameters", []) if p["in"] == "body"]
    if body_params:
        args.append(example_body(ref_name(body_params[0]["schema"])))
    result = getattr(client, snake(operation_id))(*args)
    # Then exactly the documented method and path were used, authenticated the documented way
    (request,) = seen
    assert (request.method, request.path) == (method, expected_path)
    auth_header = SPEC["securityDefinitions"][next(iter(op["security"][0]))]["name"]
    assert request.headers[auth_header].startswith("signer=5; signature=")
    assert request.headers["Content-Type"] in SPEC["consumes"]
    assert request.headers["Accept"] in SPEC["produces"]
    # And the answer is the documented definition
    if schema is None:
        assert result is None
    else:
        assert type(result) is model_of(ref_name(schema))
