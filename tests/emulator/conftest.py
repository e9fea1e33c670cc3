"""Fixtures for the emulator tests: a running emulator, a client for it, the spec's schemas."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, APP_ID, APP_KEY, Client, OpenApiCheck, PausingEmulator, SpecCheck, serving
from tests.support import OPENAPI_2026, SWAGGER_2019, FakeClock, reference_spec


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked_emulator(clock: FakeClock) -> Iterator[tuple[Emulator, Client]]:
    """Given an emulator on a fake clock (and a client for it): a delay fault or the latency advances the
    clock (each wait is in clock.slept) instead of waiting, and a timed fault ends once the clock passes it."""
    emu = PausingEmulator(clock.sleep, api_keys={API_KEY}, applications={APP_ID: APP_KEY}, monotonic=clock)
    with serving(emu) as client:
        yield emu, client


# --- the spec's definitions as JSON Schema ----------------------------------------------------


@pytest.fixture(scope="session")
def spec_definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = copy.deepcopy(reference_spec(SWAGGER_2019)["definitions"])
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


@pytest.fixture(scope="session")
def conforms_v2() -> OpenApiCheck:
    """Checks a body against a schema of the May 2026 spec (talon_one_openapi-v25.17.0.yaml)."""
    return OpenApiCheck(reference_spec(OPENAPI_2026)["components"]["schemas"])
