"""Local AWS makes the relay's table as the template declares it, its index ByShop included: shop/redact finds a
shop's order records and order groups there (template/base.yaml, IdempotencyTable), so the local stack, the
function tests and the bench can find them too.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.aws import LocalAws, create_relay_table, local_client, seed
from local.template import read_stack

SHOP = "shop-a.myshopify.com"


def seeded(moto_endpoint: str) -> Iterator[str]:
    """The template's IdempotencyTable as `seed` makes it (alone, under a name of its own)."""
    spec = read_stack()
    name = f"seeded-{uuid.uuid4().hex[:8]}"
    tables = {"IdempotencyTable": {**spec.tables["IdempotencyTable"], "TableName": name}}
    alone = dataclasses.replace(spec, template={"Resources": {}}, functions={}, queues={}, secrets={}, tables=tables)
    aws = LocalAws(endpoint=moto_endpoint, server=None)
    try:
        seed(aws, alone, talon_base_url="http://127.0.0.1:9", talon_api_key="local-unused")
        assert aws.table_names == {"IdempotencyTable": name}
        yield name
    finally:
        aws.delete_resources()


def made(moto_endpoint: str) -> Iterator[str]:
    """A table as `create_relay_table` makes it (the function tests' and the bench's own)."""
    dynamodb = local_client("dynamodb", moto_endpoint)
    name = create_relay_table(dynamodb, f"made-{uuid.uuid4().hex[:8]}")
    try:
        yield name
    finally:
        dynamodb.delete_table(TableName=name)
        dynamodb.close()


MAKERS: dict[str, Callable[[str], Iterator[str]]] = {"seed": seeded, "create_relay_table": made}


@pytest.fixture(params=list(MAKERS))
def table(request: pytest.FixtureRequest, moto_endpoint: str) -> Iterator[str]:
    yield from MAKERS[request.param](moto_endpoint)


def item(key: str, shop: str | None = None) -> dict[str, Any]:
    found = {"id": {"S": key}, "session": {"S": "s-1"}}
    return found | ({"shop": {"S": shop}} if shop else {})


def test_a_shops_records_are_found_by_the_index_by_shop(table: str, moto_endpoint: str) -> None:
    # Given the table, an order record and an order group of shop A (each carrying `shop`, in its owner's
    # names), an order record of shop B, and an idempotency record (no `shop`)
    dynamodb = local_client("dynamodb", moto_endpoint)
    owner, receiver = "relay-update-customer-session-v2", "relay-shopify-webhook"
    items = [
        item(f"{owner}.order#{SHOP}#1001", f"{owner}.shop#{SHOP}"),
        item(f"{receiver}.ordergroup#{SHOP}#1001", f"{receiver}.shop#{SHOP}"),
        item(f"{owner}.order#shop-b.myshopify.com#7", f"{owner}.shop#shop-b.myshopify.com"),
        item(f"{owner}.#abc"),
    ]
    for one in items:
        dynamodb.put_item(TableName=table, Item=one)

    # When the receiver asks the index for each owner's records of shop A
    found = [
        answer
        for shop in (f"{owner}.shop#{SHOP}", f"{receiver}.shop#{SHOP}")
        for answer in dynamodb.query(
            TableName=table,
            IndexName="ByShop",
            KeyConditionExpression="#shop = :shop",
            ExpressionAttributeNames={"#shop": "shop"},
            ExpressionAttributeValues={":shop": {"S": shop}},
        )["Items"]
    ]

    # Then it finds shop A's two records, by their keys only (KEYS_ONLY: `id` and `shop`, nothing else)
    assert found == [{"id": one["id"], "shop": one["shop"]} for one in items[:2]]
    # And the index is the template's: keyed by `shop` alone, keys only, the table's only index
    [index] = dynamodb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"]) == ("ByShop", [{"AttributeName": "shop", "KeyType": "HASH"}])
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    dynamodb.close()
