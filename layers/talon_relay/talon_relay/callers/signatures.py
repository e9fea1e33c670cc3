"""Who may call the relay's API: signed requests, relay caller keys, or API Gateway API keys.

An endpoint that changes customers' promotions or erases their data must let no one in who does not
belong. A sender either signs each request (HMAC-SHA256, below), or sends a relay caller key the way
Talon.One's SDKs send theirs (`Authorization: ApiKey-v1 <key>`, keys in a Secrets Manager secret
`{"current", "previous", "keys"}`), or calls the relay's key API, where API Gateway checks its API key.

Header `X-Relay-Signature: t=<unix seconds>,v2=<hex>` (docs/api.md, "Signing a request"), where `t` may
carry up to six decimals and
  v2 = HMAC-SHA256(secret, "v2\\n<t>\\n<METHOD>\\n<path>\\n<Idempotency-Key>\\n<Prefer>\\n" + raw body)
  v1 = HMAC-SHA256(secret, "<t>.<METHOD>.<path>." + raw body)   (the first scheme: deprecated)
`path` has each path parameter percent-encoded as one segment (`urllib.parse.quote(id, safe="")`)
and, when there are query parameters, `?` and them sorted by name (`name=value&...`, encoded the same way);
a header that was not sent signs as empty. v1 does not cover Idempotency-Key and Prefer, so it is
accepted only while `CALLER_SIGNATURE_V1=accepted` (the migration); a header with a v2 value is
judged by v2 alone. Timestamps older than 5 minutes or more than 1 minute ahead are refused, and each
signature is accepted once (`access.py`). The secret (Secrets Manager, JSON `{"current": "...",
"previous": "..."}`) may hold two values at once, so it can be rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talon_relay.aws.secret_values import read_secret
from talon_relay.errors import CredentialsError, Unauthenticated

if TYPE_CHECKING:
    from talon_relay.container import Container

SIGNATURE_HEADER = "X-Relay-Signature"
#: How old a signature may be (seconds): its replay record is kept this long.
TOLERANCE_SECONDS = 300
#: How far ahead of the relay's clock a signature's timestamp may be (seconds).
FUTURE_TOLERANCE_SECONDS = 60
_HEADER_FORMAT = re.compile(r"^t=(?P<t>\d{1,12}(?:\.\d{1,6})?)(?P<values>(?:,v\d{1,2}=[0-9a-fA-F]{64})+)$")
_VALUE = re.compile(r"(v\d{1,2})=([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Signature:
    """A verified signature: its timestamp and what must be used only once (`access.py`)."""

    timestamp: float
    version: str
    #: One id per signed message this header proves: each may be accepted once.
    replay_ids: tuple[str, ...]

    @property
    def v2_id(self) -> str | None:
        """The id of the v2 message, when the header proved one."""
        return self.replay_ids[0] if self.version == "v2" else None


def _timestamp_text(timestamp: int | float | str) -> str:
    if isinstance(timestamp, float):
        return f"{timestamp:.6f}"
    return str(timestamp)


def _v1_message(t: str, method: str, path: str, body: bytes) -> bytes:
    return f"{t}.{method.upper()}.{path}.".encode() + body


def _v2_message(t: str, method: str, path: str, body: bytes, idempotency_key: str | None, prefer: str | None) -> bytes:
    fields = (t, method.upper(), path, (idempotency_key or "").strip(), (prefer or "").strip())
    return ("v2\n" + "".join(f"{field}\n" for field in fields)).encode("utf-8", "backslashreplace") + body


def _v1_id(t: str, method: str, path: str, body: bytes) -> str:
    return "v1:" + hashlib.sha256(_v1_message(t, method, path, body)).hexdigest()


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str,
    timestamp: int | float | str,
    method: str,
    path: str,
    body: bytes,
    *,
    idempotency_key: str | None = None,
    prefer: str | None = None,
    version: str = "v2",
) -> str:
    """The header value a sender sends: `t=<timestamp>,v2=<hex>` (or `v1`, the deprecated scheme)."""
    t = _timestamp_text(timestamp)
    if version == "v1":
        return f"t={t},v1={_hmac(secret, _v1_message(t, method, path, body))}"
    return f"t={t},v2={_hmac(secret, _v2_message(t, method, path, body, idempotency_key, prefer))}"


def signing_secrets(container: Container, secret_arn: str, *, max_age: int, force: bool = False) -> list[str]:
    """The secret values accepted now: current first, then previous (during a rotation).

    A blank value (empty or only whitespace) is never a key: anyone could sign with it.
    """
    raw = container.secret(secret_arn, max_age=max_age, force=force, read=read_secret)
    if not isinstance(raw, dict):
        raise CredentialsError("caller signing secret must be a JSON object")
    current, previous = raw.get("current"), raw.get("previous")
    if not isinstance(current, str) or not current.strip():
        raise CredentialsError('caller signing secret needs a "current" value that is not empty or only whitespace')
    secrets = [current]
    if isinstance(previous, str) and previous.strip():
        secrets.append(previous)
    return secrets


def caller_keys(container: Container, secret_arn: str, *, max_age: int, force: bool = False) -> list[str]:
    """The relay caller keys accepted now: current, previous (during a rotation), and any listed."""
    raw = container.secret(secret_arn, max_age=max_age, force=force, read=read_secret)
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


def _check_time(t: str, now: float) -> float:
    timestamp = float(t)
    if timestamp - now > FUTURE_TOLERANCE_SECONDS:
        raise Unauthenticated(
            f"{SIGNATURE_HEADER} timestamp is {timestamp - now:.0f} s in the future; at most "
            f"{FUTURE_TOLERANCE_SECONDS} s is allowed (check the sender's clock)"
        )
    if now - timestamp > TOLERANCE_SECONDS:
        raise Unauthenticated(
            f"{SIGNATURE_HEADER} timestamp is outside the {TOLERANCE_SECONDS // 60}-minute window "
            "(check the sender's clock, and sign each request when it is sent)"
        )
    return timestamp


def _matches(offered: list[str], secrets: list[str], message: bytes) -> bool:
    valid = False
    for secret in secrets:
        expected = _hmac(secret, message)
        for candidate in offered:
            # compare_digest takes the same time whatever the first differing byte is
            valid |= hmac.compare_digest(expected, candidate.lower())
    return valid


def verify(
    value: str | None,
    *,
    secrets: list[str],
    method: str,
    path: str,
    body: bytes,
    idempotency_key: str | None = None,
    prefer: str | None = None,
    accept_v1: bool = True,
    now: float | None = None,
) -> Signature:
    """The verified signature of this request, or Unauthenticated saying why not."""
    if value is None or not value.strip():
        raise Unauthenticated(f"missing {SIGNATURE_HEADER} header")
    match = _HEADER_FORMAT.match(value.strip().replace(" ", ""))
    if match is None:
        raise Unauthenticated(f"malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v2=<64 hex digits>")
    t = match.group("t")
    timestamp = _check_time(t, time.time() if now is None else now)
    offered: dict[str, list[str]] = {}
    for version, digest in _VALUE.findall(match.group("values")):
        offered.setdefault(version, []).append(digest)
    if "v2" in offered:
        v2_message = _v2_message(t, method, path, body, idempotency_key, prefer)
        if not _matches(offered["v2"], secrets, v2_message):
            raise Unauthenticated(
                f"{SIGNATURE_HEADER} v2 does not match the request "
                "(method, path, Idempotency-Key, Prefer, body or secret)"
            )
        v2_id = "v2:" + hashlib.sha256(v2_message).hexdigest()
        # A v1 value beside it could be stripped off and sent alone: it is used up with this request
        # (hashed only then: a v2-only header never pays for the v1 message of a large body).
        if accept_v1 and "v1" in offered:
            return Signature(timestamp, "v2", (v2_id, _v1_id(t, method, path, body)))
        return Signature(timestamp, "v2", (v2_id,))
    if "v1" not in offered:
        raise Unauthenticated(f"{SIGNATURE_HEADER} has no v2 (or v1) signature")
    if not accept_v1:
        raise Unauthenticated(f"{SIGNATURE_HEADER} v1 is no longer accepted: sign with v2 (docs/api.md)")
    v1_message = _v1_message(t, method, path, body)
    if not _matches(offered["v1"], secrets, v1_message):
        raise Unauthenticated(f"{SIGNATURE_HEADER} does not match the request (method, path, body or secret)")
    return Signature(timestamp, "v1", ("v1:" + hashlib.sha256(v1_message).hexdigest(),))
