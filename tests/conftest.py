"""Suite-wide checks: whatever any test makes the code log, no secret and no attribute value is in it."""

from __future__ import annotations

import importlib
import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from urllib3.util import Timeout

from talon_relay.container import Container
from tests.support import FakeClock, LogCapture, SilentServer

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
#: Folders whose tests start local stacks, `make` targets and fixed-order shared servers: under pytest-xdist
#: (`make test` runs `-n auto --dist loadgroup`) they are one work unit, run by one worker in their order as
#: in a serial run, while the other workers share out the rest test by test.
SERIAL_FOLDERS = ("e2e", "local")
#: Attribute values the tests put in profiles, sessions and events.
SENSITIVE_LITERALS = ["jane.doe@example.com"]


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` with the stack folders' tests as one work unit, told by their path. (xdist 3.8 reads
    a group from an `@group` suffix it writes into each node id, which pytest 9's node ids no longer take.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling  # type: ignore[import-untyped]

    prefixes = tuple(f"tests/{folder}/" for folder in SERIAL_FOLDERS)

    class StackGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return "stack" if nodeid.startswith(prefixes) else nodeid

    return StackGroupScheduling(config, log)


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


@pytest.fixture
def sqs_clock(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Given moto's SQS on a fake clock (epoch seconds, starting now): a visibility timeout or a backoff
    passes with `advance`, not a wait; a long poll that finds nothing takes its wait time off the clock
    instead of waiting it out (a little more, as a real wait does). Each reading moto takes moves it on by
    a microsecond, as time never stands still (moto shows a message made visible "now" from the next
    moment on)."""
    from moto.sqs import models

    clock = FakeClock(time.time())

    def seconds() -> float:
        clock.advance(1e-6)
        return clock()

    def wait_for_messages(queue: Any, timeout: int) -> None:
        if not queue.messages:  # what moto's own wait waits for: a message it may hand out
            clock.advance(timeout + 0.001)

    # the names moto's SQS models read the time through (local.aws already points them at time.time)
    monkeypatch.setattr(models, "unix_time", seconds)
    monkeypatch.setattr(models, "unix_time_millis", lambda: seconds() * 1000)
    monkeypatch.setattr(models.Queue, "wait_for_messages", wait_for_messages)
    return clock


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


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """Given a Talon.One that accepts connections and never answers."""
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def attempt_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[Timeout]:
    """The timeouts each attempt of a call with a budget got toward Talon.One (urllib3 clones the call's
    DeadlineTimeout per attempt): what bounds an attempt whose answer never comes."""
    from talon_relay.talon import transport

    seen: list[Timeout] = []
    clone = transport.DeadlineTimeout.clone

    def recording(self: transport.DeadlineTimeout) -> Timeout:
        timeout = clone(self)
        seen.append(timeout)
        return timeout

    monkeypatch.setattr(transport.DeadlineTimeout, "clone", recording)
    return seen
