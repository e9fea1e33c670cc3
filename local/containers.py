"""What a Lambda container gives a handler, for running functions outside Lambda: the context
object, and a way to start a container afresh (the layer's per-container caches emptied).

Used by the local gateway, the tests and the bench; the shipped layer needs neither.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    """Lambda's context object: what the handlers and Powertools read from it."""

    function_name: str = "test-function"
    timeout_seconds: float = 20.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(int(left * 1000), 0)


def reset() -> None:
    """Forget everything the layer caches per container: clients, settings, secrets, SQS and DynamoDB
    clients, the batch thread pool.

    A Lambda container never needs this. Tests and the local stack do: they change the environment
    (AWS_ENDPOINT_URL, the secret ARNs) between runs, and a cached client would keep talking to a
    server that is gone.
    """
    from talon_relay.adapters import sqs
    from talon_relay.aws import idempotency, queues
    from talon_relay.aws import secret_values as secrets
    from talon_relay.config import settings
    from talon_relay.core import ordering, service

    service.client_for.cache_clear()
    secrets.forget()
    settings.clear_cache()
    queues.sqs.cache_clear()
    ordering.dynamodb.cache_clear()
    idempotency.store.cache_clear()
    sqs.shutdown_pool()
    if "aws_lambda_powertools.utilities.parameters" in sys.modules:  # never imported just to be cleared
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        parameters.base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]
