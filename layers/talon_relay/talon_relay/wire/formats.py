"""Text formats the relay checks and never converts: the request models' date-times and the query's.

Pure functions without pydantic, so that the checkers (`checkers`), the query parameters (`requests`)
and the models (`wire`) share them and a cold start imports nothing more for them.
"""

from __future__ import annotations

from datetime import datetime

EXAMPLE = "2026-05-01T10:00:00Z"


def rfc3339(value: str) -> str:
    """An RFC 3339 date-time with its offset, returned as the text the caller sent."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be an RFC 3339 date-time such as {EXAMPLE}") from None
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise ValueError(f"must be an RFC 3339 date-time with a time and an offset, such as {EXAMPLE}")
    return value


_HEX = frozenset("0123456789abcdefABCDEF")


def uuid_text(value: str) -> str:
    """A UUID as 8-4-4-4-12 hexadecimal digits (the spec's `format: uuid`), returned as sent."""
    parts = value.split("-")
    if [len(part) for part in parts] != [8, 4, 4, 4, 12] or not all(set(part) <= _HEX for part in parts):
        raise ValueError("must be a UUID such as 1f0b2c5e-6a7d-4c8e-9f10-2b3c4d5e6f70")
    return value


def unique_items(values: list[str]) -> list[str]:
    """A list whose items are all different (the spec's `uniqueItems`), returned as sent."""
    if len(set(values)) != len(values):
        raise ValueError("must not hold the same item twice")
    return values
