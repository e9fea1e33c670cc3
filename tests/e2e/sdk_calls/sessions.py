"""Customer sessions: update (v2), read, reopen, return."""

from __future__ import annotations

from typing import Any

import talon_one

from tests.e2e.sdk_calls import Call, World


def _closed_session(world: World, stem: str) -> str:
    session = world.unique(stem)
    world.api.update_customer_session_v2(
        session,
        talon_one.IntegrationRequest(
            customer_session=talon_one.NewCustomerSessionV2(
                profile_id=world.unique("sdk-ada"),
                state="closed",
                cart_items=[talon_one.CartItem(name="Beans", sku="SKU-1", quantity=2, price=30)],
            )
        ),
    )
    return session


def update_customer_session_v2(world: World) -> Any:
    answer = world.api.update_customer_session_v2(
        world.unique("sdk-open"),
        talon_one.IntegrationRequest(
            customer_session=talon_one.NewCustomerSessionV2(profile_id=world.unique("sdk-ada"), state="open"),
            response_content=["customerSession"],
        ),
    )
    assert answer.customer_session.state == "open"
    return answer


def get_customer_session(world: World) -> Any:
    answer = world.api.get_customer_session(_closed_session(world, "sdk-read"))
    assert answer.customer_session.state == "closed"
    return answer


def reopen_customer_session(world: World) -> Any:
    return world.api.reopen_customer_session(_closed_session(world, "sdk-reopen"))


def return_cart_items(world: World) -> Any:
    answer = world.api.return_cart_items(
        _closed_session(world, "sdk-return"),
        talon_one.ReturnIntegrationRequest(
            var_return=talon_one.NewReturn(returned_cart_items=[talon_one.ReturnedCartItem(position=0, quantity=1)]),
            response_content=["customerSession"],
        ),
    )
    assert answer.customer_session.state == "partially_returned"
    return answer


CALLS: dict[str, Call] = {
    "update_customer_session_v2": update_customer_session_v2,
    "get_customer_session": get_customer_session,
    "reopen_customer_session": reopen_customer_session,
    "return_cart_items": return_cart_items,
}
