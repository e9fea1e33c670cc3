"""THE operation table: every Integration API operation the relay serves, as data.

Everything that differs between operations is here and nowhere else. Each entry (`operation.Operation`)
is its API contract (route, parameters, models, success status), its delivery (queue order, schedule,
webhook platform) and its deployment (function). The client, the trigger adapters, `template.yaml`, the
functions' handler modules and the sample events (`make generate`), the local stack, the bench and the
tests all read it.

The table is split by API area, one module each: `sessions`, `profiles`, `events`, `referrals`,
`customer_data`, `catalogs`, `audiences`, `coupons`, `loyalty` (loyalty programs, cards and achievements), and
`receivers` (webhook receivers). Every `Operation` bound at the top level of an area module is an entry.
Adding an operation: docs/extending.md.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from talon_relay.errors import InvalidRequest
from talon_relay.operations import (
    audiences,
    catalogs,
    coupons,
    customer_data,
    events,
    loyalty,
    profiles,
    receivers,
    referrals,
    sessions,
)
from talon_relay.operations.customer_data import DELETE_CUSTOMER_DATA
from talon_relay.operations.events import TRACK_EVENT, TRACK_EVENT_V2
from talon_relay.operations.operation import (
    V1_EFFECTS,
    V2_EFFECTS,
    Contract,
    Delivery,
    Deployment,
    Operation,
    QueryParam,
)
from talon_relay.operations.profiles import UPDATE_CUSTOMER_PROFILE, UPDATE_CUSTOMER_PROFILE_V2
from talon_relay.operations.receivers import SHOPIFY_WEBHOOK, TALON_ONE_WEBHOOK
from talon_relay.operations.referrals import CREATE_REFERRAL
from talon_relay.operations.sessions import UPDATE_CUSTOMER_SESSION, UPDATE_CUSTOMER_SESSION_V2
from talon_relay.wire import load_model

__all__ = [
    "CREATE_REFERRAL",
    "DELETE_CUSTOMER_DATA",
    "OPERATIONS",
    "OPERATION_ATTRIBUTE",
    "SHOPIFY_WEBHOOK",
    "TALON_ONE_WEBHOOK",
    "TRACK_EVENT",
    "TRACK_EVENT_V2",
    "UPDATE_CUSTOMER_PROFILE",
    "UPDATE_CUSTOMER_PROFILE_V2",
    "UPDATE_CUSTOMER_SESSION",
    "UPDATE_CUSTOMER_SESSION_V2",
    "V1_EFFECTS",
    "V2_EFFECTS",
    "Contract",
    "Delivery",
    "Deployment",
    "Operation",
    "QueryParam",
    "carried_by",
    "load_model",
    "operation_of",
]

#: The area modules, in the table's order.
AREAS: tuple[ModuleType, ...] = (
    sessions,
    profiles,
    events,
    referrals,
    customer_data,
    catalogs,
    audiences,
    coupons,
    loyalty,
    receivers,
)


def _gather(areas: tuple[ModuleType, ...]) -> dict[str, Operation]:
    table: dict[str, Operation] = {}
    for area in areas:
        for value in vars(area).values():
            if isinstance(value, Operation) and table.setdefault(value.name, value) is not value:
                raise ValueError(f"two entries are named {value.name}")
    return table


OPERATIONS: dict[str, Operation] = _gather(AREAS)


#: The message attribute naming the operation of a message on a shared queue (docs/api.md): the queue
#: carries several operations' messages, one order per customer across them.
OPERATION_ATTRIBUTE = "relayOperation"


def carried_by(consumer: Operation, name: str | None) -> Operation | None:
    """The operation of a message handed to `consumer`'s function that names `name` (its `relayOperation`):
    on a shared queue, the entry it names, which that queue must carry (None: it names none of them);
    without a name, or on a queue of its own, the function's own operation."""
    if consumer.shared_queue is None or (consumer.webhook is not None and consumer.own_queue) or name is None:
        return consumer
    target = OPERATIONS.get(name)
    if target is None or target.shared_queue != consumer.shared_queue or not target.queued:
        return None
    return target


def operation_of(consumer: Operation, attributes: dict[str, Any] | None) -> Operation:
    """The operation a record handed to `consumer`'s function is for: on a shared queue (the sessions queue)
    the one its `relayOperation` attribute names, without one the function's own (docs/api.md); a name the
    queue does not carry is an InvalidRequest (a dead letter) saying so."""
    found = (attributes or {}).get(OPERATION_ATTRIBUTE)
    name = found.get("stringValue") if isinstance(found, dict) else None
    target = carried_by(consumer, name if isinstance(name, str) else None)
    if target is None:
        raise InvalidRequest.single(
            "Invalid message",
            f"{OPERATION_ATTRIBUTE} {str(name)[:80]!r} names no operation of the {consumer.shared_queue} queue",
            parameter=OPERATION_ATTRIBUTE,
        )
    return target
