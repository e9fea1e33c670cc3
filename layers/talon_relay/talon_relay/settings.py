"""Configuration read from the environment once per container and validated, never ad hoc."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from talon_relay.errors import SettingsError


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    talon_secret_arn: str = Field(alias="TALON_SECRET_ARN", min_length=1)
    secret_max_age: int = Field(default=300, alias="TALON_SECRET_MAX_AGE", ge=0)
    connect_timeout: float = Field(default=3.0, alias="TALON_CONNECT_TIMEOUT", gt=0)
    read_timeout: float = Field(default=10.0, alias="TALON_READ_TIMEOUT", gt=0)
    max_retries: int = Field(default=4, alias="TALON_MAX_RETRIES", ge=0, le=10)
    backoff_factor: float = Field(default=0.2, alias="TALON_BACKOFF_FACTOR", ge=0)
    backoff_max: float = Field(default=5.0, alias="TALON_BACKOFF_MAX", ge=0)
    queue_url: str | None = Field(default=None, alias="QUEUE_URL")
    dead_letter_queue_url: str | None = Field(default=None, alias="DEAD_LETTER_QUEUE_URL")
    idempotency_table_name: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE_NAME")
    idempotency_expiry_seconds: int = Field(default=86400, alias="IDEMPOTENCY_EXPIRY_SECONDS", ge=60)
    caller_auth: Literal["required", "disabled"] = Field(default="required", alias="CALLER_AUTH")
    caller_signing_secret_arn: str | None = Field(default=None, alias="CALLER_SIGNING_SECRET_ARN")
    #: Keys a caller may send as `Authorization: ApiKey-v1 <key>` (JSON current, previous, keys).
    caller_api_keys_secret_arn: str | None = Field(default=None, alias="CALLER_API_KEYS_SECRET_ARN")
    #: Whether the first signature scheme (v1, which does not sign Idempotency-Key and Prefer) is still
    #: accepted: "accepted" during the migration to v2, "refused" once every sender signs with v2.
    caller_signature_v1: Literal["accepted", "refused"] = Field(default="accepted", alias="CALLER_SIGNATURE_V1")
    #: Records of different message groups processed at once in one SQS batch.
    batch_concurrency: int = Field(default=10, alias="BATCH_CONCURRENCY", ge=1, le=100)
    #: A webhook receiver's platform secret (JSON current, previous): what the platform signs with.
    webhook_secret_arn: str | None = Field(default=None, alias="WEBHOOK_SECRET_ARN")
    #: Seconds after its trigger a webhook is still taken: above Shopify's retry window (4 hours),
    #: below the idempotency records' lifetime, so every delivery taken is one the records remember.
    webhook_max_age: int = Field(default=21600, alias="WEBHOOK_MAX_AGE", ge=60)
    #: A directory of operator mapping files (<dir>/<platform>/<topic>.json) over the layer's own.
    webhook_mappings_dir: str | None = Field(default=None, alias="WEBHOOK_MAPPINGS_DIR")
    #: The erasure queue (DESIGN.md format), where a mapped deleteCustomerData waits for the schedule.
    erasure_queue_url: str | None = Field(default=None, alias="ERASURE_QUEUE_URL")
    #: Erasures a scheduled run has in flight at once (its Talon.One concurrency).
    erasure_concurrency: int = Field(default=10, alias="ERASURE_CONCURRENCY", ge=1, le=100)
    #: A queued message that failed for a passing reason waits base x 2^(receives-1) seconds, at most max
    #: (backoff.py); the queue's maxReceiveCount, when given, is its last receive: a message failing then
    #: is dead-lettered by the relay, with its reason and its place in its customer's order.
    queue_retry_base_seconds: int = Field(default=30, alias="QUEUE_RETRY_BASE_SECONDS", ge=0, le=43200)
    queue_retry_max_seconds: int = Field(default=900, alias="QUEUE_RETRY_MAX_SECONDS", ge=0, le=43200)
    max_receive_count: int | None = Field(default=None, alias="MAX_RECEIVE_COUNT", ge=1, le=1000)
    #: Seconds an API request may take when the function's own timeout is longer (the erasure function,
    #: whose scheduled run takes minutes while API Gateway gives up after 29 s). None: the function's.
    api_timeout_seconds: float | None = Field(default=None, alias="API_TIMEOUT_SECONDS", gt=0, le=29)
    #: Seconds the last applied position of a session or profile is remembered (ordering.py): longer than
    #: a message can live in a queue and its dead-letter queue together (14 + 14 days).
    ordering_expiry_seconds: int = Field(default=35 * 86400, alias="ORDERING_EXPIRY_SECONDS", ge=3600)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Validate `environ` (default: the process environment) into Settings, or say what is wrong."""
    try:
        return Settings.model_validate(dict(os.environ if environ is None else environ))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid function configuration: {problems}") from None


_NAMES = tuple(field.alias or name for name, field in Settings.model_fields.items())


# A Lambda container is one process, so these would be plain globals there. They are context variables
# so that one process can host several containers at once (the local gateway runs each container's
# invocations in its own contextvars.Context): each container then has its own environment and settings,
# as in Lambda, without swapping the process environment under the others.
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("talon_relay_environ", default=None)
_current: ContextVar[Settings | None] = ContextVar("talon_relay_settings", default=None)


def use_environment(environ: Mapping[str, str] | None) -> None:
    """Read the settings from `environ` instead of the process environment, in the current context
    (a local container's; None: the process environment again). Lambda never needs it."""
    _environ.set(environ)
    _current.set(None)


def environ() -> Mapping[str, str]:
    """The environment the function reads: the process's, or a local container's (use_environment)."""
    source = _environ.get()
    return os.environ if source is None else source


def settings() -> Settings:
    """The settings of the current invocation (read at its start by `refresh`, or on first use)."""
    current = _current.get()
    return current if current is not None else refresh()


def refresh() -> Settings:
    """Re-read the environment: once per invocation, by the handler entry point.

    Validation is cached per environment, so a Lambda container validates exactly once, while a
    process hosting several functions (the local gateway) gets each function's own settings.
    """
    source = environ()
    current = _settings_for(tuple(source.get(name) for name in _NAMES))
    _current.set(current)
    return current


@lru_cache(maxsize=16)
def _settings_for(values: tuple[str | None, ...]) -> Settings:
    return load_settings({k: v for k, v in zip(_NAMES, values, strict=True) if v is not None})


def clear_cache() -> None:
    """Forget validated settings (tests change the environment between cases)."""
    _current.set(None)
    _settings_for.cache_clear()
