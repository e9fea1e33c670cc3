"""The emulator's entries of the loyalty and achievement operations (today's spec,
talon_one_openapi-v25.17.0.yaml), spliced into `operations.ROUTES`: routes, query parameters as the spec
declares them, and the bodies' definitions transcribed from the spec (tests/contract/ compares them)."""

from __future__ import annotations

from local.emulator import achievements, loyalty_ops
from local.emulator.routes import QueryParam, Route

_PROFILE = "/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}"
_CARD = "/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}"
_CARD_V2 = "/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}"

_END = QueryParam("endDate", "string", format="date-time")
_START = QueryParam("startDate", "string", format="date-time")
_SUBLEDGER = QueryParam("subledgerId", "string")
_SUBLEDGERS = QueryParam("subledgerId", "array")
_SESSIONS = QueryParam("customerSessionIDs", "array")
_TRANSACTIONS = QueryParam("transactionUUIDs", "array")
_SKIP = QueryParam("skip", "integer", format="int64")
_TYPE = QueryParam("loyaltyTransactionType", "string", values=("manual", "session", "import"))
_AWAITS = QueryParam("awaitsActivation", "boolean")
_STATUS = QueryParam("status", "string", default="active", values=("active", "pending", "expired"))
_SORT = QueryParam("sort", "string", values=("startDate", "expiryDate"))


def _page(default: int) -> QueryParam:
    return QueryParam("pageSize", "integer", format="int64", default=default, minimum=1, maximum=1000)


_REGISTRATION = {
    "LoyaltyCardRegistration": {
        "type": "object",
        "required": ["integrationId"],
        "properties": {"integrationId": {"type": "string"}},
    }
}

ROUTES: tuple[Route, ...] = (
    Route(
        "getLoyaltyBalances",
        "GET",
        f"{_PROFILE}/balances",
        200,
        loyalty_ops.get_loyalty_balances,
        query=(
            _END,
            _SUBLEDGER,
            QueryParam("includeTiers", "boolean", default=False),
            QueryParam("includeProjectedTier", "boolean", default=False),
        ),
    ),
    Route(
        "getLoyaltyProgramProfilePoints",
        "GET",
        f"{_PROFILE}/points",
        200,
        loyalty_ops.get_loyalty_program_profile_points,
        query=(_STATUS, _SUBLEDGER, _SESSIONS, _TRANSACTIONS, _page(50), _SKIP, _SORT),
    ),
    Route(
        "getLoyaltyProgramProfileTransactions",
        "GET",
        f"{_PROFILE}/transactions",
        200,
        loyalty_ops.get_loyalty_program_profile_transactions,
        query=(_SESSIONS, _TRANSACTIONS, _SUBLEDGER, _TYPE, _START, _END, _page(50), _SKIP, _AWAITS),
    ),
    Route(
        "activateLoyaltyPoints",
        "POST",
        "/v1/loyalty_programs/{loyaltyProgramId}/activate_points",
        200,
        loyalty_ops.activate_loyalty_points,
        body="ActivateLoyaltyPoints",
        body_required=True,
        definitions={
            "ActivateLoyaltyPoints": {
                "type": "object",
                "properties": {
                    "transactionUUIDs": {
                        "type": "array",
                        "items": {"type": "string", "format": "uuid"},
                        "minItems": 1,
                        "maxItems": 50,
                        "uniqueItems": True,
                    },
                    "sessionId": {"type": "string", "minLength": 1},
                },
            }
        },
    ),
    Route(
        "deleteLoyaltyTransactionsFromLedgers",
        "POST",
        f"{_PROFILE}/delete_transactions",
        204,
        loyalty_ops.delete_loyalty_transactions_from_ledgers,
        body="DeleteLoyaltyTransactionsRequest",
        body_required=True,
        definitions={
            "DeleteLoyaltyTransactionsRequest": {
                "type": "object",
                "required": ["scope"],
                "properties": {
                    "scope": {"type": "string", "enum": ["AllSubledgers", "SelectedSubledgers"]},
                    # draft 4 reads no `nullable`: a null list is refused here (Talon.One takes it)
                    "subledgerIds": {"type": "array", "items": {"type": "string"}, "nullable": True},
                },
            }
        },
    ),
    Route(
        "generateLoyaltyCard",
        "POST",
        "/v1/loyalty_programs/{loyaltyProgramId}/cards",
        200,
        loyalty_ops.generate_loyalty_card,
        body="GenerateLoyaltyCard",
        body_required=True,
        definitions={
            "GenerateLoyaltyCard": {
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["active", "inactive"]},
                    "customerProfileIds": {"type": "array", "items": {"type": "string"}},
                    "cardIdentifier": {
                        "type": "string",
                        "minLength": 4,
                        "maxLength": 108,
                        "pattern": "^[A-Za-z0-9._%+@-]+$",
                    },
                },
            }
        },
    ),
    Route(
        "linkLoyaltyCardToProfile",
        "POST",
        f"{_CARD_V2}/link_profile",
        200,
        loyalty_ops.link_loyalty_card_to_profile,
        body="LoyaltyCardRegistration",
        body_required=True,
        definitions=_REGISTRATION,
    ),
    Route(
        "unlinkLoyaltyCardFromProfile",
        "POST",
        f"{_CARD_V2}/unlink_profile",
        200,
        loyalty_ops.unlink_loyalty_card_from_profile,
        body="LoyaltyCardRegistration",
        body_required=True,
        definitions=_REGISTRATION,
    ),
    Route(
        "getLoyaltyCardBalances",
        "GET",
        f"{_CARD}/balances",
        200,
        loyalty_ops.get_loyalty_card_balances,
        query=(_END, _SUBLEDGERS),
    ),
    Route(
        "getLoyaltyCardPoints",
        "GET",
        f"{_CARD}/points",
        200,
        loyalty_ops.get_loyalty_card_points,
        query=(_STATUS, _SUBLEDGERS, _SESSIONS, _TRANSACTIONS, _page(50), _SKIP, _SORT),
    ),
    Route(
        "getLoyaltyCardTransactions",
        "GET",
        f"{_CARD}/transactions",
        200,
        loyalty_ops.get_loyalty_card_transactions,
        query=(_SUBLEDGERS, _TYPE, _START, _END, _SESSIONS, _TRANSACTIONS, _page(50), _SKIP, _AWAITS),
    ),
    Route(
        "getCustomerAchievements",
        "GET",
        "/v1/customer_profiles/{integrationId}/achievements",
        200,
        achievements.get_customer_achievements,
        query=(
            QueryParam("campaignIds", "array"),
            QueryParam("achievementIds", "array"),
            QueryParam("achievementStatus", "array", values=("active", "scheduled")),
            QueryParam("currentProgressStatus", "array", values=("inprogress", "completed", "not_started")),
            _page(1000),
            _SKIP,
        ),
    ),
    Route(
        "getCustomerAchievementHistory",
        "GET",
        "/v1/customer_profiles/{integrationId}/achievements/{achievementId}",
        200,
        achievements.get_customer_achievement_history,
        query=(
            QueryParam("progressStatus", "array", values=("inprogress", "completed", "expired")),
            _START,
            _END,
            _page(1000),
            _SKIP,
        ),
    ),
)
