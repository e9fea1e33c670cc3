"""One Talon.One call for a validated request, whatever the trigger: idempotent, effects logged.

The Talon.One client (and its secret read) is made on first use and kept on the container, so
importing a handler costs no AWS call.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from talon_relay.aws.idempotency import run_once
from talon_relay.aws.store import Store
from talon_relay.config.applications import DEFAULT
from talon_relay.core.effect_log import log_effects
from talon_relay.core.input_limits import header_token
from talon_relay.core.request import Request
from talon_relay.errors import SettingsError
from talon_relay.observability import logger
from talon_relay.talon.auth import SecretsManagerAuth
from talon_relay.talon.client import IntegrationClient
from talon_relay.wire.effects import application_of, effects_of, text_at

if TYPE_CHECKING:
    from talon_relay.container import Container

#: Time kept back from the Lambda's remaining time, to answer or report after the last attempt.
SAFETY_MARGIN_SECONDS = 1.0


def client(container: Container, application: str = DEFAULT) -> IntegrationClient:
    """The container's Talon.One client of `application`, made once (a batch's threads share one
    secret read); each application its own secret, pool and counters."""

    def make() -> IntegrationClient:
        cfg = container.settings()
        app = container.applications().get(application)
        if app is None or app.talon_secret_arn is None:
            raise SettingsError(f"no Talon.One secret for application {application!r} (TALON_APPLICATIONS)")
        auth = SecretsManagerAuth(container, app.talon_secret_arn, max_age=cfg.secret_max_age)
        return IntegrationClient(
            auth.base_url,
            auth,
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            max_retries=cfg.max_retries,
            backoff_factor=cfg.backoff_factor,
            backoff_max=cfg.backoff_max,
            pool=container.http() if application == DEFAULT else container.http(f"talon-one:{application}"),
            counts=container.counts.of(application),
        )

    return container.once("talon-one-client" if application == DEFAULT else f"talon-one-client:{application}", make)


def remaining_seconds(context: Any) -> float:
    """What is left of the invocation (infinite without a Lambda context, e.g. library use)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return float(getter()) / 1000 if getter is not None else float("inf")


def budget(context: Any) -> float | None:
    """Seconds a call may take: the Lambda's remaining time less a safety margin."""
    remaining = remaining_seconds(context)
    if remaining == float("inf"):
        return None
    return max(remaining - SAFETY_MARGIN_SECONDS, 0.5)


def _log_answer(
    container: Container, request: Request, data: bytes, correlation_id: str | None, key: str | None = None
) -> None:
    """Log the effects of a 2xx answer, whatever else it holds or lacks (a tolerant reader)."""
    operation = request.operation
    if operation.effects_at is None or not data:
        return
    try:
        answer = json.loads(data)
    except ValueError:
        # Talon.One applied the request: never a failure to retry or dead-letter (that would apply
        # it twice); the caller gets the body as sent.
        logger.warning("Talon.One accepted the request; its answer is not JSON", extra={"bytes": len(data)})
        return
    effects = effects_of(answer, operation.effects_at)
    session_id = text_at(answer, operation.session_at) if operation.session_at else None
    profile_id = text_at(answer, operation.profile_at) if operation.profile_at else None
    counts = log_effects(
        effects, operation=operation.name, session_id=session_id, profile_id=profile_id, correlation_id=correlation_id
    )
    container.counts.of(request.application).add_all(counts)
    if effects and container.settings().event_bus_name:
        # the way back, opt-in (EffectsToEventBus, docs/events.md): each effect one event on the bus; never
        # fails the call. Without EVENT_BUS_NAME (the default) nothing of it is imported.
        from talon_relay.core import bus

        bus.publish_effects(
            container,
            effects,
            operation=operation.name,
            key=key or correlation_id,
            application_id=application_of(answer),
            session_id=session_id,
            profile_id=profile_id,
        )


def forwarded_key(request: Request, key: str | None) -> dict[str, str]:
    """The idempotency key Talon.One takes for the operation (returnCartItems: `Idempotency-Key`): the
    caller's, else the relay's own (a queued message's, a webhook step's, the API request's id); one longer
    than Talon.One's 255 characters, or that is no header value as it is (a queued key may be any text: a
    newline, a euro sign), goes as its SHA-256: the same at every delivery, and never a failure to send."""
    header = request.operation.idempotency_header
    if header is None or not key:
        return {}
    return {header: key if header_token(key) else hashlib.sha256(key.encode()).hexdigest()}


def execute(
    container: Container,
    request: Request,
    *,
    context: Any,
    correlation_id: str | None,
    idempotency_key: str | None = None,
    signatures: tuple[str, ...] = (),
) -> str | None:
    """Call Talon.One once for a validated request; returns its JSON answer as sent (None for 204).

    With an idempotency key (and the table configured), a repeat of the same request returns the
    first answer without calling Talon.One again. Effects are logged when Talon.One returns them.
    `signatures`: the request's replay ids, recorded with its idempotency record (`access.authenticate`).
    """

    headers = forwarded_key(request, idempotency_key or correlation_id)

    def call() -> str | None:
        answer = client(container, request.application).send(
            request.operation, request.path, request.raw, budget=budget(context), headers=headers
        )
        try:
            _log_answer(container, request, answer.data, correlation_id, idempotency_key)
        except Exception as exc:  # Talon.One applied the request: logging its effects must not undo that
            logger.exception("could not log the answer's effects", extra={"reason": type(exc).__name__})
        return answer.data.decode("utf-8", "replace") or None

    scope = Store.idempotency_scope(request.operation.name, request.application)
    return run_once(
        container,
        idempotency_key,
        scope=scope,
        payload=request.payload,
        call=call,
        context=context,
        signatures=signatures,
    )
