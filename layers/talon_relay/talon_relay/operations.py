"""THE operation table: every Integration API operation the relay serves, as data.

Everything that differs between operations is here and nowhere else: route, method, path and
query parameters, request and response models, success status, how its queue orders work, and the
function that serves it. The client, the trigger adapters, `template.yaml` (rendered from this
table), the local stack, the bench and the tests all read it.

Adding an operation: one entry below, its folder `functions/<function>/` (a three-line handler),
its sample events `events/<function>/`, then `make template` to render `template.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from talon_relay.models import (
    IntegrationState,
    NewCustomerProfile,
    NewCustomerSession,
    NewEvent,
    NewReferral,
    Referral,
    RequestModel,
    ResponseModel,
)


@dataclass(frozen=True)
class Operation:
    #: The spec's operationId.
    name: str
    method: str
    #: Route template, e.g. `/v1/customer_sessions/{customerSessionId}`.
    path: str
    #: Path parameters by their spec names, in path order.
    path_params: tuple[str, ...]
    #: The request body's model (None: the operation takes no body).
    body_model: type[RequestModel] | None
    #: The model of a successful answer (None: no body, e.g. 204).
    response_model: type[ResponseModel] | None
    success_status: int
    #: Folder under functions/ (and the handler module's name) of the Lambda function serving it.
    function: str
    #: Per-customer order: the spec name of the path parameter or body field that identifies the
    #: customer, whose messages form one FIFO message group. None: a standard queue.
    group_by: str | None = None
    #: Whether its queue is drained by the off-peak schedule instead of an SQS event source mapping.
    schedule: bool = False

    @property
    def fifo(self) -> bool:
        return self.group_by is not None

    def canonical_path(self, params: dict[str, str] | None) -> str:
        """The request path with each parameter percent-encoded as one segment (what is signed).

        Lenient on purpose (a missing parameter is an empty segment): it is computed to check a
        signature before the parameters are validated.
        """
        params = params or {}
        return self.path.format(
            **{name: quote(str(params.get(name) or ""), safe="", errors="surrogatepass") for name in self.path_params}
        )


UPDATE_CUSTOMER_SESSION = Operation(
    name="updateCustomerSession",
    method="PUT",
    path="/v1/customer_sessions/{customerSessionId}",
    path_params=("customerSessionId",),
    body_model=NewCustomerSession,
    response_model=IntegrationState,
    success_status=200,
    function="update_customer_session",
    group_by="customerSessionId",
)

UPDATE_CUSTOMER_PROFILE = Operation(
    name="updateCustomerProfile",
    method="PUT",
    path="/v1/customer_profiles/{integrationId}",
    path_params=("integrationId",),
    body_model=NewCustomerProfile,
    response_model=IntegrationState,
    success_status=200,
    function="update_customer_profile",
    group_by="integrationId",
)

TRACK_EVENT = Operation(
    name="trackEvent",
    method="POST",
    path="/v1/events",
    path_params=(),
    body_model=NewEvent,
    response_model=IntegrationState,
    success_status=201,
    function="track_event",
    group_by="sessionId",
)

CREATE_REFERRAL = Operation(
    name="createReferral",
    method="POST",
    path="/v1/referrals",
    path_params=(),
    body_model=NewReferral,
    response_model=Referral,
    success_status=201,
    function="create_referral",
)

DELETE_CUSTOMER_DATA = Operation(
    name="deleteCustomerData",
    method="DELETE",
    path="/v1/customer_data/{integrationId}",
    path_params=("integrationId",),
    body_model=None,
    response_model=None,
    success_status=204,
    function="delete_customer_data",
    schedule=True,
)

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        UPDATE_CUSTOMER_SESSION,
        UPDATE_CUSTOMER_PROFILE,
        TRACK_EVENT,
        CREATE_REFERRAL,
        DELETE_CUSTOMER_DATA,
    )
}
