"""Exactly-once effects: a duplicate delivery makes no second Talon.One call.

Webhook senders retry and SQS delivers at least once. Powertools idempotency records each request's
key in DynamoDB; a replay gets the first call's result, the same key with another payload is refused,
and a call that failed leaves no record (so it can be retried). boto3 and the DynamoDB persistence
layer are imported on first use only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from talon_relay import answers
from talon_relay.errors import InProgress, KeyReused, StoreUnavailable
from talon_relay.observability import logger
from talon_relay.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

Result = str | None  # the JSON text of Talon.One's answer (None for 204)


@lru_cache(maxsize=4)
def store(table: str) -> DynamoDBPersistenceLayer:
    """One persistence layer (and DynamoDB client) per table and container."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table)


def _replayed(response: Any, record: Any) -> Any:
    logger.info("idempotent replay: returning the first call's result", extra={"status": record.status})
    return response


def run_once(
    key: str | None,
    *,
    scope: str,
    payload: dict[str, Any],
    call: Callable[[], Result],
    context: Any = None,
) -> Result:
    """Run `call` once per (`scope`, `key`); replays return its stored result.

    Without a key, or without an idempotency table configured, `call` simply runs.
    """
    cfg = settings()
    if not key or not cfg.idempotency_table_name:
        return call()
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyItemAlreadyExistsError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=cfg.idempotency_expiry_seconds,
        hash_function="sha256",
        response_hook=_replayed,  # type: ignore[arg-type]
    )
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)

    completed: list[Result] = []
    table = cfg.idempotency_table_name
    persistence = store(table)

    def relay(data: dict[str, Any]) -> answers.Stored:
        result = call()
        completed.append(result)
        # an answer too large for one DynamoDB item is kept compressed, or in parts (answers.py)
        expires = int(time.time()) + cfg.idempotency_expiry_seconds + 60
        return answers.pack(
            result,
            client=persistence.client,
            table=table,
            scope_key=f"{scope}#{key}",
            expires=expires,
            owner=cfg.function_name,
        )

    once = idempotent_function(relay, data_keyword_argument="data", persistence_store=persistence, config=config)
    try:
        stored = once(data={"key": f"{scope}#{key}", "payload": payload})
    except IdempotencyValidationError:
        raise KeyReused(f"idempotency key {key!r} was already used for a different {scope} request") from None
    except (IdempotencyAlreadyInProgressError, IdempotencyItemAlreadyExistsError):
        raise InProgress(f"a {scope} request with idempotency key {key!r} is still in progress") from None
    except IdempotencyPersistenceLayerError as exc:
        if completed:  # Talon.One accepted it; only recording that failed: not a reason to send it again
            logger.warning(
                "could not record an idempotent result", extra={"reason": type(exc.__cause__ or exc).__name__}
            )
            return completed[0]
        raise StoreUnavailable(f"idempotency table unavailable: {type(exc.__cause__ or exc).__name__}") from None
    if completed:
        return completed[0]
    try:
        return answers.unpack(stored, client=persistence.client, table=table)
    except Exception as exc:  # botocore's errors reading the parts: Talon.One is not called again
        raise StoreUnavailable(f"idempotency table unavailable: {type(exc).__name__}") from None
