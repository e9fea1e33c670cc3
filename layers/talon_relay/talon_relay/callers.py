"""Who may call the relay's API: signed requests, or API Gateway API keys.

An endpoint that changes customers' promotions or erases their data must let no one in who does not
belong. A sender either signs each request (HMAC-SHA256, below), or sends a relay caller key the way
Talon.One's SDKs send theirs (`Authorization: ApiKey-v1 <key>`, keys in a Secrets Manager secret
`{"keys": [...]}`), or calls the relay's key API, where API Gateway checks its API key.

Signature: header `X-Relay-Signature: t=<unix seconds>,v1=<hex>` where
`v1 = HMAC-SHA256(secret, f"{t}.{METHOD}.{path}." + raw body bytes)`; `path` is the request path
with each path parameter percent-encoded as one segment (`urllib.parse.quote(id, safe="")`) and,
when there are query parameters, `?` and the parameters sorted by name (`name=value&...`, each
percent-encoded the same way).
Method and path are signed too, so a signature for one customer's deletion (which has no body)
cannot be replayed against another's. Timestamps more than 5 minutes away are refused. The secret
(Secrets Manager, JSON `{"current": "...", "previous": "..."}`) may hold two values at once, so it
can be rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any

from talon_relay.auth import fetch_secret
from talon_relay.errors import CredentialsError, Unauthenticated

SIGNATURE_HEADER = "X-Relay-Signature"
TOLERANCE_SECONDS = 300
_HEADER_FORMAT = re.compile(r"^t=(?P<t>\d{1,12}),v1=(?P<v1>[0-9a-fA-F]{64})(?:,v1=[0-9a-fA-F]{64})*$")


def sign(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    """The header value a sender sends: `t=<timestamp>,v1=<hex>`."""
    return f"t={timestamp},v1={_digest(secret, timestamp, method, path, body)}"


def _digest(secret: str, timestamp: int | str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signing_secrets(secret_arn: str, *, max_age: int, force: bool = False) -> list[str]:
    """The secret values accepted now: current first, then previous (during a rotation)."""
    raw = fetch_secret(secret_arn, max_age=max_age, force=force)
    if not isinstance(raw, dict):
        raise CredentialsError("caller signing secret must be a JSON object")
    values = [raw.get("current"), raw.get("previous")]
    secrets = [value for value in values if isinstance(value, str) and value]
    if not secrets:
        raise CredentialsError('caller signing secret needs a non-empty "current" value')
    return secrets


def caller_keys(secret_arn: str, *, max_age: int, force: bool = False) -> list[str]:
    """The relay caller keys accepted now: current, previous (during a rotation), and any listed."""
    raw = fetch_secret(secret_arn, max_age=max_age, force=force)
    if not isinstance(raw, dict):
        raise CredentialsError("caller API keys secret must be a JSON object")
    listed = raw.get("keys")
    values = [raw.get("current"), raw.get("previous"), *(listed if isinstance(listed, list) else [])]
    keys = [value for value in values if isinstance(value, str) and value.strip()]
    if not keys:
        raise CredentialsError('caller API keys secret needs a non-empty "current" (or "keys": [...]) value')
    return keys


def verify_api_key(value: str, *, keys: list[str]) -> None:
    """Raise Unauthenticated unless `value` is `ApiKey-v1 <key>` with a key the relay knows.

    The scheme Talon.One's own SDKs send, so a vendor SDK works against the relay with only its host
    and key changed. Every key is compared in constant time, whichever matches.
    """
    scheme, _, offered = value.strip().partition(" ")
    if scheme != "ApiKey-v1" or not offered.strip():
        raise Unauthenticated("Authorization must be ApiKey-v1 <relay caller key>", header="Authorization")
    valid = False
    for key in keys:
        valid |= hmac.compare_digest(key.encode(), offered.strip().encode())
    if not valid:
        raise Unauthenticated("Authorization carries an unknown relay caller key", header="Authorization")


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A request header, looked up case-insensitively (HTTP header names are)."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return None if value is None else str(value)
    return None


def verify(
    value: str | None,
    *,
    secrets: list[str],
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise Unauthenticated unless `value` is a fresh signature of this request by a known secret."""
    if value is None or not value.strip():
        raise Unauthenticated(f"missing {SIGNATURE_HEADER} header")
    match = _HEADER_FORMAT.match(value.strip().replace(" ", ""))
    if match is None:
        raise Unauthenticated(f"malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<64 hex digits>")
    timestamp = int(match.group("t"))
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise Unauthenticated(
            f"{SIGNATURE_HEADER} timestamp is outside the {TOLERANCE_SECONDS // 60}-minute window "
            "(check the sender's clock, and sign each request when it is sent)"
        )
    offered = re.findall(r"v1=([0-9a-fA-F]{64})", value)
    valid = False
    for secret in secrets:
        expected = _digest(secret, match.group("t"), method, path, body)
        for candidate in offered:
            # compare_digest takes the same time whatever the first differing byte is
            valid |= hmac.compare_digest(expected, candidate.lower())
    if not valid:
        raise Unauthenticated(f"{SIGNATURE_HEADER} does not match the request (method, path, body or secret)")
