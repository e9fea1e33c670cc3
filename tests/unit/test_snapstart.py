"""SnapStart hooks: registered only for a snapshot, priming before it, per-environment state after it."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import snapshot_restore_py

from talon_relay import snapstart
from talon_relay.aws import secret_values as secrets
from talon_relay.config import fields as records
from talon_relay.container import Container
from talon_relay.core import checkers
from talon_relay.entry import lambda_handler
from talon_relay.operations import CREATE_REFERRAL, OPERATIONS

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[Hook], list[Hook]]]:
    """The runtime library's hook registries, empty for this test."""
    before: list[Hook] = []
    after: list[Hook] = []
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", before)
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", after)
    yield before, after


def run(hooks: list[Hook]) -> None:
    for func, args, kwargs in hooks:
        func(*args, **kwargs)


def test_outside_a_snapshot_no_hook_is_registered(
    registries: tuple[list[Hook], list[Hook]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    lambda_handler(CREATE_REFERRAL.name)
    assert registries == ([], [])
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE")
    assert snapstart.register(CREATE_REFERRAL, Container()) is False
    assert registries == ([], [])


def test_a_snapstart_init_registers_priming_and_the_restore_hook(
    registries: tuple[list[Hook], list[Hook]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Lambda initialises the function to snapshot it
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    # When the function's handler is created (at the import of its module)
    handler = lambda_handler(CREATE_REFERRAL.name)
    # Then priming for its operation runs before the snapshot, and its container's reset after each restore
    before, after = registries
    container = handler.container  # type: ignore[attr-defined]
    assert before == [(snapstart.prime, (CREATE_REFERRAL, container), {})]
    assert after == [(snapstart.after_restore, (container,), {})]


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_priming_imports_every_adapter_and_builds_the_operations_validators(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no validator built yet in this process
    operation = OPERATIONS[name]
    monkeypatch.setenv("TALON_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:t")
    checkers.checker.cache_clear()
    records.validator.cache_clear()
    container = Container()
    # When Lambda primes the function before its snapshot
    snapstart.prime(operation, container)
    # Then the adapters and the error models are imported, the body's checker and the settings' and
    # the secret's validators built
    assert {"talon_relay.adapters.api", "talon_relay.adapters.sqs", "urllib3", "talon_relay.wire.models"} <= set(
        sys.modules
    )
    assert checkers.checker.cache_info().currsize == (0 if operation.body is None else 1)
    assert records.validator.cache_info().currsize == 2


def test_priming_survives_a_function_without_its_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    # A snapshot must still be taken: each call then reports the configuration error as usual
    monkeypatch.delenv("TALON_SECRET_ARN", raising=False)
    snapstart.prime(CREATE_REFERRAL, Container())


def test_after_a_restore_no_connection_secret_or_random_state_is_shared(
    aws: str, secretsmanager: Any, secret_name: str, container: Container
) -> None:
    # Given an environment that has read a secret, opened a pool and drawn random numbers
    arn = secretsmanager.create_secret(Name=secret_name, SecretString=json.dumps({"current": "one"}))["ARN"]
    first = secrets.fetch_secret(container, arn, max_age=300)
    pool = container.http()
    pool.connection_from_url("http://127.0.0.1:9")
    assert pool.pools
    random.seed(1234)
    snapshot_draw = random.random()
    random.seed(1234)
    # When it is restored (the after-restore hook runs)
    snapstart.after_restore(container)
    # Then its connections are gone, the secret is read again, and its random numbers are its own
    assert not pool.pools and container.http() is not pool
    again = secrets.fetch_secret(container, arn, max_age=300)
    assert again == first and again is not first
    assert random.random() != snapshot_draw
