"""Suite-wide checks: whatever any test makes the code log, no secret and no attribute value is in it."""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.container import Container
from tests.support import LogCapture

#: (module, constant) of every credential or personal value the suite hands to the code under test.
SENSITIVE_CONSTANTS = [
    ("tests.functions.conftest", "API_KEY"),
    ("tests.functions.conftest", "SIGNING_SECRET"),
    ("tests.functions.conftest", "PREVIOUS_SIGNING_SECRET"),
    ("tests.functions.conftest", "CALLER_API_KEY"),
    ("tests.functions.conftest", "PREVIOUS_CALLER_API_KEY"),
    ("tests.functions.test_shopify_webhook", "SHOPIFY_SECRET"),
    ("tests.functions.test_shopify_webhook", "PREVIOUS_SHOPIFY_SECRET"),
    ("tests.unit.test_shopify_signature", "SECRET"),
    ("tests.unit.test_shopify_signature", "PREVIOUS"),
    ("tests.unit.test_client", "API_KEY"),
    ("tests.unit.test_auth", "APP_KEY"),
    ("tests.unit.test_effects", "SECRET"),
    ("tests.emulator.helpers", "API_KEY"),
    ("tests.emulator.helpers", "APP_KEY"),
    ("local.stack", "LOCAL_API_KEY"),
    ("tests.functions.test_talon_one_webhook", "NOTIFICATION_SECRET"),
    ("tests.functions.test_talon_one_webhook", "PREVIOUS_NOTIFICATION_SECRET"),
    ("local.shopify_admin", "ADMIN_TOKEN"),
]
#: Attribute values the tests put in profiles, sessions and events.
SENSITIVE_LITERALS = ["jane.doe@example.com"]


class _EverythingFormatter(logging.Formatter):
    """The message and every extra field: a leak in structured fields is a leak too."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({**record.__dict__, "msg": record.getMessage()}, default=str)


def _sensitive_values() -> list[str]:
    values = list(SENSITIVE_LITERALS)
    for module_name, constant in SENSITIVE_CONSTANTS:
        try:
            values.append(str(getattr(importlib.import_module(module_name), constant)))
        except (ImportError, AttributeError):
            continue
    return [value for value in values if value]


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """Given every log record of the session is also kept here, then none holds a secret."""
    from talon_relay.observability import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(_EverythingFormatter())
    targets = [logging.getLogger(), logging.getLogger(logger.name)]
    for target in targets:
        target.addHandler(handler)
    yield
    for target in targets:
        target.removeHandler(handler)
    text = buffer.getvalue()
    leaked = [value for value in _sensitive_values() if value in text]
    assert not leaked, f"secrets or attribute values reached the logs: {leaked}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server (local AWS) on 127.0.0.1 for the suites that need one, started as the local
    stack starts its own."""
    from local.aws import start_moto

    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def make_httpserver() -> Iterator[HTTPServer]:
    """pytest-httpserver's server for every suite: on 127.0.0.1 (its default is 'localhost'), and
    threaded, as Talon.One serves concurrent calls (the batch tests rely on it)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Given the layer's logger also writes to a buffer (its own handler is bound to the real stdout)."""
    import logging

    from talon_relay.observability import logger

    capture = LogCapture()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)
    target.addHandler(handler)
    yield capture
    target.removeHandler(handler)


@pytest.fixture
def container() -> Iterator[Container]:
    """A Lambda container of the layer's, new for the test (its environment: the process's, as the
    test sets it), its connections and pools closed afterwards."""
    made = Container()
    yield made
    made.reset()
