"""Talon.One's error answer: `{"message", "errors": [{"title", "details", "source": {...}}]}`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ApiError(Exception):
    """An error answer in the spec's ErrorResponse shape; `source` names a pointer or a parameter."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        title: str | None = None,
        details: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        if errors is None:
            source: dict[str, str] = {}
            if parameter is not None:
                source["parameter"] = parameter
            else:
                source["pointer"] = pointer if pointer is not None else ""
            error: dict[str, Any] = {"title": title or message, "source": source}
            if details is not None:
                error["details"] = details
            errors = [error]
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors}


def json_pointer(location: Iterable[int | str]) -> str:
    """RFC 6901 pointer of a location in a JSON document (`~` and `/` escaped)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def problem(title: str, details: str, *, pointer: str | None = None, parameter: str | None = None) -> dict[str, Any]:
    """One item of `errors`."""
    source = {"parameter": parameter} if parameter is not None else {"pointer": pointer or ""}
    return {"title": title, "details": details, "source": source}
