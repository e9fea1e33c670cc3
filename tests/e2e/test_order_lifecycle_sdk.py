"""Talon.One's own SDK (talon-one-sdk 26.2) drives an order's later life through the relay: the purchase as an
advanced (v3) event registered once, a return forwarded with its Idempotency-Key, reopen, and reading the
session, each answer deserialized into the SDK's own model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from local.demo import caller_api_key
from local.stack import LocalStack
from tests.e2e.helpers import talon_requests

talon_one = pytest.importorskip("talon_one", reason="talon-one-sdk is a development dependency (make install)")

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(stack: LocalStack) -> Iterator[Any]:
    """Given the vendor's IntegrationApi with the relay's host and a relay caller key."""
    config = talon_one.Configuration(host=stack.api_url)
    config.api_key["api_key_v1"] = caller_api_key(stack.describe())
    config.api_key_prefix["api_key_v1"] = "ApiKey-v1"
    client = talon_one.ApiClient(config)
    yield talon_one.IntegrationApi(client)


def _track_v3(stack: LocalStack, body: dict[str, Any]) -> urllib3.BaseHTTPResponse:
    """trackEventV3 through the relay (the SDK 26.2 has no method for it yet), as a caller sends it."""
    key = caller_api_key(stack.describe())
    return urllib3.request(
        "POST",
        f"{stack.api_url}/v3/events?silent=no",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"ApiKey-v1 {key}"},
        retries=False,
        timeout=30,
    )


def test_the_sdk_returns_reopens_and_reads_a_session_through_the_relay(stack: LocalStack, api: Any) -> None:
    run = uuid.uuid4().hex[:6]
    profile, session, order = f"ada-{run}", f"order-s-{run}", f"order-{run}"
    # Given a paid order: its session closed, its purchase tracked as an advanced event connected to it
    api.update_customer_session_v2(
        session,
        talon_one.IntegrationRequest(
            customer_session=talon_one.NewCustomerSessionV2(
                profile_id=profile,
                state="closed",
                cart_items=[
                    talon_one.CartItem(name="Beans", sku="SKU-1", quantity=2, price=30),
                    talon_one.CartItem(name="Mug", sku="SKU-2", quantity=1, price=50),
                ],
            )
        ),
    )
    event = {"profileId": profile, "type": "purchase", "integrationId": order, "connectedSessionId": session}
    first, replay = _track_v3(stack, event), _track_v3(stack, event)
    # Then the event registers once: the replay is answered, no point counted twice
    assert first.status == replay.status == 200, first.data
    assert "addLoyaltyPoints" in [e["effectType"] for e in first.json()["effects"]]
    assert replay.json()["effects"] == []

    # When the SDK returns one mug, with its own Idempotency-Key, twice
    body = talon_one.ReturnIntegrationRequest(
        var_return=talon_one.NewReturn(returned_cart_items=[talon_one.ReturnedCartItem(position=1, quantity=1)]),
        response_content=["customerSession"],
    )
    returned = api.return_cart_items(session, body, _headers={"Idempotency-Key": f"refund-{run}"})
    again = api.return_cart_items(session, body, _headers={"Idempotency-Key": f"refund-{run}"})
    # Then the answers are the SDK's IntegrationStateV2, the session partially returned, its points rolled back
    assert isinstance(returned, talon_one.IntegrationStateV2)
    assert returned.customer_session.state == "partially_returned"
    assert "rollbackAddedLoyaltyPoints" in [e.effect_type for e in returned.effects]
    assert again.customer_session.cart_items[1].returned_quantity == 1
    # And the repeat was answered by the relay from its record; the one call Talon.One got carried the key
    sent = talon_requests(stack, method="POST", prefix=f"/v2/customer_sessions/{session}/returns")
    assert [r["headers"].get("Idempotency-Key") for r in sent] == [f"refund-{run}"]

    # When the SDK reads the session
    found = api.get_customer_session(session)
    # Then it is the SDK's IntegrationCustomerSessionResponse
    assert isinstance(found, talon_one.IntegrationCustomerSessionResponse)
    assert found.customer_session.state == "partially_returned"

    # When it reopens another closed order's session
    other = f"order-t-{run}"
    api.update_customer_session_v2(
        other,
        talon_one.IntegrationRequest(
            customer_session=talon_one.NewCustomerSessionV2(profile_id=profile, state="closed")
        ),
    )
    reopened = api.reopen_customer_session(other)
    # Then the answer is the SDK's ReopenSessionResponse, and the session is open again
    assert isinstance(reopened, talon_one.ReopenSessionResponse)
    assert api.get_customer_session(other).customer_session.state == "open"
    # And reopening a session that is not closed is a 4xx naming the transition, not a 5xx
    with pytest.raises(talon_one.ApiException) as refused:
        api.reopen_customer_session(other)
    assert refused.value.status == 400
