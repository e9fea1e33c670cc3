"""Every method of talon-one-sdk 26.2's IntegrationApi, as one call through the relay.

Each module of this package is one API area and holds `CALLS`: the SDK method's name -> a function that
makes that call with data it creates itself (ids unique to the run, through `World`) and returns the SDK's
answer. `tests/e2e/test_sdk_every_method.py` runs them all and checks each answer is the SDK's typed
model; a call may also assert what the answer must say."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.stack import LocalStack


@dataclass(frozen=True)
class World:
    """What a call needs: the SDK's IntegrationApi bound to the relay, the stack, and a run-unique tag."""

    api: Any
    stack: LocalStack
    run: str

    def unique(self, stem: str) -> str:
        return f"{stem}-{self.run}"


Call = Callable[[World], Any]


def all_calls() -> dict[str, Call]:
    """The calls of every area module, by SDK method name; a method named twice is a mistake."""
    found: dict[str, Call] = {}
    for module in pkgutil.iter_modules(__path__):
        calls: dict[str, Call] = importlib.import_module(f"{__name__}.{module.name}").CALLS
        twice = found.keys() & calls.keys()
        assert not twice, f"{module.name} repeats {sorted(twice)}"
        found.update(calls)
    return found
