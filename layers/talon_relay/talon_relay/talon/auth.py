"""Credentials for the Integration API: the two header schemes and their source, Secrets Manager
(kept by the container, read by `aws.secret_values.read_secret`: the Parameters and Secrets extension, else
Powertools parameters).

Nothing here ever puts a key into a log line, a repr or an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic_core import ValidationError
from pydantic_core import core_schema as cs

from talon_relay.aws.secret_values import read_secret
from talon_relay.config.fields import key, validator
from talon_relay.errors import CredentialsError, problems

if TYPE_CHECKING:
    from talon_relay.container import Container

__all__ = ["ApiKeyAuth", "Auth", "HmacAuth", "SecretsManagerAuth", "TalonCredentials"]


class Auth(Protocol):
    def headers(self, body: bytes) -> dict[str, str]:
        """Headers that authenticate a request with exactly these body bytes."""
        ...

    def refresh(self) -> bool:
        """Re-read the credentials after a 401; True when a retry may now succeed."""
        ...


class ApiKeyAuth:
    """`Authorization: ApiKey-v1 <key>`, the scheme Talon.One uses since July 2019."""

    def __init__(self, api_key: str) -> None:
        if not api_key:
            raise CredentialsError("apiKey is empty")
        self._header = {"Authorization": f"ApiKey-v1 {api_key}"}

    def headers(self, body: bytes) -> dict[str, str]:
        return self._header

    def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ApiKeyAuth(api_key=***)"


class HmacAuth:
    """The spec's `integration_auth`: HMAC-MD5 of the body, keyed with the hex-decoded app key."""

    def __init__(self, application_id: int | str, application_key: str) -> None:
        try:
            self._key = bytes.fromhex(application_key)
        except ValueError:
            raise CredentialsError("applicationKey is not a hex string") from None
        if not self._key:
            raise CredentialsError("applicationKey is empty")
        self.application_id = str(application_id)

    def signature(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.md5).hexdigest()

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Signature": f"signer={self.application_id}; signature={self.signature(body)}"}

    def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"HmacAuth(application_id={self.application_id!r}, application_key=***)"


@dataclass(frozen=True, kw_only=True)
class TalonCredentials:
    """The secret's JSON: `{"baseUrl", "apiKey"}` or `{"baseUrl", "applicationId", "applicationKey"}`.

    The keys stay out of the repr, and out of every error message (only locations are named).
    """

    base_url: str = key("baseUrl", "base_url", schema=cs.str_schema(min_length=1))
    api_key: str | None = key(
        "apiKey", "api_key", schema=cs.nullable_schema(cs.str_schema()), default=None, secret=True
    )
    application_id: int | None = key(
        "applicationId", "application_id", schema=cs.nullable_schema(cs.int_schema()), default=None
    )
    application_key: str | None = key(
        "applicationKey", "application_key", schema=cs.nullable_schema(cs.str_schema()), default=None, secret=True
    )

    def __post_init__(self) -> None:
        if self.api_key is None and (self.application_id is None or self.application_key is None):
            raise ValueError("needs apiKey, or applicationId and applicationKey")

    @classmethod
    def parse(cls, data: Any) -> TalonCredentials:
        try:
            credentials: TalonCredentials = validator(TalonCredentials).validate_python(data)
        except ValidationError as exc:
            raise CredentialsError(f"Talon.One secret is not valid: {problems(exc, whole='secret')}") from None
        return credentials

    def auth(self) -> Auth:
        if self.api_key is not None:
            return ApiKeyAuth(self.api_key)
        assert self.application_id is not None and self.application_key is not None
        return HmacAuth(self.application_id, self.application_key)


class SecretsManagerAuth:
    """Auth whose credentials live in a Secrets Manager secret; a 401 forces one fresh read."""

    def __init__(self, container: Container, secret_id: str, *, max_age: int = 300) -> None:
        self._container = container
        self.secret_id = secret_id
        self.max_age = max_age
        self._lock = threading.Lock()
        self._raw: Any = None
        self._credentials: TalonCredentials | None = None
        self._auth: Auth | None = None

    def credentials(self, *, force: bool = False) -> TalonCredentials:
        raw = self._container.secret(self.secret_id, max_age=self.max_age, force=force, read=read_secret)
        with self._lock:
            if raw is not self._raw or self._credentials is None:
                credentials = TalonCredentials.parse(raw)
                self._auth = credentials.auth()
                self._credentials, self._raw = credentials, raw
            return self._credentials

    @property
    def base_url(self) -> str:
        return self.credentials().base_url

    def headers(self, body: bytes) -> dict[str, str]:
        self.credentials()
        assert self._auth is not None
        return self._auth.headers(body)

    def refresh(self) -> bool:
        self.credentials(force=True)
        return True

    def __repr__(self) -> str:
        return f"SecretsManagerAuth(secret_id={self.secret_id!r})"
