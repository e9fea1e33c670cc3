"""Talon.One's refusals and failures: an error status, a timeout, no answer at all.

What the relay passes on of them: Talon.One's own 4xx body as it is, a Retry-After worth passing on,
and a 502/504 of the relay's for the rest; queued messages are retried for passing reasons only.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from talon_relay.errors import RelayError

if TYPE_CHECKING:
    from talon_relay.wire.models import ErrorResponse

#: 409 is Talon.One's "avoid parallel requests"; 429 and 5xx are transient by nature.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: A Retry-After worth passing on: delta-seconds or an HTTP date (nothing that could split a header).
_RETRY_AFTER = re.compile(r"[0-9]{1,10}|[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT")


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
        body: bytes = b"",
        retryable: bool = False,
        timed_out: bool = False,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.status = status
        self.body = body
        self.retryable = retryable
        self.timed_out = timed_out
        #: Talon.One's Retry-After (seconds or an HTTP date), passed on to an API caller with a 429/503.
        self.retry_after = retry_after

    @property
    def talon_status(self) -> int | None:
        return self.status

    @property
    def error(self) -> ErrorResponse | None:
        """Talon.One's answer as the spec's ErrorResponse, when it is one (parsed on first use)."""
        from talon_relay.wire.models import ErrorResponse

        try:
            return ErrorResponse.model_validate_json(self.body) if self.body else None
        except ValueError:  # not JSON, or JSON not in the ErrorResponse shape
            return None

    @property
    def credentials_refused(self) -> bool:
        """Talon.One refused the relay's own key: not the message's fault, and not the caller's."""
        return self.status in (401, 403)

    @property
    def misdirected(self) -> bool:
        """Talon.One answered with a redirect (3xx, never followed): the relay's base URL for it is wrong, an
        operator's to fix as a refused key is; not the message's fault (not dead-lettered, not passed on)."""
        return self.status is not None and 300 <= self.status < 400

    @property
    def needs_operator(self) -> bool:
        """A failure only the relay's operator can end (its credentials, its base URL): counted and logged
        as an error, and never the message's fault."""
        return self.credentials_refused or self.misdirected

    @property
    def dead_letter(self) -> bool:  # type: ignore[override]
        return not self.retryable and not self.needs_operator and self.status is not None

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
        return "error" if self.needs_operator else "warning"

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

    def api_headers(self) -> dict[str, str]:
        if self.retry_after and self.status in (429, 503) and _RETRY_AFTER.fullmatch(self.retry_after):
            return {"Retry-After": self.retry_after}
        return {}

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
        return {"message": message}

    @classmethod
    def from_response(
        cls, status: int, body: bytes, *, operation: str = "", retry_after: str | None = None
    ) -> TalonOneError:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        found = data.get("message") if isinstance(data, dict) else None
        message = found if isinstance(found, str) else f"Talon.One answered HTTP {status}"
        if 300 <= status < 400:
            message = f"Talon.One answered HTTP {status}, a redirect: the relay's base URL for it is not its API's"
        return cls(
            message,
            operation=operation,
            status=status,
            body=body,
            retryable=status in RETRYABLE_STATUSES or status >= 500,
            retry_after=retry_after,
        )

    def __repr__(self) -> str:
        return f"TalonOneError(status={self.status!r}, retryable={self.retryable}, message={self.message!r})"
