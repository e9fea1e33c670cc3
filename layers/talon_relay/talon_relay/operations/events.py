"""Events: something a customer did, tracked (v1 of 2019, v2 of today)."""

from __future__ import annotations

from talon_relay.operations.operation import V1_EFFECTS, V2_EFFECTS, Contract, Delivery, Operation, QueryParam

TRACK_EVENT = Operation(
    Contract(
        name="trackEvent",
        method="POST",
        path="/v1/events",
        body="wire.models:NewEvent",
        response="wire.responses:IntegrationState",
        success_status=201,
        body_required=True,
        effects_at=V1_EFFECTS,
        session_at=("session", "integrationId"),
        profile_at=("profile", "integrationId"),
    ),
    Delivery(group_by="sessionId"),
)

# --- today's API (May 2026) ------------------------------------------------------------------------

TRACK_EVENT_V2 = Operation(
    Contract(
        name="trackEventV2",
        method="POST",
        path="/v2/events",
        body="wire.models_v2:IntegrationEventV2Request",
        # 200 with the answer when silent=no; 204 without a body otherwise (silent defaults to yes)
        success_status=200,
        body_required=True,
        query_params=(
            QueryParam("silent", "yes-no"),
            QueryParam("dry", "boolean"),
            QueryParam("forceCompleteEvaluation", "boolean"),
        ),
        effects_at=V2_EFFECTS,
        profile_at=("customerProfile", "integrationId"),
        examples={"silent": "no"},
    ),
    Delivery(group_by="profileId"),
)

# --- advanced events (June 2026 split specs): idempotent, one per integrationId ------------------------

TRACK_EVENT_V3 = Operation(
    Contract(
        name="trackEventV3",
        method="POST",
        path="/v3/events",
        body="wire.models_v2:IntegrationEventV3Request",
        success_status=200,
        body_required=True,
        query_params=(
            QueryParam("silent", "yes-no"),
            QueryParam("dry", "boolean"),
            QueryParam("forceCompleteEvaluation", "boolean"),
        ),
        effects_at=V2_EFFECTS,
        profile_at=("customerProfile", "integrationId"),
        examples={"silent": "no"},
    ),
    Delivery(group_by="profileId"),
)

GET_EVENT_V3 = Operation(
    Contract(
        name="getEventV3",
        method="GET",
        path="/v3/events/{integrationId}",
        success_status=200,
        examples={"integrationId": "order-1001"},
    ),
    Delivery(),
)
