"""The emulator's cart item catalogs: syncCatalog as Talon.One has it (local/emulator/catalogs.py), over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import Emulator
from tests.emulator.helpers import Client

SYNC = "/v1/catalogs/1/sync"


def actions(kind: str, *payloads: dict[str, Any]) -> dict[str, Any]:
    return {"actions": [{"type": kind, "payload": payload} for payload in payloads]}


def items(emulator: Emulator) -> dict[str, Any]:
    found: dict[str, Any] = emulator.state()["catalogs"]["1"]["items"]
    return found


def test_each_action_type_does_what_the_spec_says(client: Client, emulator: Emulator) -> None:
    # Given items added (one with attributes a filter reads)
    added = client.request(
        "PUT",
        SYNC,
        actions(
            "ADD",
            {"sku": "a", "price": 10, "attributes": {"color": "blue", "size": 40}, "product": {"name": "Shoe"}},
            {"sku": "b", "price": 20, "attributes": {"color": "red", "size": 46}},
            {"sku": "c", "price": 30, "attributes": {"color": "blue", "size": 44}},
        ),
    )
    # Then the answer is the catalog, a version on
    assert added.status == 200
    assert {"id", "created", "accountId", "modified", "name", "description", "version", "createdBy"} <= set(added.body)
    assert (added.body["id"], added.body["version"]) == (1, 2)
    # When one is patched (attributes merged, price kept, product null), blue ones patched by filter,
    # the large ones removed by filter, and one by SKU
    assert client.request("PUT", SYNC, actions("PATCH", {"sku": "a", "attributes": {"tag": "x"}})).status == 200
    assert items(emulator)["a"] == {
        "sku": "a",
        "price": 10,
        "attributes": {"color": "blue", "size": 40, "tag": "x"},
        "product": None,
    }
    patch_many = actions("PATCH_MANY", {"price": 5, "filters": [{"attr": "color", "op": "EQ", "value": "blue"}]})
    assert client.request("PUT", SYNC, patch_many).status == 200
    assert {sku: item["price"] for sku, item in items(emulator).items()} == {"a": 5, "b": 20, "c": 5}
    remove_many = actions("REMOVE_MANY", {"filters": [{"attr": "size", "op": "GT", "value": 45}]})
    assert client.request("PUT", SYNC, remove_many).status == 200
    assert client.request("PUT", SYNC, actions("REMOVE", {"sku": "c"})).status == 200
    # Then what is left is what those say, and each request moved the version on by one
    assert set(items(emulator)) == {"a"}
    assert emulator.state()["catalogs"]["1"]["version"] == 6


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (actions("ADD", {"sku": "d"}, {"sku": "d"}), "/actions/1/payload/sku"),
        (
            {"actions": [*actions("ADD", {"sku": "d"})["actions"], *actions("REMOVE", {"sku": "e"})["actions"]]},
            "/actions/1/type",
        ),
        (actions("ADD", {"sku": "e"}, {"sku": "kept"}), "/actions/1/payload/sku"),  # exists, no replaceIfExists
        (actions("PATCH", {"sku": "nope"}), "/actions/0/payload/sku"),
        (actions("REMOVE", {"sku": "nope"}), "/actions/0/payload/sku"),
        (actions("ADD", {"price": 1}), "/actions/0/payload/sku"),
        ({**actions("ADD", {"sku": "f"}), "version": 99}, "/version"),
        ({"actions": []}, "/actions"),
    ],
    ids=[
        "sku-twice",
        "two-types",
        "add-existing",
        "patch-missing",
        "remove-missing",
        "no-sku",
        "stale-version",
        "empty",
    ],
)
def test_a_sync_talon_one_refuses_changes_nothing(client: Client, emulator: Emulator, body: Any, pointer: str) -> None:
    # Given an item in the catalog
    assert client.request("PUT", SYNC, actions("ADD", {"sku": "kept"})).status == 200
    before = emulator.state()["catalogs"]["1"]
    # When a request Talon.One refuses comes
    answer = client.request("PUT", SYNC, body)
    # Then it is a 400 naming the place, and nothing of it applied (not even its valid actions)
    assert answer.status == 400
    assert answer.body["errors"][0]["source"].get("pointer", "").startswith(pointer)
    assert emulator.state()["catalogs"]["1"] == before


def test_an_unknown_catalog_is_a_404_and_a_catalog_id_not_an_integer_a_400(client: Client) -> None:
    assert client.request("PUT", "/v1/catalogs/2/sync", actions("ADD", {"sku": "a"})).status == 404
    answer = client.request("PUT", "/v1/catalogs/shoes/sync", actions("ADD", {"sku": "a"}))
    assert answer.status == 400 and answer.body["errors"][0]["source"] == {"parameter": "catalogId"}


def test_replace_if_exists_replaces_attributes_and_keeps_the_price(client: Client, emulator: Emulator) -> None:
    assert client.request("PUT", SYNC, actions("ADD", {"sku": "r", "price": 9, "attributes": {"a": 1}})).status == 200
    replace = actions("ADD", {"sku": "r", "attributes": {"b": 2}, "replaceIfExists": True})
    assert client.request("PUT", SYNC, replace).status == 200
    assert items(emulator)["r"] == {"sku": "r", "price": 9, "attributes": {"b": 2}, "product": None}
