"""Customer profiles, events, referrals and erasure."""

from __future__ import annotations

from typing import Any

import talon_one

from tests.e2e.sdk_calls import Call, World


def update_customer_profile_v2(world: World, stem: str = "sdk-profile") -> Any:
    return world.api.update_customer_profile_v2(
        world.unique(stem),
        talon_one.CustomerProfileIntegrationRequestV2(attributes={}),
        run_rule_engine=True,
    )


def track_event_v2(world: World) -> Any:
    return world.api.track_event_v2(
        talon_one.IntegrationEventV2Request(profile_id=world.unique("sdk-ada"), type="viewed", attributes={}),
        silent="no",
    )


def create_referral(world: World) -> Any:
    answer = world.api.create_referral(
        talon_one.NewReferral(campaign_id=1, advocate_profile_integration_id=world.unique("sdk-advocate"))
    )
    assert answer.code
    return answer


def delete_customer_data(world: World) -> Any:
    update_customer_profile_v2(world, "sdk-erased")
    return world.api.delete_customer_data(world.unique("sdk-erased"))


CALLS: dict[str, Call] = {
    "update_customer_profile_v2": lambda world: update_customer_profile_v2(world),
    "track_event_v2": track_event_v2,
    "create_referral": create_referral,
    "delete_customer_data": delete_customer_data,
}
