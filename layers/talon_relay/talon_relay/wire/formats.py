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


#: Items a syncCatalog request may carry (the spec's `maxItems`).
MAX_SYNC_ACTIONS = 1000


def _field(item: object, name: str) -> object:
    """A field of an action or payload: a dict (the checkers) or a model (library use)."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def one_sync(actions: list[object]) -> list[object]:
    """A syncCatalog request's actions as Talon.One takes them: one action type, no SKU twice.

    Talon.One refuses the whole request otherwise (400), so the relay refuses it first, naming the action.
    """
    first = _field(actions[0], "type") if actions else None
    seen: dict[str, int] = {}
    for index, action in enumerate(actions):
        kind = _field(action, "type")
        if kind != first:
            raise ValueError(f"actions/{index}/type is {kind}, but actions/0 is {first}: one action type per sync")
        sku = _field(_field(action, "payload"), "sku")
        if isinstance(sku, str):
            if sku in seen:
                raise ValueError(
                    f"actions/{index}/payload/sku repeats the SKU of actions/{seen[sku]}: a SKU at most once per sync"
                )
            seen[sku] = index
    return actions
