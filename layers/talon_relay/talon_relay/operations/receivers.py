"""Webhook receivers: a commerce platform's signed webhooks, mapped to the operations of the other areas.

A receiver is an entry like any other (its route on RelayApi only, its function, its FIFO queue), made
by `receiver` from the platform's name alone; what each of the platform's topics becomes is data, the
mapping files of `talon_relay/webhooks/<platform>/topics/` (docs/extending.md, "Adding a webhook
platform").
"""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Delivery, Operation


def receiver(platform: str) -> Operation:
    """The receiver of `platform`'s webhooks: POST /webhooks/<platform>, function <platform>_webhook."""
    return Operation(
        # the platform's own JSON, verified and queued as sent (no body model: the mappings read it)
        Contract(name=f"{platform}Webhook", method="POST", path=f"/webhooks/{platform}", success_status=200),
        Delivery(webhook=platform),
    )


SHOPIFY_WEBHOOK = receiver("shopify")
