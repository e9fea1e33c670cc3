"""talon-one-sdk 26.2's IntegrationApi, every method, through `make run`'s stack: each answer is the SDK's own
typed model (its method's return annotation), so a shop can point the vendor's SDK at the relay unchanged."""

from __future__ import annotations

import inspect
import typing
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.demo import caller_api_key
from local.stack import LocalStack
from tests.e2e.sdk_calls import World, all_calls

talon_one = pytest.importorskip("talon_one", reason="talon-one-sdk is a development dependency (make install)")

pytestmark = pytest.mark.e2e

CALLS = all_calls()

# Methods the relay does not serve yet. This set only shrinks: a method leaves it when its call is in CALLS.
PENDING: frozenset[str] = frozenset()


def sdk_methods() -> set[str]:
    """The SDK's IntegrationApi methods, without its *_with_http_info / *_without_preload_content twins."""
    api = talon_one.IntegrationApi
    return {
        name
        for name, member in inspect.getmembers(api, inspect.isfunction)
        if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content"))
    }


def test_every_sdk_method_is_called_or_named_pending() -> None:
    # Given the SDK's methods, the calls of this suite and the pending list
    methods = sdk_methods()
    # Then each method is exactly one of: called here, or pending; and nothing else is named
    assert sorted(methods - CALLS.keys() - PENDING) == [], "SDK methods neither called nor pending"
    assert sorted(CALLS.keys() & PENDING) == [], "called methods still named pending: remove them from PENDING"
    assert sorted((CALLS.keys() | PENDING) - methods) == [], "names that are not methods of the SDK"


@pytest.fixture
def world(stack: LocalStack) -> Iterator[World]:
    """Given the vendor's IntegrationApi with the relay's host and a relay caller key."""
    config = talon_one.Configuration(host=stack.api_url)
    config.api_key["api_key_v1"] = caller_api_key(stack.describe())
    config.api_key_prefix["api_key_v1"] = "ApiKey-v1"
    yield World(api=talon_one.IntegrationApi(talon_one.ApiClient(config)), stack=stack, run=uuid.uuid4().hex[:8])


def _is_typed(answer: Any, annotation: Any) -> bool:
    if annotation is None:
        return answer is None
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return isinstance(answer, list) and all(isinstance(element, item) for element in answer)
    return isinstance(answer, annotation)


@pytest.mark.parametrize("method", sorted(CALLS))
def test_the_sdk_method_gets_its_typed_answer_through_the_relay(world: World, method: str) -> None:
    # Given the SDK method's declared answer
    annotation = inspect.signature(getattr(talon_one.IntegrationApi, method)).return_annotation
    # When the call is made through the relay
    answer = CALLS[method](world)
    # Then the answer deserialized into that type
    assert _is_typed(answer, annotation), f"{method} answered {type(answer).__name__}, not {annotation}"
