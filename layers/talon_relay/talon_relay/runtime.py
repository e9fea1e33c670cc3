"""Per-container state for the Lambda functions: the client built from settings, and one call.

The client (and its secret read) is created on first use, so importing a handler costs no AWS call.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from talon_relay.auth import SecretsManagerAuth
from talon_relay.client import IntegrationClient
from talon_relay.effects import log_effects
from talon_relay.errors import TalonOneError
from talon_relay.idempotency import run_once
from talon_relay.models import IntegrationState, ResponseModel
from talon_relay.observability import logger
from talon_relay.operations import Operation, Request
from talon_relay.settings import Settings, settings
from talon_relay.settings import clear_cache as clear_settings_cache

#: Time kept back from the Lambda's remaining time, to answer or report after the last attempt.
SAFETY_MARGIN_SECONDS = 1.0

_lock = threading.Lock()
_clients: dict[Settings, IntegrationClient] = {}


def client() -> IntegrationClient:
    """The container's IntegrationClient, configured from the environment and the secret."""
    cfg = settings()
    found = _clients.get(cfg)
    if found is None:
        with _lock:
            found = _clients.get(cfg)
            if found is None:
                auth = SecretsManagerAuth(cfg.talon_secret_arn, max_age=cfg.secret_max_age)
                found = _clients[cfg] = IntegrationClient(
                    auth.base_url,
                    auth,
                    connect_timeout=cfg.connect_timeout,
                    read_timeout=cfg.read_timeout,
                    max_retries=cfg.max_retries,
                    backoff_factor=cfg.backoff_factor,
                    backoff_max=cfg.backoff_max,
                )
    return found


def reset() -> None:
    """Forget everything the container caches: clients, settings, secrets, the batch thread pool.

    A Lambda container never needs this. Tests and the local stack do: they change the environment
    (AWS_ENDPOINT_URL, the secret ARNs) between runs, and a cached client would keep talking to a
    server that is gone.
    """
    from talon_relay import idempotency, queues, triggers

    with _lock:
        _clients.clear()
    clear_settings_cache()
    queues.sqs.cache_clear()
    idempotency.forget_stores()
    triggers.shutdown_pool()
    if "aws_lambda_powertools.utilities.parameters" in sys.modules:  # never imported just to be cleared
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()  # type: ignore[no-untyped-call]
        parameters.base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]


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


def execute(
    operation: Operation,
    request: Request,
    *,
    context: Any,
    correlation_id: str | None,
    idempotency_key: str | None = None,
) -> str | None:
    """Call Talon.One once for a validated request; returns its JSON answer as sent (None for 204).

    With an idempotency key (and the table configured), a repeat of the same request returns the
    first answer without calling Talon.One again. Effects are logged when Talon.One returns them.
    """

    def call() -> str | None:
        try:
            result = operation.invoke(client(), request.params, request.body, budget(context))
        except TalonOneError as exc:
            if not exc.accepted:
                raise
            logger.warning(
                "Talon.One accepted the request; its answer is not in the spec's shape", extra={"reason": exc.message}
            )
            return exc.body.decode("utf-8", "replace") or None
        if isinstance(result, IntegrationState):
            log_effects(result, operation=operation.name, correlation_id=correlation_id)
        return result.wire_json() if isinstance(result, ResponseModel) else None

    return run_once(idempotency_key, scope=operation.name, payload=request.payload(), call=call, context=context)
