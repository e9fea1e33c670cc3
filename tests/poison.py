"""Poison: JSON that once broke the relay (issue 11), as text, for every suite that feeds it in."""

from __future__ import annotations


def deep(levels: int) -> str:
    """An array nested `levels` deep: `[[[...]]]`."""
    return "[" * levels + "]" * levels


#: JSON values (as text) past the documented limits, and the words the refusal must contain.
POISON_VALUES: dict[str, tuple[str, str]] = {
    "depth-300": (deep(300), "nests"),
    "depth-2000": (deep(2000), "nests"),
    "5000-digit-integer": ("1" * 5000, "5,000 characters"),
    "lone-surrogate": ('"x\\ud800"', "lone surrogate"),
    "nan": ("NaN", "NaN is not a JSON number"),
    "infinity": ("-Infinity", "Infinity is not a JSON number"),
    "overflowing-float": ("1e400", "out of the range"),
}


def session_body(value: str) -> str:
    """A session update body (NewCustomerSession) carrying `value` in an attribute."""
    return '{"profileId":"p-1","attributes":{"x":' + value + "}}"


def session_message(session: str, value: str) -> str:
    """A queued session update for `session` carrying `value` in an attribute."""
    return '{"customerSessionId":"' + session + '","body":' + session_body(value) + "}"


def erasure_message(value: str) -> str:
    """The erasure message of issue 11: an integration id next to a poison value."""
    return '{"integrationId":"a","x":' + value + "}"
