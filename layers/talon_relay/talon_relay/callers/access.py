"""Who is let in: one decision per API request, before anything of it is read.

A sender API Gateway checked by API key (the key API), one with a relay caller key (Talon.One's SDKs'
`Authorization: ApiKey-v1 <key>`), or one that signed this very request (`signatures`), each signature
accepted once: it is recorded in the relay's table (`aws.store`) until its window closes, and the same
signature again is a 401. A signature proves who sent a request, not that it is new: without the
record a captured request could be sent again and again within its five-minute window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talon_relay.aws.store import store
from talon_relay.callers import signatures
from talon_relay.config.applications import DEFAULT
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


def remember(
    container: Container, signature: signatures.Signature, *, application: str = DEFAULT, now: float | None = None
) -> None:
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
        if not table.remember_signature(replay_id, application=application, expires=expires, now=now):
            raise Unauthenticated(
                f"{signatures.SIGNATURE_HEADER} was used before: each signature is accepted once "
                "(sign every request, retries included, when it is sent)"
            )


def by_caller_key(container: Container, authorization: str) -> str:
    """The one application whose caller keys hold the key in `Authorization: ApiKey-v1 <key>`."""
    max_age = container.settings().secret_max_age
    matched: list[str] = []
    refusal: Unauthenticated | None = None
    for app in container.applications().by_name.values():
        if not app.caller_keys_secret_arn:
            continue
        keys = signatures.caller_keys(container, app.caller_keys_secret_arn, max_age=max_age)
        try:
            signatures.verify_api_key(authorization, keys=keys)
        except Unauthenticated as exc:
            refusal = exc
            continue
        matched.append(app.name)
    return _one(matched, refusal, "relay caller key", header="Authorization")


def by_signature(
    container: Container, verify: Callable[[list[str]], signatures.Signature]
) -> tuple[str, signatures.Signature]:
    """The one application whose signing secret signed the request (`verify(secrets)` checks it)."""
    max_age = container.settings().secret_max_age
    matched: list[tuple[str, signatures.Signature]] = []
    refusal: Unauthenticated | None = None
    for app in container.applications().by_name.values():
        if not app.signing_secret_arn:
            continue
        try:
            matched.append(
                (app.name, verify(signatures.signing_secrets(container, app.signing_secret_arn, max_age=max_age)))
            )
        except Unauthenticated as exc:
            refusal = exc
    name = _one([name for name, _ in matched], refusal, "signature", header=signatures.SIGNATURE_HEADER)
    return name, matched[0][1]


def _one(matched: list[str], refusal: Unauthenticated | None, what: str, *, header: str) -> str:
    if len(matched) == 1:
        return matched[0]
    if matched:
        raise Unauthenticated(
            f"the {what} matches applications {', '.join(matched)}: it must belong to exactly one", header=header
        )
    raise refusal or Unauthenticated(f"no application takes a {what}", header=header)


@dataclass(frozen=True)
class Admission:
    """Who was let in: the application reached, the replay ids still to record (`authenticate`'s `fold`),
    and the canonical path a signature was checked against (None: none was; made once, it is the
    request's path too when its parameters pass as sent: `core.request`)."""

    application: str
    unrecorded: tuple[str, ...] = ()
    signed_path: str | None = None


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
    fold: bool = False,
) -> Admission:
    """Let the request in and return its Admission: the application it reaches (`core/applications.py`:
    the one its key or signing secret belongs to), the replay ids still to record and the signed path;
    or raise Unauthenticated (401) saying why. `headers` by lower-cased name, `identity` API Gateway's
    (its `apiKeyId` when it checked an API key).

    `fold`: the request goes on to its idempotency record (it has an Idempotency-Key), whose one claim
    can record a v2 signature (`aws.idempotency`: a replay can only reach that record, since v2 signs the
    key); such a signature's ids are returned, not recorded here. Any other signature (v1 signs no key,
    so a replay could drop it) is recorded here, and nothing is returned.
    """
    cfg = container.settings()
    apps = container.applications()
    if cfg.caller_auth == "disabled":
        return Admission(DEFAULT)  # trusted networks only: unsigned callers reach the default application
    if identity.get("apiKeyId"):
        return Admission(apps.key_api)  # the key API: API Gateway has checked the sender's API key and usage plan
    authorization = headers.get("authorization")
    signature = headers.get(signatures.SIGNATURE_HEADER.lower())
    if authorization is not None and signature is None:
        if not cfg.caller_api_keys_secret_arn and not apps.several:
            raise SettingsError("CALLER_API_KEYS_SECRET_ARN must be set to accept Authorization: ApiKey-v1")
        return Admission(by_caller_key(container, authorization))
    if not cfg.caller_signing_secret_arn:
        raise SettingsError("CALLER_SIGNING_SECRET_ARN must be set while CALLER_AUTH is required")
    signed_path = operation.canonical_path(dict(path_params), dict(query))

    def verify(secrets: list[str]) -> signatures.Signature:
        return signatures.verify(
            signature,
            secrets=secrets,
            method=method,
            path=signed_path,
            body=body,
            idempotency_key=headers.get("idempotency-key"),
            prefer=headers.get("prefer"),
            accept_v1=cfg.caller_signature_v1 == "accepted",
        )

    application, verified = by_signature(container, verify)
    if fold and verified.replay_ids == (verified.v2_id,) and store(container) is not None:
        return Admission(application, verified.replay_ids, signed_path)
    remember(container, verified, application=application)
    if verified.version == "v1":  # who still signs the old way, for the migration (docs/api.md)
        logger.info("deprecated signature scheme v1", extra={"source_ip": identity.get("sourceIp")})
    return Admission(application, (), signed_path)
