"""An API body checked in one pass from its bytes (checkers.valid_json) is accepted only where the exact way
(input_limits.parse_json, then checkers.check) accepts it: the limits and the checks stay what they were,
and a body the one pass refuses is read the exact way, which names the fault. A large body is first offered
to msgspec (checkers.fast_accepts): it may refuse more than the one pass (unknown fields), never accept more."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import ValidationError

from talon_relay.core import checkers, input_limits
from talon_relay.core.request import UNREAD, parse_request
from talon_relay.errors import InvalidRequest
from talon_relay.operations import OPERATIONS
from tests.unit.test_checkers import BODIES, SAMPLES, values, wire_names

V2 = "wire.models_v2:IntegrationRequest"


def one_pass(ref: str, raw: bytes) -> bool:
    return input_limits.short_numbers(raw) and checkers.valid_json(ref, raw)


def fast(ref: str, raw: bytes) -> bool:
    """msgspec's fast accept, whatever the body's size (valid_json offers it only large bodies)."""
    return input_limits.short_numbers(raw) and checkers.fast_accepts(ref, raw)


def exact(ref: str, raw: bytes) -> bool:
    try:
        body = input_limits.parse_json(raw)
        if not isinstance(body, dict):
            return False
        checkers.check(ref, body)
    except (InvalidRequest, ValidationError):
        return False
    return True


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def session(attributes: str = "{}", item: str = '{"sku": "A", "quantity": 1}', extra: str = "") -> bytes:
    text = f'{{"customerSession": {{"attributes": {attributes}, "cartItems": [{item}]{extra}}}}}'
    return text.encode()


ODD = {
    # the body is level 1, customerSession 2, its attributes 3: 61 more levels are allowed in them
    "attributes 64 levels deep": (session('{"a": ' + nested(61) + "}"), True),
    "attributes 65 levels deep": (session('{"a": ' + nested(62) + "}"), False),
    "an unknown field 65 levels deep": (session(extra=', "x": ' + nested(63)), False),
    "an unknown field 64 levels deep": (session(extra=', "x": ' + nested(62)), True),
    "nesting past pydantic-core's own limit": (session(extra=', "x": ' + nested(400)), False),
    "NaN in attributes": (session('{"a": NaN}'), False),
    "-Infinity in an unknown field": (session(extra=', "x": [-Infinity]'), False),
    "1e999 in attributes": (session('{"a": {"b": 1e999}}'), False),
    "1e999 in a price": (session(item='{"sku": "A", "quantity": 1, "price": 1e999}'), False),
    "NaN in a price": (session(item='{"sku": "A", "quantity": 1, "price": NaN}'), False),
    "a price of 101 characters": (session(item='{"sku": "A", "quantity": 1, "price": 1.' + "0" * 99 + "}"), False),
    "an integer of 101 digits in attributes": (session('{"a": ' + "7" * 101 + "}"), False),
    "an integer of 99 digits in attributes": (session('{"a": ' + "7" * 99 + "}"), True),
    "a quantity of 1.0": (session(item='{"sku": "A", "quantity": 1.0}'), False),
    "a quantity of 1e2": (session(item='{"sku": "A", "quantity": 1e2}'), False),
    "a duplicate key, the last valid": (session(item='{"sku": 1, "sku": "A", "quantity": 1}'), True),
    "a duplicate key, the last invalid": (session(item='{"sku": "A", "sku": 1, "quantity": 1}'), False),
    "a lone surrogate escape": (session('{"a": "\\ud800"}'), False),
    "a lone low surrogate escape in a key": (session('{"\\udc00": 1}'), False),
    "a surrogate pair": (session('{"a": "\\ud83d\\ude00"}'), True),
    "an encoded surrogate (invalid UTF-8)": (session('{"a": "X"}').replace(b"X", b"\xed\xa0\x80"), False),
    "a byte that is not UTF-8": (b'{"customerSession": {"attributes": {"a": "\xff"}}}', False),
    "a byte order mark": (b"\xef\xbb\xbf" + session(), False),
    "null": (b"null", False),
    "an array": (b"[]", False),
    "trailing text": (session() + b" x", False),
    "odd unicode, valid": (session('{"a": "\u00e9\u4e2d\U0001f600", "\u00e9": "\\u0000"}'), True),
}


@pytest.mark.parametrize(("raw", "accepted"), list(ODD.values()), ids=list(ODD))
def test_the_one_pass_accepts_what_the_exact_way_accepts_and_nothing_else(raw: bytes, accepted: bool) -> None:
    # Given a session body at or past a limit (depth, numbers, unicode, types)
    # When it is checked in one pass and the exact way
    # Then both say the same (a run of 32 digits or more is left to the exact way, whose checks of each
    # number are not pydantic-core's): what the exact way refuses is never let through
    assert exact(V2, raw) is accepted
    assert one_pass(V2, raw) is (accepted and input_limits.short_numbers(raw))
    # and msgspec's fast accept never takes what the exact way refuses
    assert accepted or not fast(V2, raw)


@pytest.mark.parametrize("ref", BODIES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_one_pass_judges_every_body_as_the_exact_way_does(ref: str, data: st.DataObject) -> None:
    # Given any body built from the model's field names and odd values, or its sample with a few changed
    names = wire_names(ref) or ["attribute"]
    changes = st.dictionaries(st.sampled_from(names) | st.text(max_size=4), values(names), max_size=8)
    body = data.draw(changes | changes.map(lambda changed: {**SAMPLES[ref], **changed}))
    raw = json.dumps(body, ensure_ascii=data.draw(st.booleans())).encode()
    # When both judge its bytes, Then they agree (a body with a run of 32 digits is left to the exact way,
    # which judges numbers of up to MAX_NUMBER_CHARS itself), and msgspec accepts nothing more
    judged = exact(ref, raw)
    assert one_pass(ref, raw) == (judged and input_limits.short_numbers(raw))
    assert judged or not fast(ref, raw)


@pytest.mark.parametrize("ref", BODIES)
def test_every_sample_is_checked_in_one_pass(ref: str) -> None:
    # Given an operation's sample body, When it is checked from its bytes, Then the one pass takes it
    assert one_pass(ref, json.dumps(SAMPLES[ref]).encode())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=6,
)


def near(node: dict[str, Any], definitions: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a core schema near its bounds, now and then of another type: bodies msgspec often accepts."""
    kind, low, high = node["type"], node.get("ge", node.get("min_length")), node.get("le", node.get("max_length"))
    if kind == "definitions":
        return near(node["schema"], {item["ref"]: item for item in node["definitions"]})
    if kind == "definition-ref":
        return near(definitions[node["schema_ref"]], definitions)
    if kind in ("default", "function-after"):
        return near(node["schema"], definitions)
    if kind == "nullable":
        return st.none() | near(node["schema"], definitions)
    if kind == "typed-dict":
        fields = {field.get("validation_alias", name): near(field["schema"], definitions)
                  for name, field in node["fields"].items()}  # fmt: skip
        required = [name for name, field in node["fields"].items() if field.get("required", True)]
        return st.fixed_dictionaries(
            {fields_name: fields[fields_name] for fields_name in fields if fields_name in required},
            optional={name: value for name, value in fields.items() if name not in required},
        )
    bounded = {"min_value": low - 1 if low is not None else None, "max_value": high + 1 if high is not None else None}
    made: st.SearchStrategy[Any] = JSON
    if kind == "str":
        made = st.text(min_size=max((low or 0) - 1, 0), max_size=(high or 8) + 1)
    elif kind == "int":
        made = st.integers(**bounded) | st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63)])
    elif kind == "float":
        made = st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    elif kind == "bool":
        made = st.booleans()
    elif kind == "literal":
        made = st.sampled_from([*node["expected"], "other"])
    elif kind == "list":
        made = st.lists(near(node.get("items_schema", {"type": "any"}), definitions), max_size=(high or 3) + 1)
    elif kind == "dict":
        values_of = near(node.get("values_schema", {"type": "any"}), definitions)
        made = st.dictionaries(st.text(max_size=3), values_of, max_size=3)
    return made | st.just(["another type"])


@pytest.mark.parametrize("ref", BODIES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_msgspec_accepts_no_body_made_from_the_schema_that_the_exact_way_refuses(ref: str, data: st.DataObject) -> None:
    # Given a body made from the model's core schema, near its bounds (some valid, some not)
    body = data.draw(near(checkers._schemas()[ref], {}))
    raw = json.dumps(body, ensure_ascii=data.draw(st.booleans())).encode()
    # When msgspec, the one pass and the exact way judge it, Then msgspec accepts nothing the exact way
    # refuses, and the one pass agrees with the exact way (but leaves a run of 32 digits to it: an integer
    # drawn past 10**31 is such a body)
    judged = exact(ref, raw)
    assert judged or not fast(ref, raw)
    assert one_pass(ref, raw) == (judged and input_limits.short_numbers(raw))


@pytest.mark.parametrize("ref", BODIES)
def test_every_sample_of_a_plain_model_is_accepted_by_msgspec(ref: str) -> None:
    # Given an operation's sample body, When msgspec may check its model (no pattern, no function in it)
    # Then it accepts the sample unless the sample holds fields the model does not name (free-form: msgspec
    # refuses them, the one pass checks them): the fast accept is not a path that never passes
    raw = json.dumps(SAMPLES[ref]).encode()
    unnamed = set(SAMPLES[ref]) - set(wire_names(ref))
    assert fast(ref, raw) is (checkers.fast_decoder(ref) is not None and not unnamed)


def test_a_large_body_is_accepted_by_msgspec_or_decided_by_the_one_pass() -> None:
    # Given a large cart (over FAST_BYTES), and the same cart with an unknown field in a product
    items = ",".join(f'{{"sku": "S{n}", "quantity": 1, "price": 2.5, "product": {{"name": "p"}}}}' for n in range(400))
    raw = session(item=items)
    odd = raw.replace(b'{"name": "p"}', b'{"name": "p", "kept": [1]}', 1)
    assert len(raw) >= checkers.FAST_BYTES
    # When each is checked, Then msgspec accepts the first; the second, which it refuses (an unknown field it
    # does not check), is accepted by the one pass as the exact way accepts it
    assert fast(V2, raw) and one_pass(V2, raw) and exact(V2, raw)
    assert not fast(V2, odd) and one_pass(V2, odd) and exact(V2, odd)
    # and a large body past a limit is refused by both
    deep = raw.replace(b'"attributes": {}', b'"attributes": {"a": ' + nested(62).encode() + b"}")
    assert not fast(V2, deep) and not one_pass(V2, deep) and not exact(V2, deep)


def test_a_request_checked_from_its_bytes_reads_its_body_only_for_a_step_that_needs_it() -> None:
    # Given a session update checked from its bytes (its group is its path's session id)
    op = OPERATIONS["updateCustomerSessionV2"]
    raw = session('{"a": [1, 2.5, "x"]}')
    params = {"customerSessionId": "s-1"}
    # When it is a synchronous call without an idempotency key, Then its bytes are not parsed at all
    plain = parse_request(op, params, UNREAD, raw=raw, checked=True)
    assert (plain.body, plain.raw, plain.group_id) == (UNREAD, raw, "s-1")
    # When its content is hashed (an idempotency key) or queued, Then it is the JSON value of its bytes
    for keyed, queued in ((True, False), (False, True)):
        read = parse_request(op, params, UNREAD, raw=raw, checked=True, keyed=keyed, queued=queued)
        assert read.payload["body"] == read.body == json.loads(raw)
        assert read.raw == raw


def test_a_request_grouped_by_a_body_field_reads_its_body() -> None:
    # Given an event checked from its bytes, whose FIFO group is its profileId
    raw = b'{"profileId": "p-9", "type": "visit"}'
    # When it is made a request, Then its group is read from its body
    request = parse_request(OPERATIONS["trackEventV2"], {}, UNREAD, raw=raw, checked=True)
    assert (request.group_id, request.body) == ("p-9", json.loads(raw))


def test_a_body_the_one_pass_refuses_is_named_the_exact_way() -> None:
    # Given a body whose attributes nest past the limit
    raw = session('{"a": ' + nested(70) + "}")
    # When it is read the exact way (as the API adapter does after the one pass refuses it)
    with pytest.raises(InvalidRequest) as refused:
        input_limits.parse_json(raw)
    # Then the fault is named as it always was
    assert "nests 73 levels of objects and arrays; at most 64 are allowed" in str(refused.value.api_body())


def test_a_model_that_ignores_unknown_fields_is_left_to_the_exact_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a model whose unknown fields pydantic-core would read but never check (extra ignored)
    loose = {"type": "typed-dict", "cls_name": "Loose", "fields": {}, "config": {"extra_fields_behavior": "ignore"}}
    monkeypatch.setattr(checkers, "_schemas", lambda: {"x:Loose": loose})
    checkers.json_checker.cache_clear()
    try:
        # When its bodies are checked in one pass, Then none passes: the exact way checks each
        assert not checkers.valid_json("x:Loose", b'{"a": NaN}')
        assert not checkers.valid_json("x:Loose", b"{}")
    finally:
        checkers.json_checker.cache_clear()
