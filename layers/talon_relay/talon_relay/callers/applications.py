"""Which Talon.One application a request reaches: decided once, where it enters, then carried with it.

- An API caller: by what let it in (`access.py`, which decides it): its relay caller key or its
  signing secret belongs to exactly one application; RelayKeyApi's callers reach `keyApi`. A key or
  signature that matches two applications is refused, never guessed.
- A queued message: by the `relayApplication` attribute, trusted only with a `relaySeal` that matches:
  HMAC-SHA256 of the application's signing secret over `talon-relay-queue-v1\\n<application>\\n<body>`.
  The relay seals what it queues; a service sending to a queue directly seals with its application's
  signing secret, which it holds already to sign API requests. So whoever can send to a queue (IAM)
  still reaches only the application whose secret it holds. A deployment of one application needs no
  attribute: a message without one is `default`'s, as it always was.
- A Shopify webhook: by its shop domain and, for a shop bound by currency, the order's currency
  (`config/applications.py`), worked out from the webhook itself by its consumer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talon_relay.callers import signatures
from talon_relay.config.applications import DEFAULT, Application
from talon_relay.errors import InvalidRequest, Unauthenticated

if TYPE_CHECKING:
    from talon_relay.container import Container

APPLICATION_ATTRIBUTE = "relayApplication"
SEAL_ATTRIBUTE = "relaySeal"
_SEAL_CONTEXT = "talon-relay-queue-v1"


def _signing_secrets(container: Container, app: Application) -> list[str]:
    if not app.signing_secret_arn:
        raise Unauthenticated(f"application {app.name!r} has no signing secret to seal queued messages with")
    max_age = container.settings().secret_max_age
    return signatures.signing_secrets(container, app.signing_secret_arn, max_age=max_age)


def _seal(secret: str, application: str, body: str) -> str:
    message = f"{_SEAL_CONTEXT}\n{application}\n".encode() + body.encode("utf-8", "backslashreplace")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def seal(application: str, body: str, secret: str) -> str:
    """The `relaySeal` a sender gives a message of `application` (docs/applications.md)."""
    return _seal(secret, application, body)


def sealed(container: Container, application: str, body: str) -> dict[str, Any]:
    """The message attributes (SendMessage shape) that carry `application` with a queued `body`; none
    in a deployment of one application (its messages are `default`'s without a word)."""
    apps = container.applications()
    if not apps.several:
        return {}
    app = apps.get(application)
    if app is None:
        raise InvalidRequest.single("Unknown application", f"no application {application!r}", parameter="application")
    value = _seal(_signing_secrets(container, app)[0], application, body)
    return {
        APPLICATION_ATTRIBUTE: {"DataType": "String", "StringValue": application},
        SEAL_ATTRIBUTE: {"DataType": "String", "StringValue": value},
    }


def _attribute(attributes: Mapping[str, Any] | None, name: str) -> str | None:
    """A string attribute of a Lambda SQS record (`stringValue`) or a ReceiveMessage one (`StringValue`)."""
    found = (attributes or {}).get(name)
    if not isinstance(found, Mapping):
        return None
    value = found.get("stringValue", found.get("StringValue"))
    return value if isinstance(value, str) else None


def of_message(container: Container, body: str, attributes: Mapping[str, Any] | None) -> str:
    """The application a queued message belongs to, or a dead-letter error saying why it has none."""
    apps = container.applications()
    claimed = _attribute(attributes, APPLICATION_ATTRIBUTE)
    if claimed is None:
        if apps.several:
            raise InvalidRequest.single(
                "No application",
                f"the message has no {APPLICATION_ATTRIBUTE} attribute: in a deployment of several "
                "applications each queued message names its application, sealed (docs/applications.md)",
                parameter=APPLICATION_ATTRIBUTE,
            )
        return DEFAULT
    app = apps.get(claimed)
    if app is None:
        raise InvalidRequest.single(
            "Unknown application",
            f"{APPLICATION_ATTRIBUTE} names no application of this deployment: {claimed!r}",
            parameter=APPLICATION_ATTRIBUTE,
        )
    if not apps.several:
        return claimed
    offered = _attribute(attributes, SEAL_ATTRIBUTE) or ""
    valid = False
    for secret in _signing_secrets(container, app):
        valid |= hmac.compare_digest(_seal(secret, claimed, body), offered.lower())
    if not valid:
        raise Unauthenticated(
            f"{SEAL_ATTRIBUTE} does not match the message and application {claimed!r}: not written by the "
            "relay nor sealed with the application's signing secret",
            header=SEAL_ATTRIBUTE,
        )
    return claimed


def carried(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's application and seal (SendMessage shape), kept when it is dead-lettered, so a redrive
    brings it back to its application."""
    out: dict[str, Any] = {}
    for name in (APPLICATION_ATTRIBUTE, SEAL_ATTRIBUTE):
        value = _attribute(attributes, name)
        if value is not None:
            out[name] = {"DataType": "String", "StringValue": value}
    return out
