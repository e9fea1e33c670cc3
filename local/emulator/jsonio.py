"""JSON in and out, as Talon.One (a Go service) reads and writes it.

In: NaN, Infinity and numbers a float64 cannot hold (`1e999`, a 400-digit integer) are refused with a
400 naming where they are; Go's decoder refuses them too. Out: never a non-finite number
(`allow_nan=False` everywhere), so every answer, log and state file is valid JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from local.emulator.errors import ApiError, json_pointer


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_big(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def non_finite(value: Any, location: tuple[int | str, ...] = ()) -> tuple[int | str, ...] | None:
    """Location of the first number a float64 cannot hold, None when there is none."""
    if isinstance(value, float):
        return None if math.isfinite(value) else location
    if isinstance(value, int) and not isinstance(value, bool):
        return location if _too_big(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = non_finite(item, (*location, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = non_finite(item, (*location, index))
            if found is not None:
                return found
    return None


def loads_strict(body: bytes | str) -> Any:
    """JSON with only finite numbers; ValueError otherwise (json.JSONDecodeError for syntax)."""
    data = json.loads(body, parse_constant=_reject_constant)
    if non_finite(data) is not None:
        raise ValueError("a number is out of range")
    return data


def parse_json(body: bytes) -> Any:
    """JSON of a request body, or a 400 naming where it broke."""
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "Request body is not valid JSON",
            title="Invalid JSON",
            details=f"{exc.msg} at line {exc.lineno} column {exc.colno}",
            pointer="",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "Request body is not valid JSON", title="Invalid JSON", details=str(exc), pointer=""
        ) from None
    where = non_finite(data)
    if where is not None:
        pointer = json_pointer(where)
        raise ApiError(
            400,
            f"Number out of range at {pointer or '/'}",
            title="Invalid value",
            details="the number does not fit a 64-bit float",
            pointer=pointer,
        )
    return data


def dumps(payload: Any, **kwargs: Any) -> str:
    """JSON text; ValueError rather than NaN/Infinity."""
    return json.dumps(payload, allow_nan=False, **kwargs)


def dump_bytes(payload: Any) -> bytes:
    return dumps(payload).encode()
