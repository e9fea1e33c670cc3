"""Customer profiles: a customer's attributes (v1 of 2019, v2 of today)."""

from __future__ import annotations

from talon_relay.operations.operation import (
    READ_CACHE_SECONDS,
    V1_EFFECTS,
    V2_EFFECTS,
    Contract,
    Delivery,
    Operation,
    QueryParam,
)

UPDATE_CUSTOMER_PROFILE = Operation(
    Contract(
        name="updateCustomerProfile",
        method="PUT",
        path="/v1/customer_profiles/{integrationId}",
        body="wire.models:NewCustomerProfile",
        response="wire.responses:IntegrationState",
        success_status=200,
        effects_at=V1_EFFECTS,
        session_at=("session", "integrationId"),
        profile_at=("profile", "integrationId"),
        examples={"integrationId": "p-1"},
    ),
    Delivery(group_by="integrationId", last_write_wins=True),
)

# --- today's API (May 2026) ------------------------------------------------------------------------

UPDATE_CUSTOMER_PROFILE_V2 = Operation(
    Contract(
        name="updateCustomerProfileV2",
        method="PUT",
        path="/v2/customer_profiles/{integrationId}",
        body="wire.models_v2:CustomerProfileIntegrationRequestV2",
        success_status=200,
        body_required=True,
        query_params=(QueryParam("runRuleEngine", "boolean"), QueryParam("dry", "boolean")),
        effects_at=V2_EFFECTS,
        session_at=("customerSession", "integrationId"),
        profile_at=("customerProfile", "integrationId"),
        examples={"integrationId": "p-1", "runRuleEngine": "true"},
    ),
    Delivery(group_by="integrationId", last_write_wins=True),
)

# --- many customers at once, and what a customer holds (May 2026) -------------------------------------

# Up to 1,000 profiles in one request. Queued as ONE FIFO group for the whole operation: two bulk requests
# may name the same customer, so they are applied one at a time in the order they came (an older value
# never lands after a newer one), at the cost of running them serially. Not split per customer (that would
# change what the caller sent) and not last-write-wins (a later request may name other customers).
# 200 with the profiles when silent=no; 204 otherwise (the default).
UPDATE_CUSTOMER_PROFILES_V2 = Operation(
    Contract(
        name="updateCustomerProfilesV2",
        method="PUT",
        path="/v2/customer_profiles",
        body="wire.audiences:MultipleCustomerProfileIntegrationRequest",
        response="wire.audiences:MultipleCustomerProfileIntegrationResponseV2",
        success_status=200,
        body_required=True,
        query_params=(QueryParam("silent", "yes-no"),),
        examples={"silent": "no"},
    ),
    Delivery(group="customerProfiles"),
)

# A read, answered at once. The storefront reads it often (the vendor's Shopify app caches it ~10 s): kept
# as long per caller and customer by the read cache.
GET_CUSTOMER_INVENTORY = Operation(
    Contract(
        name="getCustomerInventory",
        method="GET",
        path="/v1/customer_profiles/{integrationId}/inventory",
        response="wire.coupons:CustomerInventory",
        success_status=200,
        query_params=tuple(
            QueryParam(name, "boolean")
            for name in ("profile", "referrals", "coupons", "loyalty", "giveaways", "achievements")
        ),
        examples={"integrationId": "p-1", "profile": "true", "coupons": "true"},
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)
