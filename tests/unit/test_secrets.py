"""Secrets through the Parameters and Secrets extension (a local stand-in backed by moto), and the
fallback through Powertools parameters (boto3) when the extension is absent, refuses or fails."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.extension import SecretsExtension
from talon_relay.aws import secret_values as secrets
from talon_relay.container import Container
from talon_relay.errors import CredentialsError
from talon_relay.talon.auth import SecretsManagerAuth
from talon_relay.talon.client import IntegrationClient
from tests.unit.conftest import StdoutCapture

TOKEN = "testing"  # the `aws` fixture's AWS_SESSION_TOKEN


@pytest.fixture
def fresh_secrets(container: Container) -> None:
    """Secrets are read into the test's own container (`container` fixture): nothing cached before."""
    assert not container.secrets


@pytest.fixture
def make_extension(
    aws: str, monkeypatch: pytest.MonkeyPatch, fresh_secrets: None
) -> Iterator[Callable[..., SecretsExtension]]:
    """Start the extension's stand-in on a free port and point the functions' variables at it."""
    started: list[SecretsExtension] = []

    def make(*, ttl: float = 0.0, token: str = TOKEN) -> SecretsExtension:
        extension = SecretsExtension(aws, token=token, ttl=ttl)
        monkeypatch.setenv(secrets.PORT_VARIABLE, str(extension.start()))
        started.append(extension)
        return extension

    yield make
    for extension in started:
        extension.stop()


def put(secretsmanager: Any, name: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        return str(secretsmanager.create_secret(Name=name, SecretString=text)["ARN"])
    except secretsmanager.exceptions.ResourceExistsException:
        return str(secretsmanager.put_secret_value(SecretId=name, SecretString=text)["ARN"])


def test_with_the_extension_a_secret_is_one_local_get_and_then_cached(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Given the extension is there and the secret exists
    extension = make_extension()
    arn = put(secretsmanager, secret_name, {"current": "one"})
    # When the secret is read twice within max_age
    first = secrets.fetch_secret(container, arn, max_age=300)
    second = secrets.fetch_secret(container, arn, max_age=300)
    # Then one GET served both, with the session token, and the same object came back
    assert first == {"current": "one"}
    assert second is first
    assert (extension.stats.requests, extension.stats.refused) == (1, 0)


def test_after_max_age_the_extension_is_asked_again(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    extension = make_extension()
    arn = put(secretsmanager, secret_name, {"current": "one"})
    secrets.fetch_secret(container, arn, max_age=0)
    put(secretsmanager, secret_name, {"current": "two"})
    assert secrets.fetch_secret(container, arn, max_age=0) == {"current": "two"}
    assert extension.stats.requests == 2


def test_without_the_extension_the_sdk_reads_the_secret(
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    secretsmanager: Any,
    secret_name: str,
    fresh_secrets: None,
    container: Container,
) -> None:
    # Given no extension port variable (SecretsExtension=disabled)
    monkeypatch.delenv(secrets.PORT_VARIABLE, raising=False)
    arn = put(secretsmanager, secret_name, {"current": "one"})
    # Then the secret is read through Powertools parameters, and cached as before
    assert secrets.extension_url(container) is None
    first = secrets.fetch_secret(container, arn, max_age=300)
    assert first == {"current": "one"}
    put(secretsmanager, secret_name, {"current": "two"})
    assert secrets.fetch_secret(container, arn, max_age=300) is first


def test_a_snapstart_restore_reads_the_session_token_through_the_sdk(
    make_extension: Callable[..., SecretsExtension],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Given an environment restored from a snapshot: no AWS_SESSION_TOKEN, credentials from the SDK's
    # chain (here a shared credentials file, in Lambda the container endpoint)
    extension = make_extension(token="restored-token")
    arn = put(secretsmanager, secret_name, {"current": "one"})
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\naws_session_token = restored-token\n"
    )
    for name in ("AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    # Then the secret comes through the extension, with the SDK's token
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "one"}
    assert (extension.stats.requests, extension.stats.refused) == (1, 0)


def test_without_a_session_token_the_extension_is_not_used(
    make_extension: Callable[..., SecretsExtension],
    monkeypatch: pytest.MonkeyPatch,
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Outside a SnapStart restore, no AWS_SESSION_TOKEN means no extension: the SDK reads the secret
    extension = make_extension()
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    arn = put(secretsmanager, secret_name, {"current": "one"})
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "one"}
    assert extension.stats.requests == 0


def test_a_refusing_extension_falls_back_to_the_sdk_with_a_warning(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    powertools_stdout: StdoutCapture,
    container: Container,
) -> None:
    # Given an extension that does not accept the function's token
    extension = make_extension(token="another-token")
    arn = put(secretsmanager, secret_name, {"current": "one"})
    # When the secret is read, then it still arrives, through the SDK, and the refusal is logged
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "one"}
    assert extension.stats.refused == 1
    (warning,) = [line for line in powertools_stdout.logs() if line["level"] == "WARNING"]
    assert warning["status"] == 401


def test_an_extension_that_is_not_listening_is_given_up_for_the_sdk(
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    secretsmanager: Any,
    secret_name: str,
    fresh_secrets: None,
    container: Container,
) -> None:
    # Given the port variable names a port nothing listens on
    monkeypatch.setenv(secrets.PORT_VARIABLE, str(closed_port))
    arn = put(secretsmanager, secret_name, {"current": "one"})
    # Then the secret comes through the SDK, and the extension is not tried again in this environment
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "one"}
    assert secrets.extension_url(container) is None


def test_an_unknown_secret_is_a_credentials_error_naming_it(
    make_extension: Callable[..., SecretsExtension],
    secret_name: str,
    container: Container,
) -> None:
    make_extension()
    with pytest.raises(CredentialsError, match="cannot read secret"):
        secrets.fetch_secret(
            container, f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_name}", max_age=300
        )


def test_a_secret_that_is_not_json_is_a_credentials_error(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    make_extension()
    arn = put(secretsmanager, secret_name, "not json at all")
    with pytest.raises(CredentialsError, match="is not JSON"):
        secrets.fetch_secret(container, arn, max_age=300)


def test_a_forced_read_bypasses_the_extensions_cache_and_its_value_is_kept(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Given an extension that caches for 300 s and has the old value cached
    extension = make_extension(ttl=300)
    arn = put(secretsmanager, secret_name, {"current": "old"})
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "old"}
    # When the secret is rotated and a read is forced (what a 401 from Talon.One does)
    put(secretsmanager, secret_name, {"current": "new"})
    assert extension.read(arn)[1]["SecretString"] == json.dumps({"current": "old"})  # still cached there
    assert secrets.fetch_secret(container, arn, max_age=300, force=True) == {"current": "new"}
    # Then later reads within max_age get the new value, not the extension's stale one
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "new"}


def test_a_401_after_rotation_reads_the_new_key_past_the_extensions_cache(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    httpserver: HTTPServer,
    container: Container,
) -> None:
    # Given a client whose key came through a caching extension, and a Talon.One that checks keys
    make_extension(ttl=300)
    base_url = httpserver.url_for("/")
    arn = put(secretsmanager, secret_name, {"baseUrl": base_url, "apiKey": "key-1"})
    valid = {"key-1"}
    seen: list[str] = []

    def check(request: Request) -> Response:
        key = request.headers.get("Authorization", "").removeprefix("ApiKey-v1 ")
        seen.append(key)
        if key in valid:
            return Response(status=204)
        return Response(json.dumps({"message": "unauthorized"}), status=401, content_type="application/json")

    httpserver.expect_request("/v1/customer_data/p-1", method="DELETE").respond_with_handler(check)
    auth = SecretsManagerAuth(container, arn, max_age=300)
    client = IntegrationClient(auth.base_url, auth)
    client.delete_customer_data("p-1")
    # When the key is rotated in Secrets Manager and at Talon.One
    put(secretsmanager, secret_name, {"baseUrl": base_url, "apiKey": "key-2"})
    valid.clear()
    valid.add("key-2")
    client.delete_customer_data("p-1")
    # Then the 401 forced one fresh read, and the retry carried the new key
    assert seen == ["key-1", "key-1", "key-2"]


def test_forget_drops_cached_secrets(
    make_extension: Callable[..., SecretsExtension],
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    extension = make_extension()
    arn = put(secretsmanager, secret_name, {"current": "one"})
    secrets.fetch_secret(container, arn, max_age=300)
    container.reset()
    put(secretsmanager, secret_name, {"current": "two"})
    assert secrets.fetch_secret(container, arn, max_age=300) == {"current": "two"}
    assert extension.stats.requests == 2
