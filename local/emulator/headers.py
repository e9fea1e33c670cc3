"""Request headers: case-insensitive lookup (HTTP field names are), and which ones are secret."""

from __future__ import annotations

from collections.abc import Mapping

#: Headers the request log leaves out.
SECRET_HEADERS = frozenset({"authorization", "content-signature", "cookie", "proxy-authorization"})


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of a header whatever the case it was sent in (the first one, as Go's Header.Get)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def loggable(headers: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key.lower() not in SECRET_HEADERS}
