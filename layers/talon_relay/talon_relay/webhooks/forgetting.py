"""What a webhook asks the relay to forget of its own records: the orders a customers/redact names, or
every order of the shop (shop/redact), as its mapping's `order.forget` and `order.forget_shop` say.

Talon.One's data goes by the webhook's steps (its erasures, queued for the schedule); the relay's own
records of those orders (aws/order_records.py) go here, once the steps are done. The ids are read before
anything is done, so a webhook whose orders are not ids is dead-lettered whole, with the reason.

One message forgets at most `order_records.PAGE` records of a shop, or half as many orders of a customer
(two items each): more, and the same webhook goes on its receiver's queue again as its next continuation
(`continuation`: 1, 2, ...), which forgets where the last one stopped and does nothing else. A shop's
continuations end with one that deleted fewer than a page (what the index still lists after its item went
is read past: order_records.forget_shop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talon_relay.aws import order_records, queues
from talon_relay.aws.store import store
from talon_relay.errors import InvalidRequest, SettingsError
from talon_relay.webhooks import mappings
from talon_relay.webhooks.envelope import QueuedWebhook
from talon_relay.webhooks.mapping_model import TopicMapping

if TYPE_CHECKING:
    from talon_relay.container import Container

#: A customer's orders forgotten per message (each has two items).
ORDERS_PER_MESSAGE = order_records.PAGE // 2


def check_shop(mapping: TopicMapping, payload: Any, shop: str | None) -> None:
    """A webhook that forgets must name, in its signed body, the shop its (unsigned) header names
    (`shop_domain`, as each of Shopify's privacy webhooks does): a signed shop/redact of one shop, posted
    again with another shop's header, or any signed body that names no shop posted with the topic
    shop/redact (the topic is a header too), must not delete that shop's records."""
    if mapping.order is None or not mapping.order.forgets:
        return
    named = payload.get("shop_domain") if isinstance(payload, dict) else None
    if not isinstance(named, str) or not named:
        raise InvalidRequest.single(
            "Unmappable webhook", "the body names no shop_domain: a webhook that forgets must", pointer="/shop_domain"
        )
    if named != shop:
        raise InvalidRequest.single(
            "Unmappable webhook", "the body's shop_domain is not the shop its header names", pointer="/shop_domain"
        )


def order_ids(mapping: TopicMapping, payload: Any) -> list[str] | None:
    """The ids of the orders the mapping forgets (None: it forgets none by id). An id that is not one
    (not a non-empty text or a whole number) is a dead letter naming where it is."""
    expression = mapping.order.forget if mapping.order else None
    if expression is None:
        return None
    try:
        value = mappings.evaluate(expression, payload)
    except ValueError as exc:
        raise _invalid(f"order.forget: {exc}") from None
    values = [] if value is None else value if isinstance(value, list) else [value]
    ids: list[str] = []
    for index, item in enumerate(values):
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item:
            raise _invalid(f"order.forget: item {index} is not an order id (a {type(item).__name__})")
        ids.append(item)
    return ids


def forget(
    container: Container,
    mapping: TopicMapping,
    message: QueuedWebhook,
    ids: list[str] | None,
    record: Mapping[str, Any] | None,
) -> int:
    """Delete the records the mapping forgets (`ids`: order_ids'); how many there were. A continuation is
    queued when this message's share did not reach the end."""
    spec = mapping.order
    table = store(container)
    if spec is None or (ids is None and not spec.forget_shop) or table is None:
        return 0  # nothing to forget, or no table: the relay keeps no records
    owner = container.settings().order_records_owner
    if not owner:
        raise SettingsError(
            "ORDER_RECORDS_OWNER must name the function that keeps the orders' records (the sessions queue's"
            " consumer): customers/redact and shop/redact delete them"
        )
    shop = message.shop_domain
    number = message.continuation or 0
    start = number * ORDERS_PER_MESSAGE
    count = 0
    if ids is not None and start < len(ids):
        share = ids[start : start + ORDERS_PER_MESSAGE]
        count = order_records.forget_orders(table, shop, share, owner=owner)
        if start + len(share) < len(ids):
            _carry_on(container, message, record, number + 1)
            return count
    if spec.forget_shop:
        deleted, more = order_records.forget_shop(table, shop, owner=owner, limit=order_records.PAGE)
        count += deleted
        if more:
            _carry_on(container, message, record, number + 1)
    return count


def _carry_on(container: Container, message: QueuedWebhook, record: Mapping[str, Any] | None, number: int) -> None:
    """The same webhook on the receiver's queue again as its continuation `number`, in the same group,
    deduplicated on its number (a redelivery of this message queues the same continuation, once)."""
    url = container.settings().queue_url
    if not url:
        raise SettingsError("QUEUE_URL must be set: a webhook's continuation goes on its receiver's queue")
    continuation = message.model_copy(update={"continuation": number})
    group = ((record or {}).get("attributes") or {}).get("MessageGroupId") or message.shop_domain
    key = f"{message.platform}#{message.dedup_key}#forget#{number}"
    queues.enqueue(container, url, continuation.encode(), group_id=group, deduplication_key=key)


def _invalid(problem: str) -> InvalidRequest:
    return InvalidRequest.single("Unmappable webhook", problem, pointer="/order/forget")
