"""The strict checker of a caller's body: pydantic-core validators of the request models.

The request models (`models`, `models_v2`) say what a body may hold. Their core schemas, written into
checkers.json by `make checkers` (`template/checkers_build.py`) with each model as a typed dict, are what a
function validates with: the same checks and errors as the models' own validation (one wording
differs: a nested value that is not an object is "Input should be a valid dictionary", without the
model's class name), without a model instance and without importing pydantic itself, whose import
was about a quarter of a cold start on python3.13 (bench/results.md); pydantic-core's is about
15 ms. `make lint` and tests/unit/test_checkers.py keep checkers.json equal to what the models give.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic_core import SchemaValidator

from talon_relay.wire.formats import one_sync, rfc3339, unique_items, uuid_text

#: The validator functions a schema may name (the request models' AfterValidators).
FUNCTIONS = {"rfc3339": rfc3339, "unique_items": unique_items, "uuid_text": uuid_text, "one_sync": one_sync}

SCHEMAS = str(Path(__file__).with_name("checkers.json"))


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
    return out


@cache
def checker(ref: str) -> SchemaValidator:
    """The validator of the request model `ref` ("module:Class", as the operation table names it)."""
    try:
        schema = _schemas()[ref]
    except KeyError:
        raise LookupError(f"checkers.json has no checker for {ref}: run `make checkers`") from None
    return SchemaValidator(_with_functions(schema))


def check(ref: str, body: Any) -> None:
    """Validate `body` against the model `ref` by wire name; raises pydantic_core.ValidationError."""
    checker(ref).validate_python(body, by_alias=True, by_name=False)
