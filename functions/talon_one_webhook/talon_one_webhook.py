"""Lambda function receiving Talon.One's notifications and publishing them on the relay's event bus.

Triggers: API Gateway (POST /webhooks/talon-one: the secret header checked, the notification queued,
200) and its own FIFO queue (each notification published on the bus once per X-UUID, then a loyalty
balance or tier written back to the Shopify customer's metafields; docs/events.md).

Everything but the choice of entry lives in the talon_relay layer, shared by every function; the entry
(route, models, queue) is in talon_relay.operations. Written by `make generate` from it: edit the table,
not this file.
"""

from talon_relay.entry import lambda_handler

handler = lambda_handler("talonOneWebhook")
