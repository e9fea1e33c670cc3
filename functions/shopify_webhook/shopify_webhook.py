"""Lambda function receiving Shopify's webhooks and mapping them to Talon.One operations.

Triggers: API Gateway (POST /webhooks/shopify: the signature checked, the webhook queued, 200) and its
own FIFO queue (each webhook's topic mapped, by the files of talon_relay/webhooks/shopify/topics/, to
the Integration API operations it names, run in order).

Everything but the choice of entry lives in the talon_relay layer, shared by every function; the entry
(route, models, queue) is in talon_relay.operations. Written by `make generate` from it: edit the table,
not this file.
"""

from talon_relay.entry import lambda_handler

handler = lambda_handler("shopifyWebhook")
