"""Fixtures of the template tests: template.yaml as data (read once per module)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.helpers import load


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


@pytest.fixture(scope="module")
def parameters(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Parameters"])
