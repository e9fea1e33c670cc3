"""Fixtures for the end-to-end tests: one local stack (emulator + moto + gateway) for the e2e tests.

The stack is started once, on free ports, and shared: each test gets it with an empty emulator
(state, request log, faults), empty queues and no recorded invocations. It stops right after the
last e2e test that uses it, so the rest of a test session never sees its servers or threads.
A test that starts a stack of its own asks for `no_shared_stack` (one stack per process: moto's
state is per process); those tests run after the ones sharing the stack, so it starts only once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import FUNCTION_ENVIRONMENT, PARAMETERS, Http, Queues

E2E_DIR = Path(__file__).resolve().parent


class SharedStack:
    """The e2e tests' stack, started on first use."""

    def __init__(self) -> None:
        self.stack: LocalStack | None = None
        self._werkzeug_level = logging.NOTSET

    def get(self) -> LocalStack:
        if self.stack is None:
            werkzeug = logging.getLogger("werkzeug")  # moto's access log: one line per AWS call
            self._werkzeug_level = werkzeug.level
            werkzeug.setLevel(logging.WARNING)
            self.stack = LocalStack.start(parameters=PARAMETERS, function_environment=FUNCTION_ENVIRONMENT)
        return self.stack

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)


SHARED = SharedStack()


def _in_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(str(item.path)).resolve().parents


def _own_stack(item: pytest.Item) -> bool:
    return "no_shared_stack" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within the e2e tests, run those that start a stack of their own last."""
    positions = [index for index, item in enumerate(items) if _in_e2e(item)]
    block = [items[index] for index in positions]
    ordered = [item for item in block if not _own_stack(item)] + [item for item in block if _own_stack(item)]
    for index, item in zip(positions, ordered, strict=True):
        items[index] = item


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the shared stack once no further test shares it (the next is not e2e, or starts its own)."""
    if _in_e2e(item) and (nextitem is None or not _in_e2e(nextitem) or _own_stack(nextitem)):
        SHARED.stop()


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[SharedStack]:
    yield SHARED
    SHARED.stop()


@pytest.fixture
def stack(shared_stack: SharedStack) -> Iterator[LocalStack]:
    """Given the running local stack, with nothing left over from an earlier test."""
    running = shared_stack.get()
    queues = Queues(running)
    queues.clear_all()
    queues.close()
    running.emulator.reset()
    running.gateway.invocations.clear()
    yield running
    running.emulator.clear_faults()


@pytest.fixture
def no_shared_stack(shared_stack: SharedStack) -> None:
    """Given no shared stack runs in this process (a test that starts and stops its own)."""
    shared_stack.stop()


@pytest.fixture
def two_apps(no_shared_stack: None) -> Iterator[LocalStack]:
    """Given the local stack as `make run` starts it: two Talon.One applications (a stack of its own)."""
    stack = LocalStack.start(applications=True, function_environment={"POWERTOOLS_METRICS_DISABLED": "true"})
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def http(stack: LocalStack) -> Iterator[Http]:
    client = Http(stack)
    yield client
    client.close()


@pytest.fixture
def queues(stack: LocalStack) -> Iterator[Queues]:
    client = Queues(stack)
    yield client
    client.close()
