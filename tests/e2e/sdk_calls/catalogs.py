"""Cart item catalogs: syncCatalog on the emulator's local catalog (1)."""

from __future__ import annotations

from typing import Any

import talon_one

from tests.e2e.sdk_calls import Call, World

LOCAL_CATALOG = 1


def sync_catalog(world: World) -> Any:
    sku = world.unique("sdk-sku")
    answer = world.api.sync_catalog(
        LOCAL_CATALOG,
        talon_one.CatalogSyncRequest(
            actions=[
                {"type": "ADD", "payload": {"sku": sku, "price": 9.9, "product": {"name": "Espresso beans"}}},
            ]
        ),
    )
    assert answer.id == LOCAL_CATALOG and answer.version >= 2
    assert sku in world.stack.emulator.state()["catalogs"][str(LOCAL_CATALOG)]["items"]
    return answer


CALLS: dict[str, Call] = {"sync_catalog": sync_catalog}
