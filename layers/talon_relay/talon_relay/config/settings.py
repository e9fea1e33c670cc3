"""Configuration read from the environment and validated, never ad hoc (once per container: container.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from talon_relay.config.fields import key, validator
from talon_relay.errors import SettingsError, problems


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The function's configuration, each field read from its environment variable."""

    talon_secret_arn: str = key("TALON_SECRET_ARN", schema=cs.str_schema(min_length=1))
    #: The function's name: every idempotency-table item it writes starts with it and a dot, as Powertools'
    #: records do (`<name>.<...>#<hash>`), so IAM can keep each function to its own (dynamodb:LeadingKeys).
    function_name: str = key("AWS_LAMBDA_FUNCTION_NAME", schema=cs.str_schema(min_length=1), default="test-func")
    secret_max_age: int = key("TALON_SECRET_MAX_AGE", schema=cs.int_schema(ge=0), default=300)
    connect_timeout: float = key("TALON_CONNECT_TIMEOUT", schema=cs.float_schema(gt=0), default=3.0)
    read_timeout: float = key("TALON_READ_TIMEOUT", schema=cs.float_schema(gt=0), default=10.0)
    max_retries: int = key("TALON_MAX_RETRIES", schema=cs.int_schema(ge=0, le=10), default=4)
    backoff_factor: float = key("TALON_BACKOFF_FACTOR", schema=cs.float_schema(ge=0), default=0.2)
    backoff_max: float = key("TALON_BACKOFF_MAX", schema=cs.float_schema(ge=0), default=5.0)
    queue_url: str | None = key("QUEUE_URL", schema=cs.str_schema(), default=None)
    dead_letter_queue_url: str | None = key("DEAD_LETTER_QUEUE_URL", schema=cs.str_schema(), default=None)
    idempotency_table_name: str | None = key("IDEMPOTENCY_TABLE_NAME", schema=cs.str_schema(), default=None)
    idempotency_expiry_seconds: int = key("IDEMPOTENCY_EXPIRY_SECONDS", schema=cs.int_schema(ge=60), default=86400)
    caller_auth: Literal["required", "disabled"] = key(
        "CALLER_AUTH", schema=cs.literal_schema(["required", "disabled"]), default="required"
    )
    caller_signing_secret_arn: str | None = key("CALLER_SIGNING_SECRET_ARN", schema=cs.str_schema(), default=None)
    #: Keys a caller may send as `Authorization: ApiKey-v1 <key>` (JSON current, previous, keys).
    caller_api_keys_secret_arn: str | None = key("CALLER_API_KEYS_SECRET_ARN", schema=cs.str_schema(), default=None)
    #: Whether the first signature scheme (v1, which does not sign Idempotency-Key and Prefer) is still
    #: accepted: "accepted" during the migration to v2, "refused" once every sender signs with v2.
    caller_signature_v1: Literal["accepted", "refused"] = key(
        "CALLER_SIGNATURE_V1", schema=cs.literal_schema(["accepted", "refused"]), default="accepted"
    )
    #: Records of different message groups processed at once in one SQS batch.
    batch_concurrency: int = key("BATCH_CONCURRENCY", schema=cs.int_schema(ge=1, le=10), default=10)
    #: Seconds of an invocation one application's messages may take in a batch shared with another's
    #: (adapters/lanes.py): a slow Talon.One delays the others' next messages this long at most.
    application_batch_seconds: float = key(
        "APPLICATION_BATCH_SECONDS", schema=cs.float_schema(ge=1, le=900), default=10.0
    )
    #: A webhook receiver's platform secret (JSON current, previous): what the platform signs with.
    webhook_secret_arn: str | None = key("WEBHOOK_SECRET_ARN", schema=cs.str_schema(), default=None)
    #: Seconds after its trigger a webhook is still taken: above Shopify's retry window (4 hours),
    #: below the idempotency records' lifetime, so every delivery taken is one the records remember.
    webhook_max_age: int = key("WEBHOOK_MAX_AGE", schema=cs.int_schema(ge=60), default=21600)
    #: A directory of operator mapping files (<dir>/<platform>/<topic>.json) over the layer's own.
    webhook_mappings_dir: str | None = key("WEBHOOK_MAPPINGS_DIR", schema=cs.str_schema(), default=None)
    #: The deployment's choice among the mappings' conventions (`name=option,...`; webhooks/conventions.json).
    webhook_conventions: str | None = key("WEBHOOK_CONVENTIONS", schema=cs.str_schema(), default=None)
    #: Seconds an order's record (its session and lines, for refunds and edits) is kept after it was paid.
    order_memory_seconds: int = key("ORDER_MEMORY_SECONDS", schema=cs.int_schema(ge=86400), default=400 * 86400)
    #: A webhook receiver's queues of the operations whose mapped steps are queued, not called (the table's
    #: `Delivery.webhook_steps_queued`: syncCatalog, coalesced; deleteCustomerData, for the erasure schedule),
    #: as JSON {operationId: queue URL}; each step goes there in the format of docs/api.md.
    step_queue_urls: str | None = key("STEP_QUEUE_URLS", schema=cs.str_schema(), default=None)
    #: A webhook receiver's shared queue (the sessions queue): where its webhooks that change a session go,
    #: to keep one order with the API's queued changes of the same session (docs/lifecycle.md).
    shared_queue_url: str | None = key("SHARED_QUEUE_URL", schema=cs.str_schema(), default=None)
    #: A webhook receiver's: the function whose items hold the orders' records (the shared queue's consumer,
    #: which applies the orders' webhooks), deleted by customers/redact and shop/redact.
    order_records_owner: str | None = key("ORDER_RECORDS_OWNER", schema=cs.str_schema(), default=None)
    #: Erasures a scheduled run has in flight at once (its Talon.One concurrency).
    erasure_concurrency: int = key("ERASURE_CONCURRENCY", schema=cs.int_schema(ge=1, le=100), default=10)
    #: A queued message that failed for a passing reason waits base x 2^(receives-1) seconds, at most max
    #: (backoff.py); the queue's maxReceiveCount, when given, is its last receive: a message failing then
    #: is dead-lettered by the relay, with its reason and its place in its customer's order.
    queue_retry_base_seconds: int = key("QUEUE_RETRY_BASE_SECONDS", schema=cs.int_schema(ge=0, le=43200), default=30)
    queue_retry_max_seconds: int = key("QUEUE_RETRY_MAX_SECONDS", schema=cs.int_schema(ge=0, le=43200), default=900)
    max_receive_count: int | None = key("MAX_RECEIVE_COUNT", schema=cs.int_schema(ge=1, le=1000), default=None)
    #: Seconds an API request may take when the function's own timeout is longer (the erasure function,
    #: whose scheduled run takes minutes while API Gateway gives up after 29 s). None: the function's.
    api_timeout_seconds: float | None = key("API_TIMEOUT_SECONDS", schema=cs.float_schema(gt=0, le=29), default=None)
    #: Seconds the last applied position of a session or profile is remembered (ordering.py): longer than
    #: a message can live in a queue and its dead-letter queue together (14 + 14 days).
    #: The applications beside `default` and the shops bound to each (JSON; config/applications.py).
    talon_applications: str | None = key("TALON_APPLICATIONS", schema=cs.str_schema(), default=None)
    ordering_expiry_seconds: int = key("ORDERING_EXPIRY_SECONDS", schema=cs.int_schema(ge=3600), default=35 * 86400)
    #: The EventBridge bus effects and notifications are published on (docs/events.md). None: nothing is
    #: published, nor anything of the bus imported (the template's default, EffectsToEventBus=disabled,
    #: for every function but the notifications receiver; library use; the bench's bare runs).
    event_bus_name: str | None = key("EVENT_BUS_NAME", schema=cs.str_schema(), default=None)
    #: Where an entry the bus refused after its retries is dead-lettered, with the reason.
    events_dead_letter_queue_url: str | None = key("EVENTS_DEAD_LETTER_QUEUE_URL", schema=cs.str_schema(), default=None)
    #: The shop whose customers' metafields get their loyalty balance and tier (the write-back), its Admin
    #: API token's secret (JSON accessToken), and its Admin GraphQL URL (default: the shop's own).
    shopify_shop_domain: str | None = key("SHOPIFY_SHOP_DOMAIN", schema=cs.str_schema(), default=None)
    shopify_admin_token_secret_arn: str | None = key(
        "SHOPIFY_ADMIN_TOKEN_SECRET_ARN", schema=cs.str_schema(), default=None
    )
    shopify_admin_url: str | None = key("SHOPIFY_ADMIN_URL", schema=cs.str_schema(), default=None)
    shopify_api_version: str = key("SHOPIFY_API_VERSION", schema=cs.str_schema(min_length=1), default="2026-04")

    def __post_init__(self) -> None:
        self.step_queue_url("")  # a malformed STEP_QUEUE_URLS fails the cold start, not the first webhook

    def step_queue_url(self, operation: str) -> str | None:
        """The queue a webhook's mapped step of `operation` goes on (STEP_QUEUE_URLS), if the template gave one."""
        if not self.step_queue_urls:
            return None
        try:
            urls: dict[str, str] = _STEP_QUEUES.validate_json(self.step_queue_urls)
        except ValidationError as exc:
            where = problems(exc, whole="STEP_QUEUE_URLS", prefix="STEP_QUEUE_URLS")
            raise SettingsError(f"invalid function configuration: {where}") from None
        return urls.get(operation)


#: STEP_QUEUE_URLS: a JSON object of queue URLs by operationId.
_STEP_QUEUES = SchemaValidator(cs.dict_schema(cs.str_schema(min_length=1), cs.str_schema(min_length=1)))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Validate `environ` (default: the process environment) into Settings, or say what is wrong."""
    try:
        settings: Settings = validator(Settings).validate_python(dict(os.environ if environ is None else environ))
    except ValidationError as exc:
        raise SettingsError(f"invalid function configuration: {problems(exc, whole='environment')}") from None
    return settings
