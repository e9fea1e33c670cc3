"""Audiences and their memberships, and bulk profile updates."""

from __future__ import annotations

from typing import Any

import talon_one

from tests.e2e.sdk_calls import Call, World


def _audience(world: World, stem: str) -> Any:
    return world.api.create_audience_v2(talon_one.NewAudience(name=world.unique(stem)))


def create_audience_v2(world: World) -> Any:
    answer = _audience(world, "sdk-audience")
    assert answer.id >= 1 and answer.name == world.unique("sdk-audience")
    return answer


def update_audience_v2(world: World) -> Any:
    audience = _audience(world, "sdk-renamed")
    answer = world.api.update_audience_v2(audience.id, talon_one.UpdateAudience(name=world.unique("sdk-new-name")))
    assert answer.id == audience.id and answer.name == world.unique("sdk-new-name")
    return answer


def delete_audience_v2(world: World) -> Any:
    return world.api.delete_audience_v2(_audience(world, "sdk-deleted").id)


def _members(world: World, stem: str, *profiles: str) -> int:
    audience_id: int = _audience(world, stem).id
    world.api.update_customer_profile_audiences(
        talon_one.CustomerProfileAudienceRequest(
            data=[
                talon_one.CustomerProfileAudienceRequestItem(
                    action="add", profile_integration_id=world.unique(profile), audience_id=audience_id
                )
                for profile in profiles
            ]
        )
    )
    return audience_id


def update_customer_profile_audiences(world: World) -> Any:
    audience_id = _audience(world, "sdk-joined").id
    return world.api.update_customer_profile_audiences(
        talon_one.CustomerProfileAudienceRequest(
            data=[
                talon_one.CustomerProfileAudienceRequestItem(
                    action="add", profile_integration_id=world.unique("sdk-member"), audience_id=audience_id
                )
            ]
        )
    )


def update_audience_customers_attributes(world: World) -> Any:
    audience_id = _members(world, "sdk-tiered", "sdk-tier-a", "sdk-tier-b")
    return world.api.update_audience_customers_attributes(audience_id, {"tier": "gold"})


def delete_audience_memberships_v2(world: World) -> Any:
    return world.api.delete_audience_memberships_v2(_members(world, "sdk-emptied", "sdk-leaver"))


def update_customer_profiles_v2(world: World) -> Any:
    answer = world.api.update_customer_profiles_v2(
        talon_one.MultipleCustomerProfileIntegrationRequest(
            customer_profiles=[
                talon_one.MultipleCustomerProfileIntegrationRequestItem(
                    integration_id=world.unique(f"sdk-bulk-{n}"), attributes={}
                )
                for n in range(3)
            ]
        ),
        silent="no",
    )
    assert [state.customer_profile.integration_id for state in answer.integration_states] == [
        world.unique(f"sdk-bulk-{n}") for n in range(3)
    ]
    return answer


CALLS: dict[str, Call] = {
    "create_audience_v2": create_audience_v2,
    "update_audience_v2": update_audience_v2,
    "delete_audience_v2": delete_audience_v2,
    "delete_audience_memberships_v2": delete_audience_memberships_v2,
    "update_audience_customers_attributes": update_audience_customers_attributes,
    "update_customer_profile_audiences": update_customer_profile_audiences,
    "update_customer_profiles_v2": update_customer_profiles_v2,
}
