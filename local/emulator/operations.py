"""THE emulator's operation table: every Integration API operation it serves, one entry each.

An entry (`routes.Route`) is the whole of an operation's behaviour here: its route (method and the
spec's path template), its success status, the definition its body must match (in
`schemas/<version>.json`, or brought by the entry's own `definitions`), the query parameters it reads
(v1 routes read none: a query there is ignored), and its handler (`Call` in, `Outcome` out; the
handlers of the 2019 operations are in `v1`, today's in `v2`). Adding an operation is one entry here:
docs/extending.md. Nothing here comes from the relay (tests/unit/test_architecture.py).
"""

from __future__ import annotations

from local.emulator import v1, v2
from local.emulator.routes import QueryParam, Route

_DRY = QueryParam("dry", "boolean")
#: trackEventV2's `silent` is a string in the spec: "yes" (default: answer 204) or "no" (answer 200).
#: "true"/"false" are read as "yes"/"no" too (see validation.query_values).
SILENT = QueryParam("silent", "string", default="yes", values=("yes", "no", "true", "false"))

ROUTES: tuple[Route, ...] = (
    # --- the v1 operations of May 2019 (talon_one_swagger-20052019.yaml) ---------------------------
    Route(
        "updateCustomerProfile",
        "PUT",
        "/v1/customer_profiles/{integrationId}",
        200,
        v1.update_customer_profile,
        body="NewCustomerProfile",
    ),
    Route(
        "updateCustomerSession",
        "PUT",
        "/v1/customer_sessions/{customerSessionId}",
        200,
        v1.update_customer_session,
        body="NewCustomerSession",
    ),
    Route("trackEvent", "POST", "/v1/events", 201, v1.track_event, body="NewEvent"),
    Route("createReferral", "POST", "/v1/referrals", 201, v1.create_referral, body="NewReferral"),
    Route("deleteCustomerData", "DELETE", "/v1/customer_data/{integrationId}", 204, v1.delete_customer_data),
    # --- today's operations (talon_one_openapi-v25.17.0.yaml) --------------------------------------
    Route(
        "updateCustomerSessionV2",
        "PUT",
        "/v2/customer_sessions/{customerSessionId}",
        200,
        v2.update_customer_session,
        body="IntegrationRequest",
        body_required=True,
        query=(_DRY, QueryParam("now", "string", format="date-time")),
    ),
    Route(
        "updateCustomerProfileV2",
        "PUT",
        "/v2/customer_profiles/{integrationId}",
        200,
        v2.update_customer_profile,
        body="CustomerProfileIntegrationRequestV2",
        body_required=True,
        query=(QueryParam("runRuleEngine", "boolean", default=False), _DRY),
    ),
    Route(
        "trackEventV2",
        "POST",
        "/v2/events",
        200,
        v2.track_event,
        body="IntegrationEventV2Request",
        body_required=True,
        query=(SILENT, _DRY, QueryParam("forceCompleteEvaluation", "boolean", default=False)),
    ),
)
