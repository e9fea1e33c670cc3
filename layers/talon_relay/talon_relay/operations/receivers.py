"""Webhook receivers: a commerce platform's signed webhooks, mapped to the operations of the other areas.

A receiver is an entry like any other (its route on RelayApi only, its function, its FIFO queue), made
by `receiver` from the platform's name alone; what each of the platform's topics becomes is data, the
mapping files of `talon_relay/webhooks/<platform>/topics/` (docs/extending.md, "Adding a webhook
platform").
"""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Delivery, Operation


def receiver(platform: str, *, shared_queue: str | None = None) -> Operation:
    """The receiver of `platform`'s webhooks (a snake_case name): POST /webhooks/<platform, kebab-case>,
    entry <platform, camelCase>Webhook, function <platform>_webhook.

    shopify -> POST /webhooks/shopify, shopifyWebhook; talon_one -> POST /webhooks/talon-one,
    talonOneWebhook, function talon_one_webhook.

    `shared_queue`: where its webhooks that change a session go (their mapping's group is the session),
    so they keep one order with the API's queued changes of the same session (docs/lifecycle.md).
    """
    first, *rest = platform.split("_")
    name = first + "".join(part.capitalize() for part in rest) + "Webhook"
    path = "/webhooks/" + platform.replace("_", "-")
    return Operation(
        # the platform's own JSON, verified and queued as sent (no body model: the mappings read it)
        Contract(name=name, method="POST", path=path, success_status=200),
        Delivery(webhook=platform, shared_queue=shared_queue),
    )


#: Shopify's webhooks that change a session go to the sessions queue (`sessions.SESSIONS`; make generate
#: refuses a name no entry consumes).
SHOPIFY_WEBHOOK = receiver("shopify", shared_queue="sessions")

#: Talon.One's notifications (the way back): queued as sent, each published on the relay's event bus,
#: loyalty balances and tiers written back to the shop (docs/events.md). Its topics map to no operation.
TALON_ONE_WEBHOOK = receiver("talon_one")
