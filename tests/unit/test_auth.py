"""Auth: the two header schemes, the secret's format, and credentials from Secrets Manager."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from talon_relay.container import Container
from talon_relay.errors import CredentialsError
from talon_relay.talon.auth import (
    ApiKeyAuth,
    HmacAuth,
    SecretsManagerAuth,
    TalonCredentials,
)
from talon_relay.talon.client import IntegrationClient
from talon_relay.talon.errors import TalonOneError
from talon_relay.wire.models import NewEvent

REPO = Path(__file__).resolve().parents[2]
APP_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # hex, as Talon.One shows an Application key
SECRET_MARK = "s3cr3t-9d2b"  # a distinctive value that must never surface


def recording_server(httpserver: HTTPServer, status: int = 204) -> list[Request]:
    """Answer every request with `status` (an empty body) and keep what the server saw."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        request.get_data()  # read the body while the connection is open
        seen.append(request)
        return Response(status=status)

    httpserver.expect_request("/v1/customer_data/p-1").respond_with_handler(handler)
    return seen


# --- ApiKeyAuth --------------------------------------------------------------------------------


def test_api_key_auth_sends_the_api_key_v1_header(httpserver: HTTPServer) -> None:
    # Given a client with an API key, when it calls Talon.One
    seen = recording_server(httpserver)
    client = IntegrationClient(httpserver.url_for("/"), ApiKeyAuth("ak-123"))
    client.delete_customer_data("p-1")
    # Then the server saw exactly `Authorization: ApiKey-v1 <key>`
    assert seen[0].headers["Authorization"] == "ApiKey-v1 ak-123"
    assert "Content-Signature" not in seen[0].headers


def test_api_key_auth_refuses_an_empty_key() -> None:
    with pytest.raises(CredentialsError):
        ApiKeyAuth("")


def test_api_key_auth_repr_hides_the_key() -> None:
    auth = ApiKeyAuth(SECRET_MARK)
    client = IntegrationClient("https://acme.talon.one", auth)
    assert SECRET_MARK not in repr(auth)
    assert SECRET_MARK not in str(auth)
    assert SECRET_MARK not in repr(client)


# --- HmacAuth ----------------------------------------------------------------------------------


def expected_signature(key_hex: str, body: bytes) -> str:
    """HMAC-MD5 of the body bytes, keyed with the hex-decoded key: computed here, independently."""
    return hmac.new(bytes.fromhex(key_hex), body, hashlib.md5).hexdigest()


def test_hmac_auth_signs_the_exact_body_bytes_the_server_receives(httpserver: HTTPServer) -> None:
    # Given a client using the 2019 signature scheme, and an event with non-ASCII attributes
    seen: list[bytes] = []
    signatures: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.get_data())
        signatures.append(request.headers.get("Content-Signature", ""))
        return Response("{}", status=500)  # the body does not matter here

    httpserver.expect_request("/v1/events", method="POST").respond_with_handler(handler)
    client = IntegrationClient(httpserver.url_for("/"), HmacAuth(12, APP_KEY), max_retries=0)
    event = NewEvent(session_id="s-1", type="purchase", attributes={"city": "Köln", "n": 1.5})
    # When it posts the event
    with pytest.raises(TalonOneError):
        client.track_event(event)
    # Then the header is `signer=<appId>; signature=<hex>` over the bytes that arrived
    (body,) = seen
    assert body == event.to_json()
    assert signatures == [f"signer=12; signature={expected_signature(APP_KEY, body)}"]


def test_hmac_auth_signs_an_empty_body_for_delete(httpserver: HTTPServer) -> None:
    seen = recording_server(httpserver)
    client = IntegrationClient(httpserver.url_for("/"), HmacAuth("34", APP_KEY))
    client.delete_customer_data("p-1")
    assert seen[0].get_data() == b""
    assert seen[0].headers["Content-Signature"] == (f"signer=34; signature={expected_signature(APP_KEY, b'')}")
    assert "Authorization" not in seen[0].headers


def test_hmac_signature_matches_a_fixed_vector() -> None:
    # RFC 2202 test case 2 for HMAC-MD5: key "Jefe", data "what do ya want for nothing?"
    auth = HmacAuth(1, b"Jefe".hex())
    assert auth.signature(b"what do ya want for nothing?") == "750c783e6ab0b503eaa86e310a5db738"


@pytest.mark.parametrize("key", ["not-hex-" + SECRET_MARK, "abc", ""])
def test_hmac_auth_refuses_a_key_that_is_not_hex_without_echoing_it(key: str) -> None:
    with pytest.raises(CredentialsError) as exc:
        HmacAuth(1, key)
    assert SECRET_MARK not in str(exc.value)
    assert exc.value.__cause__ is None


def test_hmac_auth_repr_hides_the_key() -> None:
    auth = HmacAuth(12, APP_KEY)
    assert APP_KEY not in repr(auth)
    assert "12" in repr(auth)


# --- TalonCredentials (the secret's JSON) --------------------------------------------------------


def test_credentials_with_an_api_key_give_api_key_auth() -> None:
    creds = TalonCredentials.parse({"baseUrl": "https://acme.talon.one", "apiKey": "k-1"})
    auth = creds.auth()
    assert isinstance(auth, ApiKeyAuth)
    assert auth.headers(b"") == {"Authorization": "ApiKey-v1 k-1"}
    assert creds.base_url == "https://acme.talon.one"


def test_credentials_with_an_application_key_give_hmac_auth() -> None:
    creds = TalonCredentials.parse(
        {"baseUrl": "https://acme.talon.one", "applicationId": 12, "applicationKey": APP_KEY}
    )
    auth = creds.auth()
    assert isinstance(auth, HmacAuth)
    assert auth.headers(b"{}") == {"Content-Signature": f"signer=12; signature={expected_signature(APP_KEY, b'{}')}"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"apiKey": SECRET_MARK}, id="no-base-url"),
        pytest.param({"baseUrl": "", "apiKey": SECRET_MARK}, id="empty-base-url"),
        pytest.param({"baseUrl": "https://x", "applicationKey": SECRET_MARK}, id="no-app-id"),
        pytest.param({"baseUrl": "https://x", "applicationId": 3}, id="no-key-at-all"),
        pytest.param(
            {"baseUrl": "https://x", "applicationId": SECRET_MARK, "applicationKey": "ab"},
            id="app-id-not-a-number",
        ),
        pytest.param({"baseUrl": "https://x", "apiKey": [SECRET_MARK]}, id="api-key-not-text"),
        pytest.param(SECRET_MARK, id="not-an-object"),
        pytest.param([SECRET_MARK], id="a-list"),
    ],
)
def test_invalid_credentials_are_reported_without_their_values(data: Any) -> None:
    # Given a secret in the wrong shape that holds a secret value
    # When it is parsed
    with pytest.raises(CredentialsError) as exc:
        TalonCredentials.parse(data)
    # Then the error explains the problem but neither it nor its chain carries the value
    message = str(exc.value)
    assert "not valid" in message
    assert SECRET_MARK not in message
    assert SECRET_MARK not in repr(exc.value)
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__ is True


def test_invalid_credentials_name_the_field_at_fault() -> None:
    with pytest.raises(CredentialsError) as exc:
        TalonCredentials.parse({"apiKey": "k"})
    assert "baseUrl" in str(exc.value)


def test_credentials_repr_hides_the_keys() -> None:
    api = TalonCredentials.parse({"baseUrl": "https://x", "apiKey": SECRET_MARK})
    app = TalonCredentials.parse({"baseUrl": "https://x", "applicationId": 1, "applicationKey": APP_KEY})
    assert SECRET_MARK not in repr(api) and SECRET_MARK not in str(api)
    assert APP_KEY not in repr(app) and APP_KEY not in str(app)


def test_credentials_with_a_non_hex_application_key_fail_without_echoing_it() -> None:
    creds = TalonCredentials.parse({"baseUrl": "https://x", "applicationId": 1, "applicationKey": SECRET_MARK})
    with pytest.raises(CredentialsError) as exc:
        creds.auth()
    assert SECRET_MARK not in str(exc.value)


# --- SecretsManagerAuth against a local Secrets Manager (moto server) ----------------------------


def put_secret(secretsmanager: Any, name: str, value: dict[str, Any]) -> str:
    arn: str = secretsmanager.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    return arn


def key_checking_server(httpserver: HTTPServer, valid_keys: set[str]) -> list[str]:
    """A Talon.One that accepts only `valid_keys` (204) and answers 401 otherwise."""
    seen: list[str] = []

    def handler(request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        seen.append(header.removeprefix("ApiKey-v1 "))
        if header.removeprefix("ApiKey-v1 ") in valid_keys:
            return Response(status=204)
        body = {"message": "unauthorized", "errors": []}
        return Response(json.dumps(body), status=401, content_type="application/json")

    httpserver.expect_request("/v1/customer_data/p-1").respond_with_handler(handler)
    return seen


def test_secrets_manager_auth_reads_the_secret(
    httpserver: HTTPServer, secretsmanager: Any, secret_name: str, container: Container
) -> None:
    # Given the documented secret in Secrets Manager
    base_url = httpserver.url_for("/").rstrip("/")
    arn = put_secret(secretsmanager, secret_name, {"baseUrl": base_url, "apiKey": "key-1"})
    seen = key_checking_server(httpserver, {"key-1"})
    # When a client uses it
    auth = SecretsManagerAuth(container, arn)
    client = IntegrationClient(auth.base_url, auth)
    client.delete_customer_data("p-1")
    # Then the base URL and the key came from the secret
    assert auth.base_url == base_url
    assert seen == ["key-1"]
    assert "key-1" not in repr(auth)


def test_secrets_manager_auth_reads_a_signature_scheme_secret(
    httpserver: HTTPServer,
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    secret = {"baseUrl": httpserver.url_for("/"), "applicationId": 77, "applicationKey": APP_KEY}
    arn = put_secret(secretsmanager, secret_name, secret)
    seen = recording_server(httpserver)
    auth = SecretsManagerAuth(container, arn)
    IntegrationClient(auth.base_url, auth).delete_customer_data("p-1")
    assert seen[0].headers["Content-Signature"] == (f"signer=77; signature={expected_signature(APP_KEY, b'')}")


def test_secrets_manager_auth_caches_the_secret_for_max_age(
    httpserver: HTTPServer,
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Given a secret read once by a client
    arn = put_secret(secretsmanager, secret_name, {"baseUrl": httpserver.url_for("/"), "apiKey": "key-1"})
    seen = key_checking_server(httpserver, {"key-1", "key-2"})
    auth = SecretsManagerAuth(container, arn, max_age=300)
    client = IntegrationClient(auth.base_url, auth)
    client.delete_customer_data("p-1")
    # When the secret changes in Secrets Manager and the client calls again within max_age
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"baseUrl": "https://x", "apiKey": "key-2"}))
    client.delete_customer_data("p-1")
    # Then the cached key is used: Secrets Manager is not read on every call
    assert seen == ["key-1", "key-1"]


def test_a_401_after_rotation_forces_one_fresh_read_and_one_retry(
    httpserver: HTTPServer,
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Given a client that has read and cached key-1
    base_url = httpserver.url_for("/")
    arn = put_secret(secretsmanager, secret_name, {"baseUrl": base_url, "apiKey": "key-1"})
    valid = {"key-1"}
    seen = key_checking_server(httpserver, valid)
    auth = SecretsManagerAuth(container, arn, max_age=300)
    client = IntegrationClient(auth.base_url, auth)
    client.delete_customer_data("p-1")
    # When the key is rotated (Secrets Manager and Talon.One now know only key-2)
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"baseUrl": base_url, "apiKey": "key-2"}))
    valid.clear()
    valid.add("key-2")
    client.delete_customer_data("p-1")
    # Then the call got a 401 with the old key, re-read the secret, and succeeded with the new one
    assert seen == ["key-1", "key-1", "key-2"]
    # And the fresh value is cached from then on (a later change is not read at once)
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"baseUrl": base_url, "apiKey": "key-3"}))
    client.delete_customer_data("p-1")
    assert seen == ["key-1", "key-1", "key-2", "key-2"]


def test_a_second_401_after_the_fresh_read_is_an_error_and_not_retried_again(
    httpserver: HTTPServer,
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    # Given a secret whose keys Talon.One rejects, old and new
    base_url = httpserver.url_for("/")
    arn = put_secret(secretsmanager, secret_name, {"baseUrl": base_url, "apiKey": "key-1"})
    seen = key_checking_server(httpserver, set())
    auth = SecretsManagerAuth(container, arn, max_age=300)
    auth.credentials()  # cached: key-1
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"baseUrl": base_url, "apiKey": "key-2"}))
    client = IntegrationClient(base_url, auth, max_retries=3, backoff_factor=0.001)
    # When the client calls
    with pytest.raises(TalonOneError) as exc:
        client.delete_customer_data("p-1")
    # Then it tried once, re-read the secret once, retried once, and then gave up with the 401
    assert seen == ["key-1", "key-2"]
    assert exc.value.status == 401
    assert exc.value.retryable is False
    assert exc.value.error is not None and exc.value.error.message == "unauthorized"


def test_a_401_with_a_static_api_key_is_not_retried(httpserver: HTTPServer) -> None:
    seen = key_checking_server(httpserver, set())
    client = IntegrationClient(httpserver.url_for("/"), ApiKeyAuth("wrong"), max_retries=3)
    with pytest.raises(TalonOneError) as exc:
        client.delete_customer_data("p-1")
    assert seen == ["wrong"]
    assert exc.value.status == 401


def test_a_missing_secret_is_a_credentials_error_naming_the_secret(
    aws: str, secret_name: str, container: Container
) -> None:
    auth = SecretsManagerAuth(container, secret_name)
    with pytest.raises(CredentialsError) as exc:
        auth.credentials()
    assert secret_name in str(exc.value)


def test_a_secret_that_is_not_json_is_a_credentials_error_without_its_value(
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    secretsmanager.create_secret(Name=secret_name, SecretString=f"apiKey={SECRET_MARK}")
    with pytest.raises(CredentialsError) as exc:
        SecretsManagerAuth(container, secret_name).credentials()
    assert "not JSON" in str(exc.value)
    assert SECRET_MARK not in str(exc.value)


def test_a_secret_in_the_wrong_shape_is_a_credentials_error_without_its_value(
    secretsmanager: Any,
    secret_name: str,
    container: Container,
) -> None:
    put_secret(secretsmanager, secret_name, {"apiKey": SECRET_MARK})
    with pytest.raises(CredentialsError) as exc:
        SecretsManagerAuth(container, secret_name).credentials()
    assert "baseUrl" in str(exc.value)
    assert SECRET_MARK not in str(exc.value)


# --- cold start --------------------------------------------------------------------------------


def test_importing_the_client_does_not_import_boto3() -> None:
    # boto3 is imported on the first secret fetch, not when a handler imports the client.
    env = {**os.environ, "PYTHONPATH": str(REPO / "layers" / "talon_relay")}
    result = subprocess.run(
        [sys.executable, "-c", "import talon_relay.talon.client, sys; assert 'boto3' not in sys.modules"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
