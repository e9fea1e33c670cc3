"""The strict checker of a caller's body: pydantic-core validators of the request models.

The request models (`models`, `models_v2`) say what a body may hold. Their core schemas, written into
checkers.json by `make checkers` (`template/checkers_build.py`) with each model as a typed dict, are what a
function validates with: the same checks and errors as the models' own validation (one wording
differs: a nested value that is not an object is "Input should be a valid dictionary", without the
model's class name), without a model instance and without importing pydantic itself, whose import
was about a quarter of a cold start on python3.13 (bench/results.md); pydantic-core's is about
15 ms. `make lint` and tests/unit/test_checkers.py keep checkers.json equal to what the models give.

An API body is checked from its bytes in one pass (`valid_json`: pydantic-core parses and checks them in
Rust, about 4x less time per KB than json.loads and then validate_python); only a body that fails is read
again the exact way (input_limits.parse_json, then `check`), which names the fault as it always has. A large
body is first offered to msgspec (`fast_decoder`: typed decoding into types made from the same core schemas,
about 4x less time per KB than validate_json, which builds a Python object for every value): what it accepts,
the one pass would too; anything else goes the one pass.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic_core import SchemaValidator

from talon_relay.core.input_limits import MAX_DEPTH
from talon_relay.wire.formats import one_sync, rfc3339, unique_items, uuid_text

#: The validator functions a schema may name (the request models' AfterValidators).
FUNCTIONS = {"rfc3339": rfc3339, "unique_items": unique_items, "uuid_text": uuid_text, "one_sync": one_sync}

SCHEMAS = str(Path(__file__).with_name("checkers.json"))
#: A body of at least this many bytes is offered to msgspec first: its import (a few ms) and its types are
#: made only in a container that receives such a body; a smaller body gains a few us at most.
FAST_BYTES = 16_384

if TYPE_CHECKING:
    from msgspec.json import Decoder


@cache
def _schemas() -> dict[str, Any]:
    with open(SCHEMAS, "rb") as file:
        data: dict[str, Any] = json.load(file)
    return data


def _with_functions(node: Any) -> Any:
    if isinstance(node, list):
        return [_with_functions(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _with_functions(value) for key, value in node.items()}
    if out.get("type") in ("no-info", "with-info") and isinstance(out.get("function"), str):
        out["function"] = FUNCTIONS[out["function"]]
    if out.get("type") == "typed-dict-field" and out.get("required") is False and out["schema"]["type"] == "default":
        # an optional field's default (None) is only ever put in the output, which no one reads: without
        # it, the same checks and errors, and a third less time (no 18 fields made for a 5-field item)
        out["schema"] = out["schema"]["schema"]
    return out


def _free(node: dict[str, Any]) -> bool:
    """A free-form value (Any, or objects and arrays of it): the only JSON that nests without a bound."""
    kind = node.get("type")
    if kind == "nullable":
        return _free(node["schema"])
    if kind == "dict":
        return _free(node.get("values_schema", {"type": "any"}))
    if kind == "list":
        return _free(node.get("items_schema", {"type": "any"}))
    return kind == "any"


def _within(levels: int) -> Callable[[Any], Any]:
    """A free-form value's check: at most `levels` levels of objects and arrays, and no NaN or infinity
    (pydantic-core reads them; json.loads with input_limits' hooks refuses them)."""

    def check(value: Any) -> Any:
        stack = [(value, 0)]
        while stack:
            item, level = stack.pop()
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError("not a finite number")
            children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
            if children is not None:
                if level >= levels:
                    raise ValueError(f"nests over {levels} levels")
                stack.extend((child, level + 1) for child in children)
        return value

    return check


def _bounded(node: Any, level: int, definitions: dict[str, Any]) -> Any:
    """`node` (at `level` objects and arrays deep in the body) with every free-form value checked
    against what is left of MAX_DEPTH, and the definitions inlined (none is recursive: each typed
    model nests a fixed number of levels)."""
    if isinstance(node, list):
        return [_bounded(item, level, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "definition-ref":
        return _bounded(definitions[node["schema_ref"]], level, definitions)
    if kind in ("typed-dict", "list", "dict", "any", "nullable") and _free(node):
        return {"type": "function-after", "function": {"type": "no-info", "function": _within(MAX_DEPTH - level)},
                "schema": node}  # fmt: skip
    inner = level + 1 if kind in ("typed-dict", "list", "dict") else level
    out = {key: _bounded(value, inner, definitions) for key, value in node.items()}
    if isinstance(kind, str):  # a schema, not a map of fields (whose names may be "ref" or "type")
        out.pop("ref", None)
    extra = node.get("config", {}).get("extra_fields_behavior", "ignore") if kind == "typed-dict" else "forbid"
    if extra == "allow":
        out["extras_schema"] = _bounded({"type": "any"}, inner, definitions)  # unknown fields are free-form
    elif extra != "forbid":  # unknown fields read but never checked: such bodies go the exact way
        raise LookupError(f"{node.get('cls_name')} ignores unknown fields: no one-pass checker")
    return out


@cache
def checker(ref: str) -> SchemaValidator:
    """The validator of the request model `ref` ("module:Class", as the operation table names it)."""
    try:
        schema = _schemas()[ref]
    except KeyError:
        raise LookupError(f"checkers.json has no checker for {ref}: run `make checkers`") from None
    return SchemaValidator(_with_functions(schema))


@cache
def json_checker(ref: str) -> SchemaValidator:
    """The validator of `ref` for JSON bytes: `checker`'s checks, and the input limits that pydantic-core
    does not hold by itself (a free-form value's depth, NaN and infinities in it)."""
    schema = _with_functions(_schemas()[ref])
    definitions: dict[str, Any] = {}
    if schema["type"] == "definitions":
        definitions = {item["ref"]: item for item in schema["definitions"]}
        schema = schema["schema"]
    return SchemaValidator(_bounded(schema, 0, definitions))


class _Unsupported(LookupError):
    """A schema with a check msgspec does not make the same way (a pattern, a function): no fast accept."""


class _Free:
    """A free-form value's place in a msgspec type: `_checked_free` checks it as `_within` does."""

    levels = 0


@cache
def _free_type(levels: int) -> type[_Free]:
    return type(f"Free{levels}", (_Free,), {"levels": levels})


def _checked_free(kind: type, value: Any) -> Any:
    """msgspec's dec_hook: a free-form value (already read, as JSON reads it) checked for depth and NaN."""
    if isinstance(kind, type) and issubclass(kind, _Free):
        _within(kind.levels)(value)  # ValueError: msgspec refuses the body
        return kind()  # no one reads the output
    raise NotImplementedError


_BOUNDS = ("ge", "le", "gt", "lt", "min_length", "max_length")
_KNOWN = {"type", "ref", "metadata", "schema", "items_schema", "keys_schema", "values_schema", "fields", "cls_name",
          "config", "expected", "default", "schema_ref", "strict", *_BOUNDS}  # fmt: skip


def _fast_type(node: dict[str, Any], level: int, definitions: dict[str, Any]) -> Any:
    """The msgspec type that accepts what `node` (at `level`, as in `_bounded`) accepts, or fewer values."""
    import msgspec

    kind = node["type"]
    if set(node) - _KNOWN or node.get("strict") is False:
        raise _Unsupported(f"{kind}: {sorted(set(node) - _KNOWN)}")
    if kind == "definition-ref":
        return _fast_type(definitions[node["schema_ref"]], level, definitions)
    if kind == "any":  # its containers are typed as the schema says: a dict of Any is a dict
        return _free_type(MAX_DEPTH - level)
    inner = level + 1 if kind in ("typed-dict", "list", "dict") else level
    bounds = {key: node[key] for key in _BOUNDS if key in node}
    made: Any
    if kind == "default":
        return _fast_type(node["schema"], level, definitions)
    if kind == "nullable":
        return _fast_type(node["schema"], level, definitions) | None
    if kind in ("str", "int", "float", "bool"):
        made = {"str": str, "int": int, "float": float, "bool": bool}[kind]
    elif kind == "literal" and all(isinstance(value, str) for value in node["expected"]):
        made = Literal[tuple(node["expected"])]
    elif kind == "list":
        made = list[_fast_type(node.get("items_schema", {"type": "any"}), inner, definitions)]  # type: ignore[misc]
    elif kind == "dict" and node.get("keys_schema", {"type": "str"}) == {"type": "str"}:
        made = dict[str, _fast_type(node.get("values_schema", {"type": "any"}), inner, definitions)]  # type: ignore[misc]
    elif kind == "typed-dict" and node.get("config", {}).get("strict") is True:
        if node["config"].get("extra_fields_behavior", "ignore") not in ("forbid", "allow"):
            raise _Unsupported("unknown fields ignored")
        fields: list[tuple[str, Any, Any]] = []
        for index, field in enumerate(node["fields"].values()):
            if set(field) - {"type", "schema", "required", "validation_alias", "metadata"}:
                raise _Unsupported(f"field {sorted(field)}")
            alias, typed = field["validation_alias"], _fast_type(field["schema"], inner, definitions)
            if not isinstance(alias, str):
                raise _Unsupported("an alias path")
            if field.get("required", True):
                fields.append((f"f{index}", typed, msgspec.field(name=alias)))
            else:
                fields.append(
                    (f"f{index}", typed | msgspec.UnsetType, msgspec.field(default=msgspec.UNSET, name=alias))
                )
        # unknown fields refused even where the model keeps them (free-form): such a body goes the one pass
        return msgspec.defstruct(
            node.get("cls_name", "Body"), fields, forbid_unknown_fields=True, kw_only=True, gc=False
        )
    else:
        raise _Unsupported(kind)
    return Annotated[made, msgspec.Meta(**bounds)] if bounds else made


@cache
def fast_decoder(ref: str) -> Decoder[Any] | None:
    """A msgspec decoder that accepts only bodies `json_checker(ref)` accepts (None where a check of the
    schema has no msgspec equal: a pattern, a function, a union): typed decoding into structs in C, refusing
    unknown fields, bounds as msgspec.Meta, free-form values checked by `_within` (test_one_pass_check.py)."""
    import msgspec

    schema = _schemas()[ref]
    definitions: dict[str, Any] = {}
    if schema["type"] == "definitions":
        definitions = {item["ref"]: item for item in schema["definitions"]}
        schema = schema["schema"]
    try:
        return msgspec.json.Decoder(_fast_type(schema, 0, definitions), dec_hook=_checked_free)
    except _Unsupported:
        return None


def fast_accepts(ref: str, raw: bytes) -> bool:
    """Whether msgspec accepts `raw` as the model `ref` (False: not decided; see `fast_decoder`)."""
    fast = fast_decoder(ref)
    if fast is None:
        return False
    try:
        fast.decode(raw)
    except Exception:  # ValidationError, DecodeError, RecursionError: the one pass decides
        return False
    return True


def valid_json(ref: str, raw: bytes) -> bool:
    """Whether `raw` is JSON text that `check` would pass, parsed and checked in one pass; False for any
    fault (the caller reads it again the exact way, which names it). A large body that msgspec accepts
    (`fast_decoder`) is not read again; one it refuses is read by pydantic-core, which decides."""
    if len(raw) >= FAST_BYTES and fast_accepts(ref, raw):
        return True
    try:
        json_checker(ref).validate_json(raw, by_alias=True, by_name=False)
    except Exception:  # ValidationError, or anything else: the exact way decides, as it always did
        return False
    return True


def check(ref: str, body: Any) -> None:
    """Validate `body` against the model `ref` by wire name; raises pydantic_core.ValidationError."""
    checker(ref).validate_python(body, by_alias=True, by_name=False)
