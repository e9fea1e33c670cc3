"""Configuration read from the environment once per container and validated, never ad hoc."""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Validate `environ` (default: the process environment) into Settings, or say what is wrong."""
    try:
        return Settings.model_validate(dict(os.environ if environ is None else environ))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid function configuration: {problems}") from None


_NAMES = tuple(field.alias or name for name, field in Settings.model_fields.items())


_current: Settings | None = None


def settings() -> Settings:
    """The settings of the current invocation (read at its start by `refresh`, or on first use)."""
    return _current if _current is not None else refresh()


def refresh() -> Settings:
    """Re-read the environment: once per invocation, by the handler entry point.

    Validation is cached per environment, so a Lambda container validates exactly once, while a
    process hosting several functions (the local gateway) gets each function's own settings.
    """
    global _current
    _current = _settings_for(tuple(map(os.environ.get, _NAMES)))
    return _current


@lru_cache(maxsize=16)
def _settings_for(values: tuple[str | None, ...]) -> Settings:
    return load_settings({k: v for k, v in zip(_NAMES, values, strict=True) if v is not None})


def clear_cache() -> None:
    """Forget validated settings (tests change the environment between cases)."""
    global _current
    _current = None
    _settings_for.cache_clear()
