"""Writes checkers.json from the request models: `make checkers` (`--check`: fail when it differs).

For each request model the operation table names, its pydantic core schema as the checker
(`checkers`) validates with: every model a typed dict with the model's own configuration (strict,
open, no NaN), so validating builds no instance and needs no class; each validator function by its
name in `checkers.FUNCTIONS`; no serialisation, JSON-Schema or memory-address details. The checks
are the ones pydantic builds from the models, nothing written by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from talon_relay.core.checkers import FUNCTIONS, SCHEMAS
from talon_relay.operations import OPERATIONS, load_model

#: Keys that only serialisation, JSON Schema or the model classes use.
_DROPPED = frozenset({"metadata", "serialization", "serialization_alias", "json_schema_input_schema", "frozen"})
#: A core schema ref ends in the model's id() (":94816757587680"): not the same twice.
_ADDRESS = re.compile(r":[0-9]+$")


def _function_name(function: Callable[..., Any]) -> str:
    for name, known in FUNCTIONS.items():
        if function is known:
            return name
    raise ValueError(f"{function!r} is not in checkers.FUNCTIONS: a checker could not call it")


def _typed_dict(model: dict[str, Any]) -> dict[str, Any]:
    fields = model["schema"]
    if fields["type"] != "model-fields" or fields.get("computed_fields") or "extras_schema" in fields:
        raise ValueError(f"{model.get('ref')}: only plain model fields can become a checker")
    out: dict[str, Any] = {
        "type": "typed-dict",
        "cls_name": fields.get("model_name", ""),
        "fields": {
            name: {
                "type": "typed-dict-field",
                "schema": _plain(field["schema"]),
                "required": field["schema"]["type"] != "default",
                **({"validation_alias": field["validation_alias"]} if "validation_alias" in field else {}),
            }
            for name, field in fields["fields"].items()
        },
        "config": model.get("config", {}),
    }
    if "ref" in model:
        out["ref"] = _ADDRESS.sub("", model["ref"])
    return out


def _plain(node: Any) -> Any:
    """The node as JSON data: models as typed dicts, functions by name, nothing class-bound."""
    if isinstance(node, list | tuple):
        return [_plain(item) for item in node]
    if not isinstance(node, dict):
        if callable(node):
            raise ValueError(f"{node!r} left in a schema")
        return node
    if node.get("type") == "model":
        return _typed_dict(node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in ("ref", "schema_ref") and isinstance(value, str):
            out[key] = _ADDRESS.sub("", value)
        elif key == "function" and callable(value):
            out[key] = _function_name(value)
        else:
            out[key] = _plain(value)
    return out


def checker_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's core schema as checker data."""
    model.model_rebuild()
    schema: dict[str, Any] = _plain(model.__pydantic_core_schema__)
    return schema


def render() -> str:
    refs = sorted({op.body for op in OPERATIONS.values() if op.body is not None})
    data = {ref: checker_schema(load_model(ref)) for ref in refs}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m template.checkers_build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when checkers.json is not what the models give")
    args = parser.parse_args(argv)
    text = render()
    path = Path(SCHEMAS)
    if args.check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path} differs from the request models: run `make checkers`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(text)} bytes, {text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
