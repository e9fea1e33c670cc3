"""An order's records in the relay's table: written when it is paid, read by its refunds and edits, and
deleted when the shop asks the relay to forget them (Shopify's customers/redact names a customer's
orders; shop/redact means every order of the shop).

Two items per order, each under the prefix of the function that writes it (aws/store.py's key layout):
`<function>.order#<shop>#<order id>`, the order's session and lines, written by the consumer of the
sessions queue (where an order's webhooks are applied), and `<function>.ordergroup#<shop>#<order id>`, the
order's FIFO group, written by the webhook receiver. Both carry `shop`, `<function>.shop#<shop>`: the
partition key of the table's index ByShop (KEYS_ONLY, and sparse: no other item carries `shop`), where
shop/redact finds a shop's records without reading the table. The prefix keeps that key inside the
writer's `dynamodb:LeadingKeys`, as the item's own id is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from talon_relay.errors import StoreUnavailable

if TYPE_CHECKING:
    from talon_relay.aws.store import Store

ORDER = "order#"
#: an order's FIFO group on the sessions queue, kept by the receiver that queued its paid webhook
ORDER_GROUP = "ordergroup#"
SHOP = "shop#"
#: the table's index of the records by shop (template/base.yaml)
INDEX = "ByShop"
#: Bytes of a shop and order kept as they are in an id; a longer one is hashed (as aws/store.py's ids).
MAX_KEY_BYTES = 512
#: A shop's records deleted per shop/redact message at most (500 deletes: a few seconds); more remain: the
#: consumer queues the rest as a continuation (webhooks/forgetting.py).
PAGE = 500


def _name(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest() if len(text.encode()) > MAX_KEY_BYTES else text


def order_id(owner: str, shop: str | None, order: str, *, kind: str = ORDER) -> str:
    """An order's record (`kind` ORDER) or its group (ORDER_GROUP), under the prefix of `owner`, its writer."""
    name = _name(f"{shop or '-'}#{order}")
    return f"{owner}.{kind}{name}"


def shop_key(owner: str, shop: str | None) -> str:
    """The index's key of `owner`'s records of `shop`."""
    return f"{owner}.{SHOP}{_name(shop or '-')}"


def put(table: Store, item_id: str, record: dict[str, Any], *, shop: str | None, expires: int, replace: bool) -> None:
    """One write, under the table's own prefix. Not `replace`: only when there is no record yet (a paid
    order's replay, or its orders/create after orders/paid, never takes an edit's record back to the order
    as first paid). `replace` (an edit, which read it): only while it is there, so a record forgotten (a
    customers/redact) while the edit was applied is not written back."""
    condition = {"ConditionExpression": "attribute_exists(id)" if replace else "attribute_not_exists(id)"}
    item = {
        "id": {"S": item_id},
        "record": {"S": json.dumps(record)},
        "shop": {"S": shop_key(table.owner, shop)},
        "expiration": {"N": str(expires)},
    }
    try:
        table.client.put_item(TableName=table.table, Item=item, **condition)
    except Exception as exc:  # botocore's errors: the message is retried; its steps replay from their records
        if type(exc).__name__ == "ConditionalCheckFailedException":
            return  # the order has its record already (or, replacing, no longer has one: forgotten)
        raise StoreUnavailable(f"order record not written: {type(exc).__name__}") from exc


def get(table: Store, item_id: str, *, now: float) -> dict[str, Any] | None:
    """The order's record (None: none, or past its time and not yet removed by DynamoDB)."""
    try:
        item = table.client.get_item(TableName=table.table, Key={"id": {"S": item_id}}, ConsistentRead=True).get("Item")
    except Exception as exc:
        raise StoreUnavailable(f"order record unavailable: {type(exc).__name__}") from exc
    if item is None or int(item.get("expiration", {}).get("N", "0")) < now:
        return None
    record: dict[str, Any] = json.loads(item["record"]["S"])
    return record


def _delete(table: Store, item_ids: Iterable[str]) -> int:
    """Each item deleted (one DeleteItem each); how many existed (an id the index still lists after its
    item went, a moment, is not counted: a shop's continuations end)."""
    existed = 0
    try:
        for item_id in item_ids:
            answer = table.client.delete_item(TableName=table.table, Key={"id": {"S": item_id}}, ReturnValues="ALL_OLD")
            existed += bool(answer.get("Attributes"))
    except Exception as exc:  # the message is retried: what was deleted stays deleted
        raise StoreUnavailable(f"order records not forgotten: {type(exc).__name__}") from exc
    return existed


def forget_orders(table: Store, shop: str | None, orders: Iterable[str], *, owner: str) -> int:
    """Delete each order's record (`owner`'s: the sessions queue's consumer) and group (the table's own);
    how many of them there were."""
    return _delete(
        table,
        (
            item_id
            for order in orders
            for item_id in (order_id(owner, shop, order), order_id(table.owner, shop, order, kind=ORDER_GROUP))
        ),
    )


def forget_shop(table: Store, shop: str | None, *, owner: str, limit: int) -> tuple[int, bool]:
    """Delete up to `limit` of the shop's records found in the index: `owner`'s order records and the
    table's own groups. (How many there were, and whether more may remain: the limit was reached.)

    The index follows the table a moment later, so it may still list what the message before deleted: a
    page of those is read past (its key the next page's start), not taken for the end. Each page either
    deletes or moves on, so one message reads at most the index's stale entries more than `limit`."""
    deleted = 0
    for key in dict.fromkeys((shop_key(owner, shop), shop_key(table.owner, shop))):  # (one, when owner is its own)
        start: dict[str, Any] | None = None
        while deleted < limit:
            params: dict[str, Any] = {
                "TableName": table.table,
                "IndexName": INDEX,
                "KeyConditionExpression": "#shop = :shop",
                "ExpressionAttributeNames": {"#shop": "shop"},
                "ExpressionAttributeValues": {":shop": {"S": key}},
                "Limit": limit - deleted,
            }
            if start:
                params["ExclusiveStartKey"] = start
            try:
                page = table.client.query(**params)
            except Exception as exc:
                raise StoreUnavailable(f"the shop's records not found: {type(exc).__name__}") from exc
            deleted += _delete(table, [item["id"]["S"] for item in page.get("Items", ())])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return deleted, deleted >= limit
