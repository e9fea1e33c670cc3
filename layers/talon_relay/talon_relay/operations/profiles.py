"""Customer profiles: a customer's attributes (v1 of 2019, v2 of today)."""

from __future__ import annotations

from talon_relay.operations.operation import V1_EFFECTS, V2_EFFECTS, Contract, Delivery, Operation, QueryParam

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
