"""Request models of today's Integration API (v2 session, profile and event), the strict checker.

Names and constraints follow `talon_one_openapi-v25.17.0.yaml` (May 2026). Like the v1 request
models they check types without coercion and let unknown fields through to Talon.One. Answers are
not modelled here: the relay reads only their effects (`effects.effects_of`) and passes them on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from talon_relay.wire.base import INT64_MAX, STRICT, Int64, RequestModel, examples


class _Part(BaseModel):
    model_config = STRICT


class AdditionalCost(_Part):
    price: float


class Product(_Part):
    name: str


class CartItem(_Part):
    name: str | None = None
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1, le=INT64_MAX)
    returned_quantity: Int64 | None = None
    remaining_quantity: Int64 | None = None
    price: float | None = None
    category: str | None = None
    product: Product | None = None
    weight: float | None = None
    height: float | None = None
    width: float | None = None
    length: float | None = None
    position: float | None = None
    attributes: dict[str, Any] | None = None
    additional_costs: dict[str, AdditionalCost] | None = None
    # The spec spells this one with a capital D, which camelCase would not give.
    catalog_item_id: Int64 | None = Field(default=None, alias="catalogItemID")
    selected_price_type: str | None = None
    adjustment_reference_id: str | None = None
    adjustment_effective_from: str | None = None
    adjustment_effective_until: str | None = None
    prices: dict[str, Any] | None = None


class ExperimentVariantAllocation(_Part):
    experiment_id: Int64 = Field(alias="experimentID")
    variant_id: Int64 = Field(alias="variantID")


class ProfileAudiencesChanges(_Part):
    adds: list[Int64]
    deletes: list[Int64]


SessionResponseContent = Literal[
    "customerSession",
    "customerProfile",
    "coupons",
    "triggeredCampaigns",
    "referral",
    "loyalty",
    "event",
    "awardedGiveaways",
    "ruleFailureReasons",
    "previousReturns",
]
ProfileResponseContent = Literal[
    "customerProfile", "triggeredCampaigns", "loyalty", "event", "awardedGiveaways", "ruleFailureReasons"
]


class NewCustomerSessionV2(RequestModel):
    profile_id: str | None = None
    store_integration_id: str | None = Field(default=None, min_length=1, max_length=1000)
    evaluable_campaign_ids: list[Int64] | None = None
    coupon_codes: list[str] | None = None
    referral_code: str | None = Field(default=None, max_length=100)
    loyalty_cards: list[str] | None = Field(default=None, max_length=1)
    state: Literal["open", "closed", "partially_returned", "cancelled"] | None = None
    cart_items: list[CartItem] | None = None
    experiment_variant_allocations: list[ExperimentVariantAllocation] | None = None
    additional_costs: dict[str, AdditionalCost] | None = None
    identifiers: list[str] | None = Field(default=None, max_length=5)
    attributes: dict[str, Any] | None = None


class IntegrationRequest(RequestModel):
    model_config = examples(
        {
            "customerSession": {
                "profileId": "p-1",
                "couponCodes": ["SUMMER10"],
                "state": "open",
                "cartItems": [
                    {
                        "name": "Espresso beans 1 kg",
                        "sku": "SKU-1001",
                        "quantity": 2,
                        "price": 18.5,
                        "category": "coffee",
                    },
                    {"name": "Milk frother", "sku": "SKU-2002", "quantity": 1, "price": 39.0},
                ],
                "identifiers": ["device-7f3a"],
                "attributes": {"ShippingCountry": "DE"},
            },
            "responseContent": ["customerSession", "customerProfile"],
        },
        {"customerSession": {"profileId": "p-2", "state": "closed"}},
    )

    customer_session: NewCustomerSessionV2
    response_content: list[SessionResponseContent] | None = None


class CustomerProfileIntegrationRequestV2(RequestModel):
    model_config = examples(
        {"attributes": {"Tier": "gold", "Newsletter": True}, "responseContent": ["customerProfile"]},
        {"attributes": {"Tier": "silver"}, "audiencesChanges": {"adds": [3], "deletes": []}},
    )

    attributes: dict[str, Any] | None = None
    evaluable_campaign_ids: list[Int64] | None = None
    response_content: list[ProfileResponseContent] | None = None
    audiences_changes: ProfileAudiencesChanges | None = None


class IntegrationEventV2Request(RequestModel):
    model_config = examples(
        {
            "profileId": "p-1",
            "type": "purchase",
            "attributes": {"orderId": "o-1001", "amount": 76.0, "paymentMethod": "card"},
            "responseContent": ["customerProfile"],
        },
        {"profileId": "p-2", "type": "newsletter_signup", "attributes": {}},
    )

    profile_id: str | None = None
    store_integration_id: str | None = Field(default=None, min_length=1, max_length=1000)
    evaluable_campaign_ids: list[Int64] | None = None
    type: str = Field(min_length=1)
    attributes: dict[str, Any] | None = None
    response_content: list[ProfileResponseContent] | None = None
    loyalty_cards: list[str] | None = Field(default=None, max_length=1)


# --- the order's later life (June 2026 split specs: returns, v3 events) -----------------------------

ReturnResponseContent = Literal[
    "customerSession",
    "customerProfile",
    "coupons",
    "triggeredCampaigns",
    "referral",
    "loyalty",
    "event",
    "previousReturns",
]
EventV3ResponseContent = Literal[
    "customerProfile", "triggeredCampaigns", "loyalty", "advancedEvent", "awardedGiveaways", "ruleFailureReasons"
]


class ReturnedCartItem(_Part):
    #: the line's index in the session's cart (from 0), or its sku; quantity: how many of it (default all)
    position: Int64 | None = None
    quantity: Int64 | None = None
    sku: str | None = Field(default=None, min_length=1)


class NewReturn(_Part):
    returned_cart_items: list[ReturnedCartItem]


class ReturnIntegrationRequest(RequestModel):
    """returnCartItems' body; an `Idempotency-Key` header makes Talon.One keep its answer for 24 hours."""

    model_config = examples(
        {"return": {"returnedCartItems": [{"position": 0, "quantity": 1}]}, "responseContent": ["customerSession"]},
        {"return": {"returnedCartItems": [{"position": 1}]}},
    )

    return_: NewReturn = Field(alias="return")
    response_content: list[ReturnResponseContent] | None = None


class IntegrationEventV3Request(RequestModel):
    """trackEventV3's body: an advanced event, registered once per `integrationId`."""

    model_config = examples(
        {
            "profileId": "p-1",
            "type": "purchase",
            "integrationId": "order-1001",
            "connectedSessionId": "s-1",
            "attributes": {"orderId": "1001", "amount": 76.0, "currency": "EUR"},
            "responseContent": ["customerProfile", "advancedEvent"],
        },
        {"profileId": "p-2", "type": "review_written", "integrationId": "review-7", "attributes": {}},
    )

    profile_id: str
    store_integration_id: str | None = Field(default=None, min_length=1, max_length=1000)
    evaluable_campaign_ids: list[Int64] | None = None
    type: str = Field(min_length=1)
    attributes: dict[str, Any] | None = None
    integration_id: str = Field(min_length=1)
    connected_session_id: str | None = Field(default=None, min_length=1)
    loyalty_cards: list[str] | None = Field(default=None, max_length=1)
    response_content: list[EventV3ResponseContent] | None = None
