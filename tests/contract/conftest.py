"""Fixtures for the contract tests: the reference spec, and a Talon.One stand-in on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

#: The unmodified Swagger 2.0 file the project implements; never copied into the repo.
SPEC_PATH = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "talon_one_swagger-20052019.yaml"
).resolve()


def load_spec() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        reason = f"reference spec not found at {SPEC_PATH}: contract tests need ../shared/reference/"
        print(f"SKIPPED contract tests: {reason}")
        pytest.skip(reason, allow_module_level=True)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    assert isinstance(spec, dict) and spec.get("swagger") == "2.0"
    return spec


#: Today's API (May 2026): v2 session, profile and event; unmodified, never copied into the repo.
CURRENT_SPEC_PATH = SPEC_PATH.parent / "talon_one_openapi-v25.17.0.yaml"


class _CurrentSpecLoader(yaml.SafeLoader):
    """SafeLoader that reads the spec's `=` example key as text (PyYAML takes it for the YAML 1.1
    "value" tag and refuses it; see the reference README's loading note)."""


_CurrentSpecLoader.add_constructor(
    "tag:yaml.org,2002:value",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def load_current_spec() -> dict[str, Any]:
    if not CURRENT_SPEC_PATH.is_file():
        reason = f"reference spec not found at {CURRENT_SPEC_PATH}: contract tests need ../shared/reference/"
        print(f"SKIPPED contract tests: {reason}")
        pytest.skip(reason, allow_module_level=True)
    with CURRENT_SPEC_PATH.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=_CurrentSpecLoader)
    assert isinstance(spec, dict) and str(spec.get("openapi", "")).startswith("3.")
    return spec
