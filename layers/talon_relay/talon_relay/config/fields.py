"""Records read from outside the code on every cold start (the function's environment, the Talon.One
secret): frozen dataclasses validated by pydantic-core, without pydantic (checkers.py says why).

Each field names the key it is read from and its core schema; the validator builds the dataclass
itself, so the checks, the errors and their messages are pydantic's, in its lax mode (an environment
variable's "300" is the integer 300), then runs the record's `__post_init__`, if it has one, for
what spans fields. Unknown keys are ignored.
"""

from __future__ import annotations

from dataclasses import MISSING, field, fields
from functools import cache
from typing import Any

from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs


def key(*names: str, schema: cs.CoreSchema, default: Any = MISSING, secret: bool = False) -> Any:
    """A field read from the first of `names` present, checked by `schema`, with its default (none:
    required); a secret one is left out of the record's repr."""
    return field(default=default, repr=not secret, metadata={"names": names, "schema": schema})


def keys(cls: type) -> tuple[str, ...]:
    """Every key a record reads, its fields' first names first."""
    names: list[tuple[str, ...]] = [f.metadata["names"] for f in fields(cls)]
    return tuple(n[0] for n in names) + tuple(other for n in names for other in n[1:])


@cache
def validator(cls: type) -> SchemaValidator:
    """The validator that builds a `cls` (a frozen dataclass of `key` fields) from a mapping; built
    once per record."""
    return SchemaValidator(record_schema(cls))


def record_schema(cls: type) -> cs.CoreSchema:
    """The core schema of a record, to validate it alone or as a field of another record."""
    args = []
    for item in fields(cls):
        schema = item.metadata["schema"]
        if item.default is not MISSING:
            schema = cs.with_default_schema(schema, default=item.default)
        names = item.metadata["names"]
        alias: str | list[list[str | int]] = names[0] if len(names) == 1 else [[name] for name in names]
        args.append(cs.dataclass_field(item.name, schema, validation_alias=alias, kw_only=True))
    schema = cs.dataclass_args_schema(cls.__name__, args, extra_behavior="ignore")
    post_init = hasattr(cls, "__post_init__")
    return cs.dataclass_schema(cls, schema, [f.name for f in fields(cls)], frozen=True, post_init=post_init)
