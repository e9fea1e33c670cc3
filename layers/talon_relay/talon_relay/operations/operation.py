"""The shape of an entry of the operation table: its API contract, its delivery, its deployment.

- `Contract`: what Talon.One's Integration API says of the operation, item by item as the vendor's
  spec has it: operationId, method, path (its parameters follow from it), query parameters, request
  and response models, success status, whether a body is required, and where its answer holds the
  effects and the ids logged with them. A contract test holds each entry to the spec.
- `Delivery`: how the relay's queue carries it: the customer whose messages form one FIFO group, whether
  a later update supersedes an earlier one, whether the off-peak schedule drains the queue, for a
  webhook receiver the platform whose webhooks it takes, and the queue several operations share.
- `Deployment`: what is deployed for it: the function (its folder under functions/), rarely its logical id.

`Operation` composes the three, read as one flat record (`operation.path`, `operation.function`, ...).

Every function imports the table on its cold start: only `Contract` is a dataclass (its path parameters
worked out once), the other parts are named tuples, a tenth of a dataclass's cost to define.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import quote, urlencode

from talon_relay.wire import load_model

if TYPE_CHECKING:
    from talon_relay.wire.base import RequestModel, ResponseModel


class QueryParam(NamedTuple):
    """A parameter as the spec types it: `boolean` (true/false), `yes-no`, `date-time`, `integer` (within
    `minimum`..`maximum`), `string` (one of `values`; `minimum`..`maximum` characters) or `list` (an array:
    one value per request, its comma-separated items each one of `values` when given). A query parameter,
    or (`Contract.path_checks`) a path parameter that is more than any text."""

    name: str
    kind: Literal["boolean", "yes-no", "date-time", "integer", "string", "list"]
    values: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None


#: Seconds a read that may be a little old (balances, points, achievements, the inventory) is kept per caller
#: and customer, as the vendor's Shopify app keeps the inventory (core/read_cache.py).
READ_CACHE_SECONDS = 10.0
#: Where an IntegrationState (v1) and an IntegrationStateV2 keep their effects.
V1_EFFECTS = ("event", "effects")
V2_EFFECTS = ("effects",)


def snake_case(name: str) -> str:
    """updateCustomerSessionV2 -> update_customer_session_v2 (a function's folder and module name)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@dataclass(frozen=True)
class Contract:
    """The operation as Talon.One's Integration API defines it."""

    #: The spec's operationId.
    name: str
    method: str
    #: Route template, e.g. `/v1/customer_sessions/{customerSessionId}`.
    path: str
    #: The request body's model as "module:Class" (None: no body), checked by its checker (`checkers`;
    #: `body_model` imports it, library use); its `examples` are the sample events' bodies.
    body: str | None = None
    #: The model of a successful answer, likewise (None: not modelled, or no body, e.g. 204).
    response: str | None = None
    success_status: int = 200
    #: Whether a request must carry a body (v1 bodies are optional in the spec, v2 ones required).
    body_required: bool = False
    query_params: tuple[QueryParam, ...] = ()
    #: Path parameters the spec types beyond text (an int64 program id, a card id of 4 to 108 characters).
    path_checks: tuple[QueryParam, ...] = ()
    #: Where the answer holds its effects and the ids logged with them (None: it has no effects).
    effects_at: tuple[str, ...] | None = None
    session_at: tuple[str, ...] = ()
    profile_at: tuple[str, ...] = ()
    #: The header Talon.One reads an idempotency key from (returnCartItems: `Idempotency-Key`, 24 hours): the
    #: relay forwards the caller's key in it, else its own (a message's, a webhook step's, the request's id).
    idempotency_header: str | None = None
    #: Sample values of path and query parameters (the sample events send them; documentation only).
    examples: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: Path parameters by their spec names, in path order (from `path`).
    path_params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(part.split("}", 1)[0] for part in self.path.split("{")[1:])
        object.__setattr__(self, "path_params", names)


class Delivery(NamedTuple):
    """How the operation's queue carries its requests."""

    #: Per-customer order: the path parameter or body field (spec name) naming the customer, whose messages
    #: form one FIFO group. None: a standard queue.
    group_by: str | None = None
    #: Whether each request replaces what the one before left for the same customer (session and profile
    #: updates): an update older than one already applied is never applied over it (ordering.py; not events).
    last_write_wins: bool = False
    #: Whether its queue is drained by the off-peak schedule instead of an SQS event source mapping.
    schedule: bool = False
    #: One FIFO group for the whole operation, for a write touching many customers at once (bulk profiles,
    #: audience memberships): applied one at a time, in order, as two may name the same customer.
    group: str | None = None
    #: A read sent as POST (bestPriorPrice): answered at once like a GET, with no queue.
    read: bool = False
    #: A webhook receiver: the platform whose signed webhooks it takes (its signature scheme, its secret
    #: `<Platform>WebhookSecret`, its mapping files `talon_relay/webhooks/<platform>/topics/`), verified and
    #: queued (storage-first), then mapped to Talon.One operations in order. None: an Integration API one.
    webhook: str | None = None
    #: A FIFO queue several operations share (`sessions`, docs/lifecycle.md), and whether this entry's function
    #: is the one that consumes it (the others only send to it, each message naming its operation).
    shared_queue: str | None = None
    consumes: bool = False
    #: A read whose answer may be this many seconds old without harm (loyalty balances, achievements):
    #: kept per container and per caller and customer (core/read_cache.py). 0: never kept; never a write.
    cache_seconds: float = 0
    #: Whether a batch of one FIFO group's queued requests is coalesced into as few calls as the operation's
    #: rules allow (syncCatalog: core/coalescing.py); each message keeps its own disposition.
    coalesce: bool = False
    #: A webhook's mapped step of it is queued on its own queue, not called (receivers: STEP_QUEUE_URLS).
    webhook_steps_queued: bool = False


class Deployment(NamedTuple):
    """What is deployed for the operation."""

    #: Folder under functions/ (and the handler module's name) of its Lambda function; None: the
    #: operationId in snake case (updateCustomerSessionV2 -> update_customer_session_v2). Its resources'
    #: logical ids follow it, so a long operationId names a shorter function where its FIFO dead-letter
    #: queue's generated name would leave the stack name too little room (`make preflight`).
    function: str | None = None


class Operation(NamedTuple):
    """An entry of the table: its contract, its delivery, its deployment, read as one flat record."""

    contract: Contract
    delivery: Delivery = Delivery()
    deployment: Deployment = Deployment()

    # --- the contract -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def method(self) -> str:
        return self.contract.method

    @property
    def path(self) -> str:
        return self.contract.path

    @property
    def path_params(self) -> tuple[str, ...]:
        return self.contract.path_params

    @property
    def query_params(self) -> tuple[QueryParam, ...]:
        return self.contract.query_params

    @property
    def path_checks(self) -> tuple[QueryParam, ...]:
        return self.contract.path_checks

    @property
    def body(self) -> str | None:
        return self.contract.body

    @property
    def response(self) -> str | None:
        return self.contract.response

    @property
    def success_status(self) -> int:
        return self.contract.success_status

    @property
    def body_required(self) -> bool:
        return self.contract.body_required

    @property
    def effects_at(self) -> tuple[str, ...] | None:
        return self.contract.effects_at

    @property
    def session_at(self) -> tuple[str, ...]:
        return self.contract.session_at

    @property
    def profile_at(self) -> tuple[str, ...]:
        return self.contract.profile_at

    @property
    def idempotency_header(self) -> str | None:
        return self.contract.idempotency_header

    @property
    def body_model(self) -> type[RequestModel] | None:
        return None if self.body is None else load_model(self.body)  # type: ignore[return-value]

    @property
    def response_model(self) -> type[ResponseModel] | None:
        return None if self.response is None else load_model(self.response)  # type: ignore[return-value]

    # --- the delivery -----------------------------------------------------------------------------

    @property
    def group_by(self) -> str | None:
        return self.delivery.group_by

    @property
    def last_write_wins(self) -> bool:
        return self.delivery.last_write_wins

    @property
    def schedule(self) -> bool:
        return self.delivery.schedule

    @property
    def webhook(self) -> str | None:
        return self.delivery.webhook

    @property
    def shared_queue(self) -> str | None:
        return self.delivery.shared_queue

    @property
    def polls(self) -> bool:  # its function polls a queue: its own, or the shared queue it consumes
        return self.queued and (self.shared_queue is None or self.webhook is not None or self.delivery.consumes)

    @property
    def own_queue(self) -> bool:  # a shared queue's member has none; a webhook receiver keeps its own
        return self.queued and (self.shared_queue is None or self.webhook is not None)

    @property
    def group(self) -> str | None:
        return self.delivery.group

    @property
    def cache_seconds(self) -> float:
        """Seconds its answer may be kept (a GET's only: a write is never answered from a cache)."""
        return self.delivery.cache_seconds if self.method.upper() == "GET" else 0

    @property
    def coalesce(self) -> bool:
        return self.delivery.coalesce

    @property
    def webhook_steps_queued(self) -> bool:
        return self.delivery.webhook_steps_queued

    @property
    def queued(self) -> bool:
        """Whether the operation has a queue (its own SQS queue and dead-letter queue, an SQS event source,
        `Prefer: respond-async`). Not a GET (a read, no body), nor a read sent as POST (`Delivery.read`): its
        answer is what the caller asked for, so it is answered at once, and the function is deployed with no
        queue and no sqs:* permission."""
        return self.method.upper() != "GET" and not self.delivery.read

    @property
    def fifo(self) -> bool:
        # a webhook's queue is FIFO, grouped by its topic mapping's `group` (the customer's cart,
        # session or profile), so one customer's webhooks reach Talon.One in the order they came
        return any(part is not None for part in (self.group_by, self.group, self.webhook, self.shared_queue))

    @property
    def key_api(self) -> bool:
        """Whether the route is also on RelayKeyApi (API Gateway checks an x-api-key header).

        Not for webhook receivers: a platform such as Shopify sends no header of the sender's
        choosing, and its own signature is the authentication, checked by the function.
        """
        return self.webhook is None

    # --- the deployment ---------------------------------------------------------------------------

    @property
    def function(self) -> str:
        return self.deployment.function or snake_case(self.name)

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
            path += "?" + urlencode(sorted(query.items()), quote_via=quote, safe="", errors="surrogatepass")
        return path
