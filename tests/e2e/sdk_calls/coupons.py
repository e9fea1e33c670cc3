"""Coupon reservations, best prior price, referrals for several advocates, the customer's inventory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import talon_one
from pydantic import Field

from tests.e2e.sdk_calls import Call, World

#: a coupon of the emulator's default rules (README: local defaults)
COUPON = "SAVE5"


def create_coupon_reservation(world: World) -> Any:
    answer = world.api.create_coupon_reservation(
        COUPON, talon_one.CouponReservations(integration_ids=[world.unique("sdk-holder")])
    )
    assert answer.value == COUPON
    return answer


def delete_coupon_reservation(world: World) -> Any:
    reservation = talon_one.CouponReservations(integration_ids=[world.unique("sdk-released")])
    world.api.create_coupon_reservation(COUPON, reservation)
    return world.api.delete_coupon_reservation(COUPON, reservation)


def get_reserved_customers(world: World) -> Any:
    holder = world.unique("sdk-reserved")
    world.api.create_coupon_reservation(COUPON, talon_one.CouponReservations(integration_ids=[holder]))
    answer = world.api.get_reserved_customers(COUPON)
    assert holder in [profile.integration_id for profile in answer.data]
    return answer


class SpecBestPriorPriceRequest(talon_one.BestPriorPriceRequest):
    """The SDK's model with the field the spec requires and the SDK lacks.

    talon-one-sdk 26.2's BestPriorPriceRequest requires `strictEndDate` (a boolean) and has no
    `timeframeEndDateType`, which both the May 2026 spec and the June 2026 split specs require (and neither
    names `strictEndDate`): the SDK's own model is refused by the relay's checker (a 400 naming
    /timeframeEndDateType), as by a Talon.One that follows its spec. This shop adds the field; the relay
    forwards `strictEndDate` as sent (Talon.One's to judge)."""

    timeframe_end_date_type: str = Field(alias="timeframeEndDateType")


def best_prior_price(world: World) -> Any:
    assert "timeframe_end_date_type" not in talon_one.BestPriorPriceRequest.model_fields  # the SDK's gap, still there
    answer = world.api.best_prior_price(
        SpecBestPriorPriceRequest(
            skus=["SKU-CAMERA"],
            timeframe_end_date=datetime(2026, 6, 1, tzinfo=UTC),
            timeframe="30",
            strict_end_date=True,
            timeframe_end_date_type="strict",
        )
    )
    assert [(price.sku, price.price) for price in answer] == [("SKU-CAMERA", 449.0)]
    return answer


def create_referrals_for_multiple_advocates(world: World) -> Any:
    advocates = [world.unique("sdk-advocate-a"), world.unique("sdk-advocate-b")]
    answer = world.api.create_referrals_for_multiple_advocates(
        talon_one.NewReferralsForMultipleAdvocates(
            campaign_id=3, advocate_profile_integration_ids=advocates, usage_limit=1
        ),
        silent="no",
    )
    assert sorted(referral.advocate_profile_integration_id for referral in answer.data) == sorted(advocates)
    return answer


def get_customer_inventory(world: World) -> Any:
    holder = world.unique("sdk-inventory")
    world.api.create_coupon_reservation(COUPON, talon_one.CouponReservations(integration_ids=[holder]))
    answer = world.api.get_customer_inventory(holder, profile=True, coupons=True, referrals=True, loyalty=True)
    assert answer.profile.integration_id == holder
    assert [coupon.value for coupon in answer.coupons] == [COUPON]
    return answer


CALLS: dict[str, Call] = {
    "create_coupon_reservation": create_coupon_reservation,
    "delete_coupon_reservation": delete_coupon_reservation,
    "get_reserved_customers": get_reserved_customers,
    "best_prior_price": best_prior_price,
    "create_referrals_for_multiple_advocates": create_referrals_for_multiple_advocates,
    "get_customer_inventory": get_customer_inventory,
}
