"""Every exception the relay raises, and what each trigger does with it.

Each error carries its own answer for an API caller (`api_status`, `api_body()`, `api_headers()`) and its
disposition for a queued message (`dead_letter`: never retried, moved to the DLQ with `reason`; else
retried later). The adapters map from these attributes, so a new error needs no new `except`.
Talon.One's own refusals and failures are `talon_errors.TalonOneError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_core import ValidationError

    from talon_relay.wire.models import APIError, ErrorResponse


# The spec's error answer is a pydantic model (`models`), imported with the first error that names
# its faults: a cold start whose first call succeeds never imports pydantic (checkers.py says why).
def error_response(message: str, errors: list[APIError]) -> ErrorResponse:
    from talon_relay.wire.models import ErrorResponse

    return ErrorResponse(message=message, errors=errors)


def api_error(title: str, details: str, **source: str) -> APIError:
    """One of an ErrorResponse's errors; `source` names where (pointer, parameter or line)."""
    from talon_relay.wire.models import APIError, ErrorSource

    return APIError(title=title, details=details, source=ErrorSource(**source))


def problems(exc: ValidationError, *, whole: str, prefix: str = "") -> str:
    """A validation's errors in one line, each as `where: message` (`whole` where the error is the
    whole input; each `where` after `prefix.` when given), never with the input itself (it may be a
    secret or a customer's data)."""
    return "; ".join(
        f"{'.'.join([prefix] * bool(prefix) + [str(part) for part in err['loc']]) or whole}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    )


class RelayError(Exception):
    """The base of every error the relay raises on purpose."""

    #: HTTP status an API caller gets.
    api_status: int = 500
    #: A queued message failing with this error can never succeed: dead-letter it now.
    dead_letter: bool = False
    #: Logged at INFO (a sender's mistake), WARNING (a refusal, Talon.One's failure) or ERROR (the
    #: relay's own state), with this message.
    log_level: str = "warning"
    log_message: str = "request failed"
    #: What a dead letter of this error carries besides its reason, for `make redrive` (SendMessage shape).
    letter_attributes: Mapping[str, Any] = MappingProxyType({})

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def talon_status(self) -> int | None:
        """Talon.One's HTTP status, when Talon.One answered (a dead letter's `talonStatus`)."""
        return None

    @property
    def reason(self) -> str:
        """Why, in one line, for logs and a dead letter's `failureReason` (never a secret)."""
        return self.message

    def api_body(self) -> dict[str, Any]:  # the spec's ErrorResponse, of a message only
        return {"message": self.message}

    def api_text(self) -> str:
        """The JSON text of the answer's body."""
        return json.dumps(self.api_body(), separators=(",", ":"))

    def api_headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(RelayError, ValueError):
    """The caller's request can never succeed as sent; carries an ErrorResponse naming each fault."""

    api_status = 400
    dead_letter = True
    log_level = "info"
    log_message = "rejected request"

    def __init__(self, errors: list[APIError], message: str = "Invalid request") -> None:
        self.response = error_response(message, errors)
        super().__init__(message)

    @property
    def reason(self) -> str:
        parts = []
        for err in self.response.errors or []:
            where = err.source.pointer or err.source.parameter or err.source.line or "request"
            parts.append(f"{where}: {err.details or err.title}")
        return f"{self.response.message}: " + "; ".join(parts)

    def __str__(self) -> str:
        return self.reason

    def api_body(self) -> dict[str, Any]:
        return self.response.to_wire()

    @classmethod
    def single(cls, title: str, details: str, **source: str) -> InvalidRequest:
        return cls([api_error(title, details, **source)])


class PayloadTooLarge(InvalidRequest):
    """The request or message is over a documented size limit (docs/api.md, "Limits"): never retried."""

    api_status = 413


class UnsupportedMediaType(InvalidRequest):
    """The body is not JSON in UTF-8 (its Content-Type says so): never retried."""

    api_status = 415


class Unauthenticated(RelayError):
    """The request is not from a known sender; the message says why (never echoes secrets)."""

    api_status = 401
    dead_letter = True
    log_message = "unauthenticated request"

    def __init__(self, message: str, *, header: str = "X-Relay-Signature") -> None:
        super().__init__(message)
        self.header = header

    def api_body(self) -> dict[str, Any]:
        error = api_error("Unauthenticated", self.message, parameter=self.header)
        return error_response("Unauthorized", [error]).to_wire()


class AnswerTooLarge(RelayError):
    """Talon.One's answer is more than Lambda can return to API Gateway: said, instead of Lambda failing the
    invocation after the fact and API Gateway answering a bare 502."""

    api_status = 502
    log_message = "answer too large to return"


class KeyReused(RelayError):
    """The idempotency key was used before with a different request: never retried."""

    api_status = 409
    dead_letter = True


class InProgress(RelayError):
    """The same request is being processed right now; try again shortly."""

    api_status = 409

    def api_headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class ConfigurationError(RelayError):
    """The function's environment or a secret it reads is wrong: an operator must fix it."""

    log_level = "error"
    log_message = "relay misconfigured"

    def api_body(self) -> dict[str, Any]:
        return {"message": "The relay is misconfigured; see its logs"}


class SettingsError(ConfigurationError):
    """The function's environment is incomplete or wrong; the message names each variable."""


class CredentialsError(ConfigurationError):
    """A secret is missing, unreadable or not in the documented format."""


class DependencyUnavailable(RelayError):
    """SQS or DynamoDB did not answer; nothing was sent to Talon.One, so a retry is safe."""

    api_status = 503
    log_level = "error"
    log_message = "AWS dependency failed"

    def api_body(self) -> dict[str, Any]:
        return {"message": "The relay cannot reach its queue or idempotency store; try again later"}


class StoreUnavailable(DependencyUnavailable):
    """The idempotency table could not be read or written."""


class QueueUnavailable(DependencyUnavailable):
    """SQS did not take the message (nothing was queued)."""


class ErasureIncomplete(RelayError):
    """Some erasures of a scheduled run failed: the run fails, so the scheduler retries it and
    its dead-letter queue (and alarm) get it, instead of a GDPR erasure being silently skipped."""


class BusUnavailable(DependencyUnavailable):
    """EventBridge refused entries after the relay's retries (retried later from the queue)."""


class ShopifyUnavailable(DependencyUnavailable):
    """Shopify's Admin API failed, timed out or throttled the write-back (retried later from the queue)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: Seconds before Shopify can take it (its throttle's restore time, or its Retry-After), as the
        #: SQS adapter's backoff reads a Retry-After: delta-seconds text.
        # (a Retry-After past any float is inf: a day, which the backoff cuts to what SQS allows; NaN: none)
        self.retry_after: str | None = None
        if retry_after is not None and not math.isnan(retry_after):
            self.retry_after = str(max(int(min(retry_after, 86_400.0) + 0.999), 1))
