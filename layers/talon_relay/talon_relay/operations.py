"""THE operation table: every Integration API operation the relay serves, as data.

Everything that differs between operations is here and nowhere else: route, method, path and
query parameters, request and response models, success status, how its queue orders work, and the
function that serves it. The client, the trigger adapters, `template.yaml` (rendered from this
table), the local stack, the bench and the tests all read it.

Adding an operation: one entry below, its folder `functions/<function>/` (a three-line handler),
its sample events `events/<function>/`, then `make template` to render `template.yaml` and
`make checkers` to write its body's checker (`checkers.json`).

A webhook receiver (`webhook` set: a commerce platform's signed webhooks, e.g. Shopify's) is an entry
too: its route on the relay's API, its function and its FIFO queue come from the table like any
other's; what each of the platform's topics becomes is data, the mapping files of
`talon_relay/webhooks/<platform>/topics/` (docs/webhooks.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from pydantic import BaseModel

    from talon_relay.wire.base import RequestModel, ResponseModel


@cache
def load_model(ref: str) -> type[BaseModel]:
    """The model a table entry names as "module:Class" (a module of talon_relay), imported now.

    Library use and tests: the functions check bodies with `checkers` and never import a model.
    """
    from pydantic import BaseModel

    module, _, name = ref.partition(":")
    model = getattr(importlib.import_module(f"talon_relay.{module}"), name)
    assert isinstance(model, type) and issubclass(model, BaseModel), ref
    return model


@dataclass(frozen=True)
class QueryParam:
    """A query parameter the operation takes: `boolean` (true/false), `yes-no` or `date-time`."""

    name: str
    kind: Literal["boolean", "yes-no", "date-time"]


#: Where an IntegrationState (v1) and an IntegrationStateV2 keep their effects.
V1_EFFECTS = ("event", "effects")
V2_EFFECTS = ("effects",)


@dataclass(frozen=True)
class Operation:
    #: The spec's operationId.
    name: str
    method: str
    #: Route template, e.g. `/v1/customer_sessions/{customerSessionId}`.
    path: str
    #: Path parameters by their spec names, in path order.
    path_params: tuple[str, ...]
    #: The request body's model as "module:Class" (None: the operation takes no body). The functions
    #: check bodies with its checker (`checkers`); `body_model` imports the model (library use).
    body: str | None
    #: The model of a successful answer, likewise (None: not modelled, or no body, e.g. 204).
    response: str | None
    success_status: int
    #: Folder under functions/ (and the handler module's name) of the Lambda function serving it.
    function: str
    #: Per-customer order: the spec name of the path parameter or body field that identifies the
    #: customer, whose messages form one FIFO message group. None: a standard queue.
    group_by: str | None = None
    #: Whether its queue is drained by the off-peak schedule instead of an SQS event source mapping.
    schedule: bool = False
    #: Whether each request replaces what the one before left for the same customer (session and profile
    #: updates): on its FIFO queue an update older than one already applied is then never applied over
    #: it (ordering.py). Not for events: a late event is still an event, and is tracked.
    last_write_wins: bool = False
    #: Whether a request must carry a body (v1 bodies are optional in the spec, v2 ones required).
    body_required: bool = False
    query_params: tuple[QueryParam, ...] = ()
    #: Where the answer holds its effects and the ids logged with them (None: it has no effects).
    effects_at: tuple[str, ...] | None = None
    session_at: tuple[str, ...] = ()
    profile_at: tuple[str, ...] = ()
    #: A webhook receiver: the platform whose signed webhooks it takes (its signature scheme, its
    #: secret `<Platform>WebhookSecret` and its mapping files `talon_relay/webhooks/<platform>/topics/`).
    #: Its function verifies and queues each webhook (storage-first), then its SQS consumer runs the
    #: Talon.One operations the topic's mapping names, in order. None: an Integration API operation.
    webhook: str | None = None

    @property
    def fifo(self) -> bool:
        # a webhook's queue is FIFO, grouped by its topic mapping's `group` (the customer's cart,
        # session or profile), so one customer's webhooks reach Talon.One in the order they came
        return self.group_by is not None or self.webhook is not None

    @property
    def key_api(self) -> bool:
        """Whether the route is also on RelayKeyApi (API Gateway checks an x-api-key header).

        Not for webhook receivers: a platform such as Shopify sends no header of the sender's
        choosing, and its own signature is the authentication, checked by the function.
        """
        return self.webhook is None

    @property
    def body_model(self) -> type[RequestModel] | None:
        return None if self.body is None else load_model(self.body)  # type: ignore[return-value]

    @property
    def response_model(self) -> type[ResponseModel] | None:
        return None if self.response is None else load_model(self.response)  # type: ignore[return-value]

    def canonical_path(self, params: dict[str, str] | None, query: dict[str, str] | None = None) -> str:
        """The request path with each parameter percent-encoded as one segment, and the query
        parameters sorted by name (what is signed, and what is sent to Talon.One).

        Lenient on purpose (a missing parameter is an empty segment): it is computed to check a
        signature before the parameters are validated.
        """
        params = params or {}
        path = self.path.format(
            **{name: quote(str(params.get(name) or ""), safe="", errors="surrogatepass") for name in self.path_params}
        )
        if query:
            path += "?" + urlencode(sorted(query.items()), quote_via=quote, safe="")
        return path


UPDATE_CUSTOMER_SESSION = Operation(
    name="updateCustomerSession",
    method="PUT",
    path="/v1/customer_sessions/{customerSessionId}",
    path_params=("customerSessionId",),
    body="wire.models:NewCustomerSession",
    response="wire.responses:IntegrationState",
    success_status=200,
    function="update_customer_session",
    group_by="customerSessionId",
    last_write_wins=True,
    profile_at=("profile", "integrationId"),
    effects_at=V1_EFFECTS,
    session_at=("session", "integrationId"),
)

UPDATE_CUSTOMER_PROFILE = Operation(
    name="updateCustomerProfile",
    method="PUT",
    path="/v1/customer_profiles/{integrationId}",
    path_params=("integrationId",),
    body="wire.models:NewCustomerProfile",
    response="wire.responses:IntegrationState",
    success_status=200,
    function="update_customer_profile",
    group_by="integrationId",
    last_write_wins=True,
    profile_at=("profile", "integrationId"),
    effects_at=V1_EFFECTS,
    session_at=("session", "integrationId"),
)

TRACK_EVENT = Operation(
    name="trackEvent",
    method="POST",
    path="/v1/events",
    path_params=(),
    body="wire.models:NewEvent",
    response="wire.responses:IntegrationState",
    success_status=201,
    function="track_event",
    group_by="sessionId",
    body_required=True,
    profile_at=("profile", "integrationId"),
    effects_at=V1_EFFECTS,
    session_at=("session", "integrationId"),
)

CREATE_REFERRAL = Operation(
    name="createReferral",
    method="POST",
    path="/v1/referrals",
    path_params=(),
    body="wire.models:NewReferral",
    response="wire.responses:Referral",
    success_status=201,
    function="create_referral",
    body_required=True,
)

DELETE_CUSTOMER_DATA = Operation(
    name="deleteCustomerData",
    method="DELETE",
    path="/v1/customer_data/{integrationId}",
    path_params=("integrationId",),
    body=None,
    response=None,
    success_status=204,
    function="delete_customer_data",
    schedule=True,
)

# --- today's API (May 2026): v2 session, profile and event --------------------------------------

UPDATE_CUSTOMER_SESSION_V2 = Operation(
    name="updateCustomerSessionV2",
    method="PUT",
    path="/v2/customer_sessions/{customerSessionId}",
    path_params=("customerSessionId",),
    body="wire.models_v2:IntegrationRequest",
    response=None,
    success_status=200,
    function="update_customer_session_v2",
    group_by="customerSessionId",
    last_write_wins=True,
    body_required=True,
    query_params=(QueryParam("dry", "boolean"), QueryParam("now", "date-time")),
    profile_at=("customerSession", "profileId"),
    effects_at=V2_EFFECTS,
    session_at=("customerSession", "integrationId"),
)

UPDATE_CUSTOMER_PROFILE_V2 = Operation(
    name="updateCustomerProfileV2",
    method="PUT",
    path="/v2/customer_profiles/{integrationId}",
    path_params=("integrationId",),
    body="wire.models_v2:CustomerProfileIntegrationRequestV2",
    response=None,
    success_status=200,
    function="update_customer_profile_v2",
    group_by="integrationId",
    last_write_wins=True,
    body_required=True,
    query_params=(QueryParam("runRuleEngine", "boolean"), QueryParam("dry", "boolean")),
    profile_at=("customerProfile", "integrationId"),
    effects_at=V2_EFFECTS,
    session_at=("customerSession", "integrationId"),
)

TRACK_EVENT_V2 = Operation(
    name="trackEventV2",
    method="POST",
    path="/v2/events",
    path_params=(),
    body="wire.models_v2:IntegrationEventV2Request",
    response=None,
    # 200 with the answer when silent=no; 204 without a body otherwise (silent defaults to yes)
    success_status=200,
    function="track_event_v2",
    group_by="profileId",
    body_required=True,
    query_params=(
        QueryParam("silent", "yes-no"),
        QueryParam("dry", "boolean"),
        QueryParam("forceCompleteEvaluation", "boolean"),
    ),
    effects_at=V2_EFFECTS,
    profile_at=("customerProfile", "integrationId"),
)

# --- webhook receivers: a platform's webhooks, mapped to the operations above ------------------------

SHOPIFY_WEBHOOK = Operation(
    name="shopifyWebhook",
    method="POST",
    path="/webhooks/shopify",
    path_params=(),
    body=None,  # the platform's own JSON, verified and queued as sent; the mappings read it
    response=None,
    success_status=200,
    function="shopify_webhook",
    webhook="shopify",
)

# Talon.One's notifications, queued as sent and published on the bus (docs/events.md)
TALON_ONE_WEBHOOK = replace(SHOPIFY_WEBHOOK, name="talonOneWebhook", path="/webhooks/talon-one", webhook="talon_one")
TALON_ONE_WEBHOOK = replace(TALON_ONE_WEBHOOK, function="talon_one_webhook")

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        UPDATE_CUSTOMER_SESSION,
        UPDATE_CUSTOMER_PROFILE,
        TRACK_EVENT,
        CREATE_REFERRAL,
        DELETE_CUSTOMER_DATA,
        UPDATE_CUSTOMER_SESSION_V2,
        UPDATE_CUSTOMER_PROFILE_V2,
        TRACK_EVENT_V2,
        SHOPIFY_WEBHOOK,
        TALON_ONE_WEBHOOK,
    )
}
