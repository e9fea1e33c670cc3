"""Checkers: the functions' body checks are the request models' own, from checkers.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from talon_relay.core import checkers
from talon_relay.operations import OPERATIONS, Operation, load_model
from template import checkers_build
from tests.support import load_event

BODIES = sorted({op.body for op in OPERATIONS.values() if op.body is not None})


def test_checkers_json_is_what_the_models_give() -> None:
    # Given the request models as they are now
    # When their checker schemas are rendered
    # Then checkers.json holds exactly that (else: `make checkers`)
    with open(checkers.SCHEMAS, encoding="utf-8") as file:
        assert file.read() == checkers_build.render()


def node_types(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(node_types(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    own = {node["type"]} if isinstance(node.get("type"), str) else set()
    return own.union(*(node_types(value) for value in node.values()))


@pytest.mark.parametrize("op", [op for op in OPERATIONS.values() if op.body is not None], ids=lambda op: op.name)
def test_every_body_of_the_table_has_a_checker_that_takes_its_sample(op: Operation) -> None:
    # Given the operation's sample event (events/<function>/api.json)
    body = json.loads(load_event(op.function, "api")["body"])
    # When its checker validates the body, Then it passes, checked without any model class
    checkers.check(op.body or "", body)
    assert "model" not in node_types(checkers._schemas()[op.body or ""])
    # (a body the spec leaves open without fields, updateAudienceCustomersAttributes' AttributeQuery: no str)
    expected = {"typed-dict", "str"} if op.body_model and op.body_model.model_fields else {"typed-dict"}
    assert expected <= node_types(checkers._schemas()[op.body or ""])


def test_a_model_the_json_does_not_know_names_the_make_target() -> None:
    with pytest.raises(LookupError, match="make checkers"):
        checkers.checker("models:NoSuchModel")


def test_a_validator_function_outside_the_registry_cannot_be_compiled() -> None:
    # Given a model whose field runs a function the checkers do not know
    from typing import Annotated

    from pydantic import AfterValidator

    class Odd(BaseModel):
        value: Annotated[str, AfterValidator(str.strip)]

    # When its checker schema is built, Then it is refused by name
    with pytest.raises(ValueError, match=r"not in checkers\.FUNCTIONS"):
        checkers_build.checker_schema(Odd)


def verdict(ref: str, body: Any) -> list[tuple[str, tuple[Any, ...], str]]:
    """What the checker says of `body`: each error's type, location and message."""
    try:
        checkers.check(ref, body)
    except ValidationError as exc:
        return [(e["type"], tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
    return []


def model_verdict(ref: str, body: Any) -> list[tuple[str, tuple[Any, ...], str]]:
    """What the model itself says: a nested model's "valid dictionary or instance of X" is the
    checker's "valid dictionary" (it builds no instance)."""
    try:
        load_model(ref).model_validate(body, by_alias=True, by_name=False)
    except ValidationError as exc:
        out = []
        for e in exc.errors(include_url=False):
            if e["type"] == "model_type":
                out.append(("dict_type", tuple(e["loc"]), "Input should be a valid dictionary"))
            else:
                out.append((e["type"], tuple(e["loc"]), e["msg"]))
        return out
    return []


def wire_names(ref: str) -> list[str]:
    model = load_model(ref)
    names: set[str] = set()

    def collect(m: type[BaseModel]) -> None:
        for name, info in m.model_fields.items():
            names.add(info.alias or name)
            for arg in (*getattr(info.annotation, "__args__", ()), info.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg is not m:
                    collect(arg)

    collect(model)
    return sorted(names)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["2026-05-01T10:00:00Z", "2026-05-01", "open", "closed", "x", "", "12"])
)


def values(names: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(names), inner, max_size=4),
        max_leaves=12,
    )


SAMPLES = {op.body: json.loads(load_event(op.function, "api")["body"]) for op in OPERATIONS.values() if op.body}


@pytest.mark.parametrize("ref", BODIES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_checker_judges_every_body_as_its_model_does(ref: str, data: st.DataObject) -> None:
    # Given any body built from the model's field names and odd values, or its sample with a few changed
    names = wire_names(ref) or ["attribute"]  # a model without fields (AttributeQuery): any key
    changes = st.dictionaries(st.sampled_from(names) | st.text(max_size=4), values(names), max_size=8)
    body = data.draw(changes | changes.map(lambda changed: {**SAMPLES[ref], **changed}))
    # When the checker and the model judge it, Then they agree error for error
    assert verdict(ref, body) == model_verdict(ref, body)


@pytest.mark.parametrize(
    ("ref", "body", "where"),
    [
        (
            "wire.models_v2:ReturnIntegrationRequest",
            {"return": {"returnedCartItems": [{"position": 0}, {"position": 2**63}]}},
            ("return", "returnedCartItems", 1, "position"),
        ),
        (
            "wire.models_v2:CustomerProfileIntegrationRequestV2",
            {"audiencesChanges": {"adds": [], "deletes": [-(2**63) - 1]}},
            ("audiencesChanges", "deletes", 0),
        ),
    ],
    ids=["returned-position", "audience-delete"],
)
def test_an_integer_beyond_int64_is_refused_naming_the_field(ref: str, body: Any, where: tuple[Any, ...]) -> None:
    # Given a body whose int64 field (as the spec types it) holds a number Talon.One cannot read
    # (schemathesis found the relay sending such bodies on; tests/e2e/test_fuzz.py)
    # Then the checker refuses it, naming the field, and the edges of int64 still pass
    assert [(kind, loc) for kind, loc, _ in verdict(ref, body)] == [
        ("less_than_equal" if where[-1] == "position" else "greater_than_equal", where)
    ]
    edge = json.loads(json.dumps(body).replace(str(2**63), str(2**63 - 1)).replace(str(-(2**63) - 1), str(-(2**63))))
    assert verdict(ref, edge) == []
