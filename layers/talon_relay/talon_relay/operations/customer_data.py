"""Customer data: a customer's erasure, queued for the off-peak schedule (a webhook's too: customers/redact)."""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Delivery, Operation

DELETE_CUSTOMER_DATA = Operation(
    Contract(
        name="deleteCustomerData",
        method="DELETE",
        path="/v1/customer_data/{integrationId}",
        success_status=204,
        examples={"integrationId": "p-1"},
    ),
    Delivery(schedule=True, webhook_steps_queued=True),
)
