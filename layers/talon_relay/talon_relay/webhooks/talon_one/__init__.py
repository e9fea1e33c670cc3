"""Talon.One's notifications: `signature` (the secret header, X-UUID, the type), `notifications`
(a queued notification published on the bus, then written back), `writeback` (loyalty balance and tier to
the Shopify customer's metafields)."""
