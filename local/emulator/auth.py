"""Integration API credentials: `Authorization: ApiKey-v1 <key>` and the 2019 `Content-Signature`.

A Content-Signature is `signer=<applicationId>; signature=<hex>`, the hex HMAC-MD5 of the exact body
bytes keyed with the hex-decoded application key. A valid signature wins over a bad API key.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from local.emulator.errors import ApiError
from local.emulator.headers import header


def parse_signature(value: str) -> tuple[int, str] | None:
    """`signer=<applicationId>; signature=<hex>` -> (applicationId, hex), None if malformed."""
    parts: dict[str, str] = {}
    for item in value.split(";"):
        key, sep, text = item.strip().partition("=")
        if not sep:
            return None
        parts[key.strip().lower()] = text.strip()
    signer, signature = parts.get("signer"), parts.get("signature")
    if not signer or not signature or not signer.isdigit():
        return None
    return int(signer), signature.lower()


def sign(application_key_hex: str, body: bytes) -> str:
    """The Content-Signature hex an application key gives these body bytes (HMAC-MD5)."""
    return hmac.new(bytes.fromhex(application_key_hex), body, hashlib.md5).hexdigest()


class Credentials:
    """The accepted API keys (key -> applicationId) and application keys (applicationId -> key)."""

    def __init__(self, default_application_id: int, *, bad_signature_status: int = 401) -> None:
        self.default_application_id = default_application_id
        self.bad_signature_status = bad_signature_status
        self._lock = threading.Lock()
        self._api_keys: dict[str, int] = {}
        self._applications: dict[int, bytes] = {}

    def set_keys(
        self,
        api_keys: Iterable[str] | Mapping[str, int] | None = None,
        applications: Mapping[int | str, str] | None = None,
    ) -> None:
        """Replace the API keys and/or application keys (None leaves one as it is)."""
        new_keys: dict[str, int] | None = None
        if api_keys is not None:
            if isinstance(api_keys, str):
                raise TypeError("api_keys must be a collection of keys, not one string")
            if isinstance(api_keys, Mapping):
                new_keys = {str(k): int(v) for k, v in api_keys.items()}
            else:
                new_keys = {str(k): self.default_application_id for k in api_keys}
            if any(not key for key in new_keys):
                raise ValueError("an API key must not be empty")
        new_apps: dict[int, bytes] | None = None
        if applications is not None:
            new_apps = {}
            for app_id, hex_key in applications.items():
                try:
                    key = bytes.fromhex(hex_key)
                except (TypeError, ValueError):
                    raise ValueError(f"application {app_id}: key is not hex") from None
                if not key:
                    raise ValueError(f"application {app_id}: key is empty")
                new_apps[int(app_id)] = key
        with self._lock:
            if new_keys is not None:
                self._api_keys = new_keys
            if new_apps is not None:
                self._applications = new_apps

    def holds(self, authorization: str | None) -> bool:
        """Whether `Authorization: ApiKey-v1 <key>` names one of these API keys."""
        scheme, _, key = (authorization or "").strip().partition(" ")
        with self._lock:
            return scheme == "ApiKey-v1" and key.strip() in self._api_keys

    def summary(self) -> dict[str, Any]:
        """How many API keys and which applications (never a key)."""
        with self._lock:
            return {"apiKeys": len(self._api_keys), "applications": sorted(self._applications)}

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """(applicationId, scheme) of a request with valid credentials, else a 401 (or 400)."""
        authorization = header(headers, "Authorization")
        signature_header = header(headers, "Content-Signature")
        with self._lock:
            api_keys, applications = self._api_keys, self._applications
        if authorization is not None:
            scheme, _, key = authorization.strip().partition(" ")
            key = key.strip()
            if scheme == "ApiKey-v1" and key in api_keys:
                return api_keys[key], "apiKey"
            if signature_header is None:
                raise ApiError(
                    401,
                    "Invalid API key" if scheme == "ApiKey-v1" else "Unsupported authorization",
                    title="Unauthorized",
                    details="expected 'Authorization: ApiKey-v1 <key>' with a valid key",
                    parameter="Authorization",
                    headers={"WWW-Authenticate": "ApiKey-v1"},
                )
        if signature_header is not None:
            return self._check_signature(signature_header, applications, body), "signature"
        raise ApiError(
            401,
            "Missing credentials",
            title="Unauthorized",
            details="send 'Authorization: ApiKey-v1 <key>' or a Content-Signature",
            parameter="Authorization",
            headers={"WWW-Authenticate": "ApiKey-v1"},
        )

    def _check_signature(self, value: str, applications: Mapping[int, bytes], body: bytes) -> int:
        parsed = parse_signature(value)
        if parsed is None:
            raise ApiError(
                self.bad_signature_status,
                "Malformed Content-Signature header",
                title="Unauthorized",
                details="expected 'signer=<applicationId>; signature=<hex>'",
                parameter="Content-Signature",
            )
        signer, signature = parsed
        key_bytes = applications.get(signer)
        expected = hmac.new(key_bytes, body, hashlib.md5).hexdigest() if key_bytes is not None else ""
        if key_bytes is None or not hmac.compare_digest(expected, signature):
            raise ApiError(
                self.bad_signature_status,
                "Invalid request signature",
                title="Unauthorized",
                details="HMAC-MD5 of the body with the application key does not match",
                parameter="Content-Signature",
            )
        return signer
