"""THE emulator's operation table: every Integration API operation it serves, one entry each.

An entry (`routes.Route`) is the whole of an operation's behaviour here: its route (method and the
spec's path template), its success status, the definition its body must match (in
`schemas/<version>.json`, or brought by the entry's own `definitions`), the query parameters it reads
(the 2019 routes read none: a query there is ignored), and its handler (`Call` in, `Outcome` out; the
handlers of the 2019 operations are in `v1`, today's in `v2`). The loyalty and achievement entries are
`loyalty_routes.ROUTES`, spliced in. Adding an operation is one entry here: docs/extending.md. Nothing
here comes from the relay (tests/unit/test_architecture.py).
"""

from __future__ import annotations

from local.emulator import after_order, audiences, catalogs, coupons, loyalty_routes, v1, v2
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
    # --- an order's later life (the June 2026 split specs, talon_one_specs-2026-06) ------------------
    Route(
        "returnCartItems",
        "POST",
        "/v2/customer_sessions/{customerSessionId}/returns",
        200,
        after_order.return_cart_items,
        body="ReturnIntegrationRequest",
        body_required=True,
        query=(_DRY, QueryParam("runRuleEngine", "boolean")),
        definitions={
            "ReturnIntegrationRequest": {
                "type": "object",
                "required": ["return"],
                "properties": {
                    "return": {"$ref": "#/definitions/NewReturn"},
                    "responseContent": {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "enum": [
                                "customerSession",
                                "customerProfile",
                                "coupons",
                                "triggeredCampaigns",
                                "referral",
                                "loyalty",
                                "event",
                                "previousReturns",
                            ],
                        },
                    },
                },
            },
            "NewReturn": {
                "type": "object",
                "required": ["returnedCartItems"],
                "properties": {
                    "returnedCartItems": {"type": "array", "items": {"$ref": "#/definitions/ReturnedCartItem"}}
                },
            },
            "ReturnedCartItem": {
                "type": "object",
                "properties": {
                    "position": {"type": "integer", "format": "int64"},
                    "quantity": {"type": "integer", "format": "int64"},
                    "sku": {"type": "string", "minLength": 1},
                },
            },
        },
    ),
    Route(
        "reopenCustomerSession",
        "PUT",
        "/v2/customer_sessions/{customerSessionId}/reopen",
        200,
        after_order.reopen_customer_session,
    ),
    Route(
        "getCustomerSession",
        "GET",
        "/v2/customer_sessions/{customerSessionId}",
        200,
        after_order.get_customer_session,
    ),
    Route(
        "trackEventV3",
        "POST",
        "/v3/events",
        200,
        after_order.track_event_v3,
        body="IntegrationEventV3Request",
        body_required=True,
        query=(SILENT, _DRY, QueryParam("forceCompleteEvaluation", "boolean", default=False)),
        definitions={
            "IntegrationEventV3Request": {
                "type": "object",
                "required": ["profileId", "type", "integrationId"],
                "properties": {
                    "profileId": {"type": "string"},
                    "storeIntegrationId": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "evaluableCampaignIds": {"type": "array", "items": {"type": "integer"}},
                    "type": {"type": "string", "minLength": 1},
                    "attributes": {"type": "object"},
                    "integrationId": {"type": "string", "minLength": 1},
                    "connectedSessionId": {"type": "string", "minLength": 1},
                    "loyaltyCards": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                    "responseContent": {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "enum": [
                                "customerProfile",
                                "triggeredCampaigns",
                                "loyalty",
                                "advancedEvent",
                                "awardedGiveaways",
                                "ruleFailureReasons",
                            ],
                        },
                    },
                },
            }
        },
    ),
    Route("getEventV3", "GET", "/v3/events/{integrationId}", 200, after_order.get_event_v3),
    # --- audiences and bulk profile updates (audiences.py); reservations, prices, inventory (coupons.py) --
    *audiences.ROUTES,
    *coupons.ROUTES,
    # --- loyalty programs, cards and achievements (talon_one_openapi-v25.17.0.yaml) --------------------
    *loyalty_routes.ROUTES,
    # --- cart item catalogs (talon_one_openapi-v25.17.0.yaml) ----------------------------------------
    Route(
        "syncCatalog",
        "PUT",
        "/v1/catalogs/{catalogId}/sync",
        200,
        catalogs.sync_catalog,
        body="CatalogSyncRequest",
        body_required=True,
        definitions=catalogs.DEFINITIONS,
    ),
)
