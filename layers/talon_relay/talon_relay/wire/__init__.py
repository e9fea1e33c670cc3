"""Talon.One's JSON shapes: models, effects and formats (pure: no logging, no AWS)."""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel


@cache
def load_model(ref: str) -> type[BaseModel]:
    """The model a table entry names as "module:Class" (a module of talon_relay), imported now.

    Library use and tests: the functions check bodies with `checkers` and never import a model.
    """
    from pydantic import BaseModel

    module, _, name = ref.partition(":")
    model = getattr(importlib.import_module(f"talon_relay.{module}"), name)
    assert isinstance(model, type) and issubclass(model, BaseModel), ref
    return model
