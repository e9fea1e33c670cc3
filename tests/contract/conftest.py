"""Fixtures for the contract tests: the reference specs (tests/support.py reads them)."""

from __future__ import annotations

import types
import typing
from typing import Any

from tests.support import OPENAPI_2026, SWAGGER_2019, reference_spec


def load_spec() -> dict[str, Any]:
    """The unmodified Swagger 2.0 file of May 2019 the v1 operations follow."""
    spec = reference_spec(SWAGGER_2019)
    assert spec.get("swagger") == "2.0"
    return spec


def load_current_spec() -> dict[str, Any]:
    """Today's API (May 2026): v2 session, profile and event."""
    spec = reference_spec(OPENAPI_2026)
    assert str(spec.get("openapi", "")).startswith("3.")
    return spec


def leaves(annotation: Any) -> set[Any]:
    """Every type named anywhere in an annotation (unions, containers, Literal values)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {("literal", value) for value in typing.get_args(annotation)}
    if origin is None:
        return {annotation}
    found: set[Any] = set() if origin in (typing.Union, types.UnionType) else {origin}
    for arg in typing.get_args(annotation):
        found |= leaves(arg)
    return found
