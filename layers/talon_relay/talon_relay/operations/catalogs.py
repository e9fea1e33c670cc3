"""Cart item catalogs: a shop's products synced into Talon.One (May 2026).

syncCatalog is queued per catalog (one FIFO group each) and coalesced: a batch of one catalog's queued
syncs goes as few requests as Talon.One takes (core/coalescing.py: at most 1,000 actions, one action type,
no SKU twice in one request), in the order they were queued. A Shopify product webhook's sync goes on
the same queue (`webhook_steps_queued`), so a burst of product changes is coalesced like the API's.
"""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Delivery, Operation, QueryParam

SYNC_CATALOG = Operation(
    Contract(
        name="syncCatalog",
        method="PUT",
        path="/v1/catalogs/{catalogId}/sync",
        body="wire.catalogs:CatalogSyncRequest",
        response="wire.catalogs:Catalog",
        success_status=200,
        body_required=True,
        path_checks=(QueryParam("catalogId", "integer"),),
        examples={"catalogId": "1"},
    ),
    Delivery(group_by="catalogId", coalesce=True, webhook_steps_queued=True),
)
