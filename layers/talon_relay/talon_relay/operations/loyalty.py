"""Loyalty programs (profile and card ledgers, their transactions and points, cards) and achievements.

Today's spec (talon_one_openapi-v25.17.0.yaml), under /v1/ and /v2/ alike. The reads of balances, points
and achievements may be seconds old without harm: they opt in to the read cache (`READ_CACHE_SECONDS`,
core/read_cache.py), as the vendor's Shopify app keeps a customer's inventory about 10 s. Transactions are
read fresh (a shop shows them after an order). Writes on a profile are in that profile's order (its FIFO
group); a card's, in the card's.
"""

from __future__ import annotations

from talon_relay.operations.operation import READ_CACHE_SECONDS, Contract, Delivery, Deployment, Operation, QueryParam

# --- the parameters as the spec types them --------------------------------------------------------

PROGRAM = QueryParam("loyaltyProgramId", "integer")
CARD = QueryParam("loyaltyCardId", "string", minimum=4, maximum=108)
ACHIEVEMENT = QueryParam("achievementId", "integer")
_SUBLEDGER = QueryParam("subledgerId", "string")
_SUBLEDGERS = QueryParam("subledgerId", "list")
_SESSIONS = QueryParam("customerSessionIDs", "list")
_TRANSACTIONS = QueryParam("transactionUUIDs", "list")
_SKIP = QueryParam("skip", "integer")
_START, _END = QueryParam("startDate", "date-time"), QueryParam("endDate", "date-time")
_TYPE = QueryParam("loyaltyTransactionType", "string", values=("manual", "session", "import"))
_AWAITS = QueryParam("awaitsActivation", "boolean")
_POINTS_STATUS = QueryParam("status", "string", values=("active", "pending", "expired"))
_SORT = QueryParam("sort", "string", values=("startDate", "expiryDate"))


def _page(largest: int) -> QueryParam:
    return QueryParam("pageSize", "integer", minimum=1, maximum=largest)


_EXAMPLES = {"loyaltyProgramId": "1", "integrationId": "p-1"}
_CARD_EXAMPLES = {"loyaltyProgramId": "2", "loyaltyCardId": "CARD-0001"}

# --- profile ledgers --------------------------------------------------------------------------------

GET_LOYALTY_BALANCES = Operation(
    Contract(
        name="getLoyaltyBalances",
        method="GET",
        path="/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/balances",
        response="wire.loyalty:LoyaltyBalancesWithTiers",
        query_params=(
            _END,
            _SUBLEDGER,
            QueryParam("includeTiers", "boolean"),
            QueryParam("includeProjectedTier", "boolean"),
        ),
        path_checks=(PROGRAM,),
        examples=_EXAMPLES,
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)

GET_LOYALTY_PROGRAM_PROFILE_POINTS = Operation(
    Contract(
        name="getLoyaltyProgramProfilePoints",
        method="GET",
        path="/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/points",
        response="wire.loyalty:GetLoyaltyProgramProfilePoints200Response",
        # subledgerId: one string in the May 2026 spec, an array in June's (tests/contract/test_loyalty.py)
        query_params=(_POINTS_STATUS, _SUBLEDGER, _SESSIONS, _TRANSACTIONS, _page(1000), _SKIP, _SORT),
        path_checks=(PROGRAM,),
        examples=_EXAMPLES,
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)

GET_LOYALTY_PROGRAM_PROFILE_TRANSACTIONS = Operation(
    Contract(
        name="getLoyaltyProgramProfileTransactions",
        method="GET",
        path="/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/transactions",
        response="wire.loyalty:GetLoyaltyProgramProfileTransactions200Response",
        query_params=(_SESSIONS, _TRANSACTIONS, _SUBLEDGER, _TYPE, _START, _END, _page(1000), _SKIP, _AWAITS),
        path_checks=(PROGRAM,),
        examples=_EXAMPLES,
    ),
    Delivery(),
)

ACTIVATE_LOYALTY_POINTS = Operation(
    Contract(
        name="activateLoyaltyPoints",
        method="POST",
        path="/v1/loyalty_programs/{loyaltyProgramId}/activate_points",
        body="wire.loyalty:ActivateLoyaltyPoints",
        response="wire.loyalty:ActivateLoyaltyPointsResponse",
        body_required=True,
        path_checks=(PROGRAM,),
        examples={"loyaltyProgramId": "1"},
    ),
    # a program's points, not one customer's: a standard queue
    Delivery(),
)

DELETE_LOYALTY_TRANSACTIONS_FROM_LEDGERS = Operation(
    Contract(
        name="deleteLoyaltyTransactionsFromLedgers",
        method="POST",
        path="/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/delete_transactions",
        body="wire.loyalty:DeleteLoyaltyTransactionsRequest",
        success_status=204,
        body_required=True,
        path_checks=(PROGRAM,),
        examples=_EXAMPLES,
    ),
    Delivery(group_by="integrationId"),
    # shorter than the operationId: its FIFO queues' names keep the stack-name limit (docs/deploying.md)
    Deployment(function="delete_ledger_entries"),
)

# --- cards ------------------------------------------------------------------------------------------

GENERATE_LOYALTY_CARD = Operation(
    Contract(
        name="generateLoyaltyCard",
        method="POST",
        path="/v1/loyalty_programs/{loyaltyProgramId}/cards",
        body="wire.loyalty:GenerateLoyaltyCard",
        response="wire.loyalty:LoyaltyCard",
        body_required=True,
        path_checks=(PROGRAM,),
        examples={"loyaltyProgramId": "2"},
    ),
    Delivery(),
)

LINK_LOYALTY_CARD_TO_PROFILE = Operation(
    Contract(
        name="linkLoyaltyCardToProfile",
        method="POST",
        path="/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/link_profile",
        body="wire.loyalty:LoyaltyCardRegistration",
        response="wire.loyalty:LoyaltyCard",
        body_required=True,
        path_checks=(PROGRAM, CARD),
        examples=_CARD_EXAMPLES,
    ),
    Delivery(group_by="loyaltyCardId"),
    Deployment(function="link_loyalty_card"),
)

UNLINK_LOYALTY_CARD_FROM_PROFILE = Operation(
    Contract(
        name="unlinkLoyaltyCardFromProfile",
        method="POST",
        path="/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/unlink_profile",
        body="wire.loyalty:LoyaltyCardRegistration",
        response="wire.loyalty:LoyaltyCard",
        body_required=True,
        path_checks=(PROGRAM, CARD),
        examples=_CARD_EXAMPLES,
    ),
    Delivery(group_by="loyaltyCardId"),
    Deployment(function="unlink_loyalty_card"),
)

GET_LOYALTY_CARD_BALANCES = Operation(
    Contract(
        name="getLoyaltyCardBalances",
        method="GET",
        path="/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/balances",
        response="wire.loyalty:LoyaltyCardBalances",
        query_params=(_END, _SUBLEDGERS),
        path_checks=(PROGRAM, CARD),
        examples=_CARD_EXAMPLES,
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)

GET_LOYALTY_CARD_POINTS = Operation(
    Contract(
        name="getLoyaltyCardPoints",
        method="GET",
        path="/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/points",
        response="wire.loyalty:GetLoyaltyCardPoints200Response",
        query_params=(_POINTS_STATUS, _SUBLEDGERS, _SESSIONS, _TRANSACTIONS, _page(1000), _SKIP, _SORT),
        path_checks=(PROGRAM, CARD),
        examples=_CARD_EXAMPLES,
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)

GET_LOYALTY_CARD_TRANSACTIONS = Operation(
    Contract(
        name="getLoyaltyCardTransactions",
        method="GET",
        path="/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/transactions",
        response="wire.loyalty:GetLoyaltyCardTransactions200Response",
        query_params=(_SUBLEDGERS, _TYPE, _START, _END, _SESSIONS, _TRANSACTIONS, _page(1000), _SKIP, _AWAITS),
        path_checks=(PROGRAM, CARD),
        examples=_CARD_EXAMPLES,
    ),
    Delivery(),
)

# --- achievements -----------------------------------------------------------------------------------

GET_CUSTOMER_ACHIEVEMENTS = Operation(
    Contract(
        name="getCustomerAchievements",
        method="GET",
        path="/v1/customer_profiles/{integrationId}/achievements",
        response="wire.loyalty:GetCustomerAchievements200Response",
        query_params=(
            QueryParam("campaignIds", "list"),
            QueryParam("achievementIds", "list"),
            QueryParam("achievementStatus", "list", values=("active", "scheduled")),
            QueryParam("currentProgressStatus", "list", values=("inprogress", "completed", "not_started")),
            _page(1000),
            _SKIP,
        ),
        examples={"integrationId": "p-1"},
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)

GET_CUSTOMER_ACHIEVEMENT_HISTORY = Operation(
    Contract(
        name="getCustomerAchievementHistory",
        method="GET",
        path="/v1/customer_profiles/{integrationId}/achievements/{achievementId}",
        response="wire.loyalty:GetCustomerAchievementHistory200Response",
        query_params=(
            QueryParam("progressStatus", "list", values=("inprogress", "completed", "expired")),
            _START,
            _END,
            _page(1000),
            _SKIP,
        ),
        path_checks=(ACHIEVEMENT,),
        examples={"integrationId": "p-1", "achievementId": "1"},
    ),
    Delivery(cache_seconds=READ_CACHE_SECONDS),
)
