"""Pydantic models for every definition the v1 Integration API operations reach (v2: `models_v2`).

Names follow the reference spec (talon_one_swagger-20052019.yaml). Python attributes are snake_case,
the wire names are the spec's camelCase (aliases).

Request models are the relay's strict checker (the functions run it as `checkers`, compiled from
these models by `make checkers`): a caller's body is validated against them by wire name, without
coercion (no string for a number, no boolean for a number, no NaN or Infinity, no number for a
date-time), and open: fields they do not know are Talon.One's to judge. The relay forwards the
caller's bytes, never a re-serialised model. Response models tolerate fields a newer server adds;
the relay itself reads only the effects of an answer (`effects.effects_of`).

This module holds the requests and the error answer; the bases are in `wire`, the v1 answers in
`responses` (imported on first use of one of their names here, e.g. `models.IntegrationState`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from talon_relay.wire.base import (
    STRICT,
    CartItem,
    CartItemAdjustment,
    DateTime,
    Int64,
    RequestModel,
    ResponseModel,
    examples,
)

__all__ = [
    "STRICT",
    "APIError",
    "CartItem",
    "CartItemAdjustment",
    "DateTime",
    "ErrorResponse",
    "ErrorSource",
    "NewCustomerProfile",
    "NewCustomerSession",
    "NewEvent",
    "NewReferral",
    "RequestModel",
    "ResponseModel",
]  # fmt: skip

_Request = RequestModel
_Response = ResponseModel

#: The v1 answers' models, in `responses` (see the module docstring).
RESPONSE_MODELS = frozenset(
    {
        "SessionState", "LoyaltyMembership", "LoyaltyProgramBalance", "LoyaltyProgramLedgers", "Loyalty", "LedgerEntry",
        "CouponRejectionReasonValue", "CouponRejectionReason", "Meta", "CustomerProfile", "CustomerSession",
        "Event", "IntegrationState", "Referral",
    }
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in RESPONSE_MODELS:
        from talon_relay.wire import responses

        return getattr(responses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- requests --------------------------------------------------------------------------------


class NewCustomerSession(_Request):
    model_config = examples(
        {
            "profileId": "p-1",
            "coupon": "SUMMER10",
            "state": "open",
            "cartItems": [
                {"name": "Espresso beans 1 kg", "sku": "SKU-1001", "quantity": 2, "price": 18.5, "category": "coffee"},
                {"name": "Milk frother", "sku": "SKU-2002", "quantity": 1, "price": 39.0},
            ],
            "total": 76.0,
            "attributes": {"ShippingCountry": "DE"},
        },
        {"profileId": "p-2", "state": "closed", "total": 12.5},
        {
            "profileId": "",
            "cartItems": [{"name": "Paper filters", "sku": "SKU-3003", "quantity": 3, "price": 4.0}],
            "total": 12.0,
        },
    )

    profile_id: str | None = None
    coupon: str | None = None
    referral: str | None = None
    state: Literal["open", "closed", "cancelled"] | None = None
    cart_items: list[CartItem] | None = None
    total: float | None = None
    attributes: dict[str, Any] | None = None


class NewCustomerProfile(_Request):
    model_config = examples(
        {"attributes": {"Name": "Ada Example", "ShippingCity": "Berlin", "Newsletter": True}},
        {"attributes": {"Newsletter": False}},
    )

    attributes: dict[str, Any] | None = None


class NewEvent(_Request):
    model_config = examples(
        {
            "profileId": "p-1",
            "sessionId": "s-1",
            "type": "purchase",
            "attributes": {"orderId": "o-1001", "amount": 76.0, "paymentMethod": "card"},
        },
        {
            "profileId": "p-2",
            "sessionId": "s-2",
            "type": "purchase",
            "attributes": {"orderId": "o-1002", "amount": 12.5, "paymentMethod": "invoice"},
        },
        {"sessionId": "s-3", "type": "newsletter_signup", "attributes": {}},
    )

    profile_id: str | None = None
    session_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    attributes: dict[str, Any]


class NewReferral(_Request):
    model_config = examples(
        {"campaignId": 3, "advocateProfileIntegrationId": "p-1", "friendProfileIntegrationId": "p-2"},
        {"campaignId": 3, "advocateProfileIntegrationId": "p-3"},
    )

    campaign_id: Int64
    advocate_profile_integration_id: str
    friend_profile_integration_id: str | None = None
    start_date: DateTime | None = None
    expiry_date: DateTime | None = None


# --- errors ----------------------------------------------------------------------------------


class ErrorSource(_Response):
    pointer: str | None = None
    parameter: str | None = None
    line: str | None = None


class APIError(_Response):
    title: str
    details: str | None = None
    source: ErrorSource


class ErrorResponse(_Response):
    message: str
    errors: list[APIError] | None = None
