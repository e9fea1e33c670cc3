"""core/coalescing.py's plan: which queued syncs of a group go together (the rules alone, no I/O)."""

from __future__ import annotations

from typing import Any

from talon_relay.core.coalescing import Member, joined, plan
from talon_relay.core.request import parse_request
from talon_relay.operations import OPERATIONS

OP = OPERATIONS["syncCatalog"]


def member(name: str, kind: str, *skus: str, catalog: str = "1", application: str = "default", **body: Any) -> Member:
    actions = [{"type": kind, "payload": {"sku": sku}} for sku in skus]
    request = parse_request(OP, {"catalogId": catalog}, {"actions": actions, **body}, application=application)
    return Member(name, request, f"key-{name}")


def names(requests: list[list[Member]]) -> list[list[str]]:
    return [[m.message_id for m in request] for request in requests]


def test_consecutive_messages_of_one_type_join_and_a_new_type_starts_a_request() -> None:
    group = [member("1", "ADD", "a"), member("2", "ADD", "b"), member("3", "REMOVE", "a"), member("4", "ADD", "c")]
    assert names(plan(group)) == [["1", "2"], ["3"], ["4"]]


def test_a_message_naming_a_version_goes_alone() -> None:
    group = [member("1", "ADD", "a"), member("2", "ADD", "b", version=3), member("3", "ADD", "c")]
    assert names(plan(group)) == [["1"], ["2"], ["3"]]


def test_another_catalog_or_application_starts_a_request() -> None:
    group = [member("1", "ADD", "a"), member("2", "ADD", "b", catalog="2"), member("3", "ADD", "c", application="eu")]
    assert names(plan(group)) == [["1"], ["2"], ["3"]]


def test_joined_actions_keep_their_order() -> None:
    first, second = member("1", "ADD", "a", "b"), member("2", "ADD", "c")
    request = joined([first, second])
    assert [a["payload"]["sku"] for a in request.body["actions"]] == ["a", "b", "c"]
    assert request.path == "/v1/catalogs/1/sync"
    assert [a["payload"]["sku"] for a in joined([second, first]).body["actions"]] == ["c", "a", "b"]
    # (one message alone is sent as it came)
    assert joined([first]) is first.request
