"""Talon.One's own Python SDK (talon-one-sdk 26.2) as a drop-in caller of the local stack.

Only its host and key are changed: the host is the relay's API, the key a relay caller key sent the
way the SDK sends Talon.One's (`Authorization: ApiKey-v1 <key>`). It drives the five operations a
current Talon.One serves; its answers deserialize into the SDK's own models and their effects are
logged by the relay like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.demo import caller_api_key
from local.stack import LocalStack
from tests.e2e.helpers import talon_requests
from tests.support import LogCapture

talon_one = pytest.importorskip("talon_one", reason="talon-one-sdk is a development dependency (make install)")

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(stack: LocalStack) -> Iterator[Any]:
    """Given the vendor's IntegrationApi configured with the relay's host and a relay caller key."""
    key = caller_api_key(stack.describe())
    assert key, "the local stack creates the caller API keys secret"
    config = talon_one.Configuration(host=stack.api_url)
    config.api_key["api_key_v1"] = key
    config.api_key_prefix["api_key_v1"] = "ApiKey-v1"
    client = talon_one.ApiClient(config)
    yield talon_one.IntegrationApi(client)
    client.close() if hasattr(client, "close") else None


def effect_types(effects: list[Any] | None) -> list[str]:
    return [effect.effect_type for effect in effects or []]


def test_the_vendor_sdk_runs_todays_five_operations_through_the_relay(
    stack: LocalStack, api: Any, logs: LogCapture
) -> None:
    run = uuid.uuid4().hex[:6]
    profile, friend, session = f"ada-{run}", f"bob-{run}", f"cart-{run}"

    # When the SDK updates a profile (running the rules), then a session with a known coupon and a camera
    state = api.update_customer_profile_v2(
        profile,
        talon_one.CustomerProfileIntegrationRequestV2(attributes={"Tier": "gold"}),
        run_rule_engine=True,
    )
    assert isinstance(state, talon_one.CustomerProfileIntegrationResponseV2)
    session_state = api.update_customer_session_v2(
        session,
        talon_one.IntegrationRequest(
            customer_session=talon_one.NewCustomerSessionV2(
                profile_id=profile,
                coupon_codes=["WELCOME10"],
                cart_items=[talon_one.CartItem(name="Camera", sku="SKU-CAMERA", quantity=1, price=120)],
            ),
            response_content=["customerSession", "customerProfile"],
        ),
    )
    # Then the answer is the SDK's IntegrationStateV2, with Talon.One's effects in it
    assert isinstance(session_state, talon_one.IntegrationStateV2)
    assert "acceptCoupon" in effect_types(session_state.effects)
    assert session_state.customer_session.integration_id == session

    # When it tracks a purchase (silent=no: the answer comes back) and creates a referral
    event_state = api.track_event_v2(
        talon_one.IntegrationEventV2Request(profile_id=profile, type="purchase", attributes={}), silent="no"
    )
    assert event_state is not None and event_state.effects is not None
    referral = api.create_referral(talon_one.NewReferral(campaign_id=3, advocate_profile_integration_id=profile))
    assert isinstance(referral, talon_one.Referral) and referral.code
    # And it sends a silent event (204, no body) and erases the friend's and the customer's data
    assert api.track_event_v2(talon_one.IntegrationEventV2Request(profile_id=friend, type="visit")) is None
    api.update_customer_profile_v2(friend, talon_one.CustomerProfileIntegrationRequestV2(attributes={}))
    assert api.delete_customer_data(friend) is None

    # Then Talon.One received each call on today's routes, with the SDK's own bodies
    sent = [(r["method"], r["path"].split("?")[0]) for r in talon_requests(stack, prefix="/v")]
    assert sent == [
        ("PUT", f"/v2/customer_profiles/{profile}"),
        ("PUT", f"/v2/customer_sessions/{session}"),
        ("POST", "/v2/events"),
        ("POST", "/v1/referrals"),
        ("POST", "/v2/events"),
        ("PUT", f"/v2/customer_profiles/{friend}"),
        ("DELETE", f"/v1/customer_data/{friend}"),
    ]
    # And the relay logged the session's effects, by operation
    logged = {(e["operation"], e["effect"]) for e in logs.effects()}
    assert ("updateCustomerSessionV2", "acceptCoupon") in logged


def test_the_vendor_sdk_with_a_wrong_key_gets_a_401_and_reaches_nothing(stack: LocalStack) -> None:
    config = talon_one.Configuration(host=stack.api_url)
    config.api_key["api_key_v1"] = "not-a-relay-key"
    config.api_key_prefix["api_key_v1"] = "ApiKey-v1"
    api = talon_one.IntegrationApi(talon_one.ApiClient(config))
    with pytest.raises(talon_one.ApiException) as exc:
        api.delete_customer_data("someone")
    assert exc.value.status == 401
    assert talon_requests(stack, prefix="/v") == []
