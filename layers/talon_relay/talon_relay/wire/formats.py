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
