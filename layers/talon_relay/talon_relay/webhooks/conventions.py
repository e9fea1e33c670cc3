"""Conventions: named expressions a mapping file writes as `$name`, one of whose options a deployment chooses.

A platform's data sometimes has two defensible readings (a Shopify line's `sku`, or its variant id, as
the cart item's sku). Rather than two copies of every file, the choices are data too
(`conventions.json`: each convention's options and default, the options relative to where `$name`
stands, e.g. a line item inside a projection), and the deployment picks with WEBHOOK_CONVENTIONS
(`name=option[,name=option]`). A file's `$name` is replaced by the chosen option, in parentheses,
when the file is loaded; nothing of this happens per webhook.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from talon_relay.errors import ConfigurationError

FILE = Path(__file__).resolve().parent / "conventions.json"
#: The parts of a mapping file that hold expressions (and `requires[].check`).
_EXPRESSIONS = frozenset({"group", "steps", "order"})
_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class Convention(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1)
    default: str
    options: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_is_an_option(self) -> Convention:
        if self.default not in self.options:
            raise ValueError(f"default {self.default!r} is not one of the options {sorted(self.options)}")
        return self


_CONVENTIONS = TypeAdapter(dict[str, Convention])


def known() -> dict[str, Convention]:
    """The conventions shipped with the layer (code's data: the same in every container)."""
    return _CONVENTIONS.validate_python(json.loads(FILE.read_text(encoding="utf-8")))


def parse_choices(setting: str | None) -> dict[str, str]:
    """WEBHOOK_CONVENTIONS (`name=option,...`) checked against the conventions; ConfigurationError otherwise."""
    conventions = known()
    chosen: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in (setting or "").split(","))):
        name, _, option = (text.strip() for text in part.partition("="))
        if name not in conventions or option not in conventions[name].options:
            choices = {n: sorted(c.options) for n, c in conventions.items()}
            raise ConfigurationError(f"WEBHOOK_CONVENTIONS: {part!r} is not name=option of {choices}")
        chosen[name] = option
    return chosen


def expansions(choices: Mapping[str, str] | None = None) -> dict[str, str]:
    """What each `$name` becomes: the chosen option, else the convention's default."""
    return {
        name: f"({convention.options[(choices or {}).get(name, convention.default)]})"
        for name, convention in known().items()
    }


def _expand(value: Any, replacements: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _NAME.sub(lambda found: replacements.get(found.group(1), found.group(0)), value)
    if isinstance(value, dict):
        return {name: _expand(item, replacements) for name, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, replacements) for item in value]
    return value


def expand(document: Any, replacements: Mapping[str, str]) -> Any:
    """A mapping file's document with each known `$name` of its expressions replaced (its prose, the
    description and the requirements' reasons, left as it is; an unknown `$name` is left to fail as
    JMESPath)."""
    if not isinstance(document, dict):
        return document
    out = {name: _expand(value, replacements) if name in _EXPRESSIONS else value for name, value in document.items()}
    if isinstance(out.get("requires"), list):
        out["requires"] = [
            {**item, "check": _expand(item.get("check"), replacements)} if isinstance(item, dict) else item
            for item in out["requires"]
        ]
    return out
