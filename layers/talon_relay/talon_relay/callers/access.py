"""Who is let in: one decision per API request, before anything of it is read.

A sender API Gateway checked by API key (the key API), one with a relay caller key (Talon.One's SDKs'
`Authorization: ApiKey-v1 <key>`), or one that signed this very request (`signatures`), each signature
accepted once: it is recorded in the relay's table (`aws.store`) until its window closes, and the same
signature again is a 401. A signature proves who sent a request, not that it is new: without the
record a captured request could be sent again and again within its five-minute window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talon_relay.aws.store import store
from talon_relay.callers import signatures
from talon_relay.errors import SettingsError, Unauthenticated
from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.container import Container
    from talon_relay.operations import Operation


def _warn_unprotected() -> bool:
    logger.warning(
        "signatures are not protected against replay",
        extra={"reason": "IDEMPOTENCY_TABLE_NAME is not set: no table records used signatures"},
    )
    return True


def remember(container: Container, signature: signatures.Signature, *, now: float | None = None) -> None:
    """Record `signature` as used, or raise Unauthenticated when it was used before.

    Without a table (IDEMPOTENCY_TABLE_NAME unset: library use, the bench; the template always sets
    it) nothing can be remembered, as nothing is for idempotency: said once per container, loudly.
    """
    table = store(container)
    if table is None:
        container.once("replay-unprotected-warning", _warn_unprotected)
        return
    # Kept until the signature's window has closed: after that its timestamp alone refuses it.
    expires = int(signature.timestamp) + signatures.TOLERANCE_SECONDS + 2
    for replay_id in signature.replay_ids:
        if not table.remember_signature(replay_id, expires=expires, now=now):
            raise Unauthenticated(
                f"{signatures.SIGNATURE_HEADER} was used before: each signature is accepted once "
                "(sign every request, retries included, when it is sent)"
            )


def authenticate(
    container: Container,
    operation: Operation,
    *,
    method: str,
    path_params: Mapping[str, Any],
    query: Mapping[str, Any],
    headers: Mapping[str, str],
    body: bytes,
    identity: Mapping[str, Any],
) -> None:
    """Let the request in, or raise Unauthenticated (401) saying why; `headers` by lower-cased name,
    `identity` API Gateway's (its `apiKeyId` when it checked an API key)."""
    cfg = container.settings()
    if cfg.caller_auth == "disabled":
        return
    if identity.get("apiKeyId"):
        return  # the key API: API Gateway has checked the sender's API key and usage plan
    authorization = headers.get("authorization")
    signature = headers.get(signatures.SIGNATURE_HEADER.lower())
    if authorization is not None and signature is None:
        if not cfg.caller_api_keys_secret_arn:
            raise SettingsError("CALLER_API_KEYS_SECRET_ARN must be set to accept Authorization: ApiKey-v1")
        keys = signatures.caller_keys(container, cfg.caller_api_keys_secret_arn, max_age=cfg.secret_max_age)
        signatures.verify_api_key(authorization, keys=keys)
        return
    if not cfg.caller_signing_secret_arn:
        raise SettingsError("CALLER_SIGNING_SECRET_ARN must be set while CALLER_AUTH is required")
    signed_path = operation.canonical_path(dict(path_params), dict(query))
    secrets = signatures.signing_secrets(container, cfg.caller_signing_secret_arn, max_age=cfg.secret_max_age)
    verified = signatures.verify(
        signature,
        secrets=secrets,
        method=method,
        path=signed_path,
        body=body,
        idempotency_key=headers.get("idempotency-key"),
        prefer=headers.get("prefer"),
        accept_v1=cfg.caller_signature_v1 == "accepted",
    )
    remember(container, verified)
    if verified.version == "v1":  # who still signs the old way, for the migration (docs/api.md)
        logger.info("deprecated signature scheme v1", extra={"source_ip": identity.get("sourceIp")})
