"""Reading the relay's JSON secrets: through the AWS Parameters and Secrets Lambda Extension when the
function has it, else through Powertools parameters (boto3).

The extension (an AWS layer, `SecretsExtension` in the template) serves Secrets Manager on a local
port: `GET http://localhost:<port>/secretsmanager/get?secretId=<id>` with the header
`X-Aws-Parameters-Secrets-Token: <AWS_SESSION_TOKEN>` answers GetSecretValue's JSON. One such GET
over a kept-alive local connection replaces importing boto3 and creating a Secrets Manager client,
the largest part of a cold start (docs/performance.md).

The extension counts as present when `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` is set: Lambda sets
no variable for a layer, so the template sets the extension's own port variable exactly when it adds
the extension's layer. The token is AWS_SESSION_TOKEN; an environment restored from a SnapStart
snapshot has none (its credentials come from a container endpoint), and there, as AWS documents, the
token is read through the AWS SDK's credential chain (boto3, imported before the snapshot). Without
the extension, without a token, or when the extension fails, a secret is read as before: Powertools
parameters, which imports boto3 on its first use.

Both paths cache a secret for `max_age` seconds (TALON_SECRET_MAX_AGE). A forced read (a 401 from
Talon.One: the key may have been rotated) goes to Secrets Manager itself, bypassing the extension's
own cache, and the fresh value is kept for `max_age` from then on; since the template sets the
extension's TTL (SECRETS_MANAGER_TTL) to the same value, the extension cannot hand back the old
value after that either.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from talon_relay.errors import CredentialsError
from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.container import Container

#: The extension's own variables (its documented interface).
PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name
#: Seconds to connect to and wait for the extension (on a cache miss it calls Secrets Manager).
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 5.0


def extension_url(container: Container) -> str | None:
    """The extension's base URL when this environment has it (see the module docstring)."""
    port = container.environ.get(PORT_VARIABLE, "").strip()
    if container.no_secrets_extension or not port.isdigit():
        return None
    return f"http://localhost:{port}"


def session_token(container: Container) -> str | None:
    """The function's session token, which the extension requires (see the module docstring)."""
    token = container.environ.get("AWS_SESSION_TOKEN")
    if token or container.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return token or None
    import boto3

    credentials = boto3.Session().get_credentials()
    return credentials.get_frozen_credentials().token if credentials is not None else None


def fetch_secret(container: Container, secret_id: str, *, max_age: int, force: bool = False) -> Any:
    """A JSON secret as the container keeps it for `max_age` seconds (`Container.secret`), read by
    `read_secret` when it has none; `force` reads Secrets Manager afresh."""
    return container.secret(secret_id, max_age=max_age, force=force, read=read_secret)


def read_secret(container: Container, secret_id: str, *, max_age: int, force: bool) -> Any:
    """A JSON secret read now: through the extension when the environment has it, else the AWS SDK."""
    url = extension_url(container)
    if url is None:
        return _from_parameters(secret_id, max_age=max_age, force=force)
    value = None
    if not force:  # a forced read goes to Secrets Manager itself, past the extension's cache
        token = session_token(container)
        if token is None:
            return _from_parameters(secret_id, max_age=max_age, force=False)
        value = _from_extension(container, url, secret_id, token)
    if value is None:
        value = _from_parameters(secret_id, max_age=max_age, force=force)
    return value


def _from_parameters(secret_id: str, *, max_age: int, force: bool) -> Any:
    """The secret through Powertools parameters (boto3 is imported on the first read)."""
    from aws_lambda_powertools.utilities import parameters

    try:
        return parameters.get_secret(secret_id, transform="json", max_age=max_age, force_fetch=force)
    except parameters.exceptions.TransformParameterError:
        raise CredentialsError(f"secret {secret_id} is not JSON") from None
    except parameters.exceptions.GetParameterError as exc:
        raise CredentialsError(f"cannot read secret {secret_id}: {exc}") from None


def _from_extension(container: Container, url: str, secret_id: str, token: str) -> Any:
    """The secret through the extension; None when the extension cannot give it (then the caller
    reads it through the AWS SDK, which also reports why, should Secrets Manager refuse it)."""
    from urllib3.exceptions import HTTPError, NewConnectionError
    from urllib3.util import Timeout

    try:
        response = container.http("secrets-extension", maxsize=4).request(
            "GET",
            f"{url}/secretsmanager/get?secretId={quote(secret_id, safe='')}",
            headers={TOKEN_HEADER: token},
            timeout=Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            retries=False,
        )
    except NewConnectionError:
        container.no_secrets_extension = True  # nothing listens: this environment has no extension after all
        logger.warning("secrets extension not reachable; reading secrets through the AWS SDK")
        return None
    except HTTPError as exc:
        logger.warning("secrets extension failed; reading through the AWS SDK", extra={"reason": type(exc).__name__})
        return None
    if response.status != 200:
        logger.warning(
            "secrets extension refused a read; reading through the AWS SDK", extra={"status": response.status}
        )
        return None
    try:
        text = json.loads(response.data)["SecretString"]
    except (ValueError, KeyError, TypeError):
        logger.warning("secrets extension answered without a SecretString; reading through the AWS SDK")
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        raise CredentialsError(f"secret {secret_id} is not JSON") from None
