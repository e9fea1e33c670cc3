"""Fixtures for the emulator tests: a running emulator, a client for it, the spec's schemas."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
import yaml

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, APP_ID, APP_KEY, SPEC, SPEC_2026, Client, OpenApiCheck, SpecCheck


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(api_keys={API_KEY}, applications={APP_ID: APP_KEY})
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    pool = urllib3.PoolManager(maxsize=8)
    assert emulator.base_url is not None
    yield Client(emulator.base_url, pool)
    pool.clear()


# --- the spec's definitions as JSON Schema ----------------------------------------------------


@pytest.fixture(scope="session")
def spec_definitions() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"reference spec not found at {SPEC}")
    definitions: dict[str, Any] = copy.deepcopy(yaml.safe_load(SPEC.read_text())["definitions"])
    # The spec types Event.effects items as objects, but v1 sends each effect as the tuple
    # [campaignId, rulesetId, ruleIndex, [name, *args]] (reference README): check that form.
    definitions["Event"]["properties"]["effects"]["items"] = {
        "type": "array",
        "minItems": 4,
        "maxItems": 4,
        "items": [
            {"type": "integer"},
            {"type": "integer"},
            {"type": "integer"},
            {"type": "array", "minItems": 1, "items": [{"type": "string"}]},
        ],
    }
    return definitions


@pytest.fixture(scope="session")
def conforms(spec_definitions: dict[str, Any]) -> SpecCheck:
    return SpecCheck(spec_definitions)


class _Loader(yaml.SafeLoader):
    """Reads the `=` key of one example in the 2026 file as text (see the reference README)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def conforms_v2() -> OpenApiCheck:
    """Checks a body against a schema of the May 2026 spec (talon_one_openapi-v25.17.0.yaml)."""
    if not SPEC_2026.exists():
        pytest.skip(f"reference spec not found at {SPEC_2026}")
    with SPEC_2026.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=_Loader)  # a SafeLoader subclass
    return OpenApiCheck(spec["components"]["schemas"])
