"""The one exception a Talon.One call raises, and the rule for whether retrying can help."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talon_relay.models import ErrorResponse

#: 409 is Talon.One's "avoid parallel requests"; 429 and 5xx are transient by nature.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


class TalonOneError(Exception):
    """A call that did not succeed: an error status, or no usable answer at all.

    `status` is None when no response came back (connection refused or dropped, timeout);
    `timed_out` separates a timeout from an unreachable server; `accepted` marks a 2xx whose body
    did not validate (Talon.One did apply the request).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: ErrorResponse | None = None,
        body: bytes = b"",
        retryable: bool = False,
        timed_out: bool = False,
        accepted: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.body = body
        self.retryable = retryable
        self.timed_out = timed_out
        #: Talon.One answered 2xx (it applied the request) but the body is not what the spec says.
        self.accepted = accepted

    @classmethod
    def from_response(cls, status: int, body: bytes) -> TalonOneError:
        from talon_relay.models import ErrorResponse

        error: ErrorResponse | None = None
        try:
            error = ErrorResponse.model_validate(json.loads(body))
        except ValueError:  # not JSON, or JSON not in the ErrorResponse shape
            error = None
        message = error.message if error else f"Talon.One answered HTTP {status}"
        return cls(
            message,
            status=status,
            error=error,
            body=body,
            retryable=is_retryable_status(status),
        )

    @property
    def permanent(self) -> bool:
        return not self.retryable

    def __repr__(self) -> str:
        return f"TalonOneError(status={self.status!r}, retryable={self.retryable}, message={self.message!r})"
