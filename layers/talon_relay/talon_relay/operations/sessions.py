"""Customer sessions: a customer's cart and what applies to it (v1 of 2019, v2 of today)."""

from __future__ import annotations

from talon_relay.operations.operation import V1_EFFECTS, V2_EFFECTS, Contract, Delivery, Operation, QueryParam

#: The shared queue of every change of a customer session: one order per session (docs/lifecycle.md).
SESSIONS = "sessions"

# Every change of a session (update v1 and v2, close and cancel, returns, reopening) is queued on the one
# SESSIONS queue, grouped by application and session, so they reach Talon.One in the order they were
# sent whichever operation carries each (docs/lifecycle.md); updateCustomerSessionV2's function consumes it.

UPDATE_CUSTOMER_SESSION = Operation(
    Contract(
        name="updateCustomerSession",
        method="PUT",
        path="/v1/customer_sessions/{customerSessionId}",
        body="wire.models:NewCustomerSession",
        response="wire.responses:IntegrationState",
        success_status=200,
        effects_at=V1_EFFECTS,
        session_at=("session", "integrationId"),
        profile_at=("profile", "integrationId"),
        examples={"customerSessionId": "s-1"},
    ),
    Delivery(group_by="customerSessionId", last_write_wins=True, shared_queue=SESSIONS),
)

# --- today's API (May 2026) ------------------------------------------------------------------------

UPDATE_CUSTOMER_SESSION_V2 = Operation(
    Contract(
        name="updateCustomerSessionV2",
        method="PUT",
        path="/v2/customer_sessions/{customerSessionId}",
        body="wire.models_v2:IntegrationRequest",
        success_status=200,
        body_required=True,
        query_params=(QueryParam("dry", "boolean"), QueryParam("now", "date-time")),
        effects_at=V2_EFFECTS,
        session_at=("customerSession", "integrationId"),
        profile_at=("customerSession", "profileId"),
        examples={"customerSessionId": "s-1", "dry": "false"},
    ),
    Delivery(group_by="customerSessionId", last_write_wins=True, shared_queue=SESSIONS, consumes=True),
)

# --- after the order (June 2026 split specs): returns, reopening, reading -------------------------------

RETURN_CART_ITEMS = Operation(
    Contract(
        name="returnCartItems",
        method="POST",
        path="/v2/customer_sessions/{customerSessionId}/returns",
        body="wire.models_v2:ReturnIntegrationRequest",
        success_status=200,
        body_required=True,
        query_params=(QueryParam("dry", "boolean"), QueryParam("runRuleEngine", "boolean")),
        effects_at=V2_EFFECTS,
        session_at=("customerSession", "integrationId"),
        profile_at=("customerSession", "profileId"),
        idempotency_header="Idempotency-Key",
        examples={"customerSessionId": "s-1"},
    ),
    Delivery(group_by="customerSessionId", shared_queue=SESSIONS),
)

REOPEN_CUSTOMER_SESSION = Operation(
    Contract(
        name="reopenCustomerSession",
        method="PUT",
        path="/v2/customer_sessions/{customerSessionId}/reopen",
        success_status=200,
        # ReopenSessionResponse: the effects only (the rollbacks), no session or profile
        effects_at=V2_EFFECTS,
        examples={"customerSessionId": "s-1"},
    ),
    Delivery(group_by="customerSessionId", shared_queue=SESSIONS),
)

GET_CUSTOMER_SESSION = Operation(
    Contract(
        name="getCustomerSession",
        method="GET",
        path="/v2/customer_sessions/{customerSessionId}",
        success_status=200,
        effects_at=V2_EFFECTS,
        session_at=("customerSession", "integrationId"),
        profile_at=("customerSession", "profileId"),
        examples={"customerSessionId": "s-1"},
    ),
    Delivery(),
)
