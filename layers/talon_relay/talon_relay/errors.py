"""Every exception the relay raises, and what each trigger does with it.

Each error carries its own answer for an API caller (`api_status`, `api_body()`, `api_headers()`) and its
disposition for a queued message (`dead_letter`: never retried, moved to the DLQ with `reason`; else
retried later). The adapters map from these attributes, so a new error needs no new `except`.
"""

from __future__ import annotations

import json
from typing import Any

from talon_relay.models import APIError, ErrorResponse, ErrorSource

#: 409 is Talon.One's "avoid parallel requests"; 429 and 5xx are transient by nature.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


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

    def api_body(self) -> dict[str, Any]:
        return ErrorResponse(message=self.message).to_wire()

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
        self.response = ErrorResponse(message=message, errors=errors)
        super().__init__(message)

    @property
    def reason(self) -> str:
        parts = []
        for err in self.response.errors or []:
            where = err.source.pointer or err.source.parameter or err.source.line or "request"
            parts.append(f"{where}: {err.details or err.title}")
        return f"{self.response.message}: " + "; ".join(parts)

    def describe(self) -> str:
        return self.reason

    def __str__(self) -> str:
        return self.reason

    def api_body(self) -> dict[str, Any]:
        return self.response.to_wire()

    @classmethod
    def single(cls, title: str, details: str, **source: str) -> InvalidRequest:
        return cls([APIError(title=title, details=details, source=ErrorSource(**source))])


class Unauthenticated(RelayError):
    """The request is not from a known sender; the message says why (never echoes secrets)."""

    api_status = 401
    dead_letter = True
    log_message = "unauthenticated request"

    def __init__(self, message: str, *, header: str = "X-Relay-Signature") -> None:
        super().__init__(message)
        self.header = header

    def api_body(self) -> dict[str, Any]:
        error = APIError(title="Unauthenticated", details=self.message, source=ErrorSource(parameter=self.header))
        return ErrorResponse(message="Unauthorized", errors=[error]).to_wire()


class UnsupportedMediaType(RelayError):
    """The body is not JSON, the only content type Talon.One takes."""

    api_status = 415
    dead_letter = True
    log_level = "info"
    log_message = "rejected request"

    def __init__(self, message: str, *, header: str = "Content-Type") -> None:
        super().__init__(message)
        self.header = header

    def api_body(self) -> dict[str, Any]:
        error = APIError(
            title="Unsupported media type", details=self.message, source=ErrorSource(parameter=self.header)
        )
        return ErrorResponse(message="Unsupported media type", errors=[error]).to_wire()


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
        return ErrorResponse(message="The relay is misconfigured; see its logs").to_wire()


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
        return ErrorResponse(message="The relay cannot reach its queue or idempotency store; try again later").to_wire()


class StoreUnavailable(DependencyUnavailable):
    """The idempotency table could not be read or written."""


class QueueUnavailable(DependencyUnavailable):
    """SQS did not take the message (nothing was queued)."""


class ErasureIncomplete(RelayError):
    """Some erasures of a scheduled run failed: the run fails, so the scheduler retries it and
    its dead-letter queue (and alarm) get it, instead of a GDPR erasure being silently skipped."""


class TalonOneError(RelayError):
    """A Talon.One call that did not succeed: an error status, or no usable answer at all.

    `status` is None when no response came back (connection refused or dropped, timeout);
    `timed_out` separates a timeout from an unreachable server.
    """

    log_message = "Talon.One call failed"

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        error: ErrorResponse | None = None,
        body: bytes = b"",
        retryable: bool = False,
        timed_out: bool = False,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.status = status
        self.error = error
        self.body = body
        self.retryable = retryable
        self.timed_out = timed_out
        #: Talon.One's Retry-After (seconds or an HTTP date), passed on to an API caller with a 429/503.
        self.retry_after = retry_after

    @property
    def talon_status(self) -> int | None:
        return self.status

    @property
    def credentials_refused(self) -> bool:
        """Talon.One refused the relay's own key: not the message's fault, and not the caller's."""
        return self.status in (401, 403)

    @property
    def dead_letter(self) -> bool:  # type: ignore[override]
        return not self.retryable and not self.credentials_refused and self.status is not None

    @property
    def api_status(self) -> int:  # type: ignore[override]
        code = self.status
        if self.credentials_refused:
            return 502
        if code is not None and 400 <= code < 500:
            return code
        return 504 if self.timed_out else 502

    @property
    def log_level(self) -> str:  # type: ignore[override]
        return "error" if self.credentials_refused else "warning"

    @property
    def reason(self) -> str:
        if self.status is None:
            return self.message
        return f"Talon.One {self.status}: {self.message}"

    def api_text(self) -> str:
        """Talon.One's own 4xx JSON body goes to the caller as it is; anything else is the relay's."""
        if not self.credentials_refused and self.status is not None and 400 <= self.status < 500:
            try:
                json.loads(self.body)
                return self.body.decode("utf-8")
            except ValueError:
                pass
        return super().api_text()

    def api_body(self) -> dict[str, Any]:
        operation = self.operation or "the call"
        if self.credentials_refused:
            message = f"Talon.One refused the relay's credentials for {operation}"
        elif self.status is not None and 400 <= self.status < 500:
            message = self.message
        elif self.timed_out:
            message = f"Talon.One did not answer {operation} in time; try again later"
        else:
            message = f"Talon.One is unavailable for {operation}: {self.message}"
        return ErrorResponse(message=message).to_wire()

    @classmethod
    def from_response(
        cls, status: int, body: bytes, *, operation: str = "", retry_after: str | None = None
    ) -> TalonOneError:
        error: ErrorResponse | None = None
        try:
            error = ErrorResponse.model_validate(json.loads(body))
        except ValueError:  # not JSON, or JSON not in the ErrorResponse shape
            error = None
        message = error.message if error else f"Talon.One answered HTTP {status}"
        return cls(
            message,
            operation=operation,
            status=status,
            error=error,
            body=body,
            retryable=is_retryable_status(status),
            retry_after=retry_after,
        )

    def __repr__(self) -> str:
        return f"TalonOneError(status={self.status!r}, retryable={self.retryable}, message={self.message!r})"
