"""Coupon reservations, best prior price, referrals for several advocates and the customer's inventory:
request models, and their answers (library use).

Names and constraints follow `talon_one_openapi-v25.17.0.yaml` (May 2026), which the June 2026 split
specs repeat for these bodies; checked strictly, open to fields the relay does not know.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from talon_relay.wire.base import STRICT, DateTime, Int64, RequestModel, ResponseModel, examples


class _Part(BaseModel):
    model_config = STRICT


class CouponReservations(RequestModel):
    model_config = examples({"integrationIDs": ["p-1"]}, {"integrationIDs": ["p-2", "p-3"]})

    # The spec spells it with a capital ID, which camelCase would not give.
    integration_ids: list[str] = Field(alias="integrationIDs", max_length=1000)


class BestPriorTarget(_Part):
    target_type: Literal["NONE", "AUDIENCE"]
    audience_id: Int64 | None = Field(default=None, alias="audienceID")


class BestPriorPriceRequest(RequestModel):
    model_config = examples(
        {
            "skus": ["SKU-CAMERA"],
            "timeframeEndDate": "2026-06-01T00:00:00Z",
            "timeframe": "30",
            "timeframeEndDateType": "strict",
        },
        {
            "skus": ["SKU-CAMERA", "SKU-STRAP"],
            "timeframeEndDate": "2026-06-01T00:00:00Z",
            "timeframe": "30",
            "timeframeEndDateType": "price",
            "target": {"targetType": "NONE"},
        },
    )

    skus: list[str] = Field(min_length=1)
    timeframe_end_date: DateTime
    timeframe: str
    timeframe_end_date_type: Literal["strict", "price", "sale"]
    target: BestPriorTarget | None = None


class NewReferralsForMultipleAdvocates(RequestModel):
    model_config = examples(
        {"campaignId": 3, "advocateProfileIntegrationIds": ["p-1", "p-2"], "usageLimit": 1},
        {"campaignId": 3, "advocateProfileIntegrationIds": ["p-3"], "usageLimit": 5, "referralPattern": "REF-###"},
    )

    start_date: DateTime | None = None
    expiry_date: DateTime | None = None
    usage_limit: int = Field(ge=0, le=999999)
    campaign_id: Int64
    advocate_profile_integration_ids: list[str] = Field(min_length=1, max_length=1000)
    attributes: dict[str, Any] | None = None
    valid_characters: list[str] | None = None
    referral_pattern: str | None = Field(default=None, min_length=3, max_length=100)


# --- answers (library use: the relay passes them on as sent) -----------------------------------------


class Coupon(ResponseModel):
    id: int
    created: str
    campaign_id: int
    value: str
    usage_limit: int
    usage_counter: int


class ReservedCustomers(ResponseModel):
    """getReservedCustomers' answer (the spec's `inline_response_200_1`)."""

    total_result_size: int
    data: list[dict[str, Any]]


class BestPriorPrice(ResponseModel):
    id: int
    sku: str
    observed_at: str
    context_id: str
    price: float
    metadata: dict[str, Any]
    target: dict[str, Any]


class ReferralsCreated(ResponseModel):
    """createReferralsForMultipleAdvocates' answer with silent=no (the spec's `inline_response_201`)."""

    total_result_size: int
    data: list[dict[str, Any]]


class CustomerInventory(ResponseModel):
    profile: dict[str, Any] | None = None
    loyalty: dict[str, Any] | None = None
    referrals: list[dict[str, Any]] | None = None
    coupons: list[dict[str, Any]] | None = None
    giveaways: list[dict[str, Any]] | None = None
    achievements: list[dict[str, Any]] | None = None
