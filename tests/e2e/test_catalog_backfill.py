"""`make catalog-backfill` through `make run`'s stack: the products queued on SyncCatalogQueue, the function fed
by the local event source (FIFO batches), coalesced into syncs Talon.One (the emulator) takes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from local.aws import local_client
from local.backfill import local_seal, messages, product_actions, send
from local.stack import LocalStack
from tests.e2e.helpers import Queues, talon_requests, wait_until

pytestmark = pytest.mark.e2e

APPLY_TIMEOUT = 60.0


def test_a_backfilled_catalog_arrives_whole_in_syncs_of_at_most_1000_actions(stack: LocalStack, queues: Queues) -> None:
    # Given 12 products of 100 variants each, queued by the backfill as messages on the catalog's group
    products = [
        {
            "id": 7000 + p,
            "variants": [
                {"id": 70000 + p * 100 + v, "product_id": 7000 + p, "sku": f"B{p}-{v}", "price": "1.00"}
                for v in range(100)
            ],
        }
        for p in range(12)
    ]
    bodies = messages("1", product_actions(products), "e2e")
    # (split for the sake of the test: 12 messages of 100, so the function has something to coalesce)
    bodies = [
        {
            **body,
            "body": {"actions": body["body"]["actions"][start : start + 100]},
            "idempotencyKey": f"e2e-{n}-{start}",
        }
        for n, body in enumerate(bodies)
        for start in range(0, len(body["body"]["actions"]), 100)
    ]
    assert len(bodies) == 12
    send(queues.sqs, queues.url("SyncCatalogQueue"), "1", bodies)
    # When the stack's event source has fed them all to the function
    items = wait_until(
        lambda: len(stack.emulator.state().get("catalogs", {}).get("1", {}).get("items", {})) == 1200,
        timeout=APPLY_TIMEOUT,
        what="1,200 catalog items",
    )
    queues.wait_empty("SyncCatalogQueue", timeout=APPLY_TIMEOUT)
    # Then every item is there, each sync held at most 1,000 actions, none refused (how many messages each
    # joined depends on how the poller's batches fell: tests/functions/test_catalog_sync.py pins that)
    assert items
    syncs = talon_requests(stack, prefix="/v1/catalogs/")
    assert syncs and all(r["status"] == 200 for r in syncs)
    assert all(len(r["body"]["actions"]) <= 1000 for r in syncs)
    assert len(syncs) <= len(bodies)
    assert queues.depth("SyncCatalogDeadLetterQueue") == 0


def catalog_items(admin_url: str) -> dict[str, Any]:
    state = json.loads(urllib3.request("GET", f"{admin_url}/state", timeout=10).data)
    found: dict[str, Any] = state.get("catalogs", {}).get("1", {}).get("items", {})
    return found


def test_a_backfill_on_a_stack_of_two_applications_reaches_the_one_it_names(two_apps: LocalStack) -> None:
    # Given the stack `make run` starts (two applications: each queued message names its own, sealed)
    info = two_apps.describe()
    apps = info["applications"]
    products = [
        {"id": 8000 + p, "variants": [{"id": 80000 + p, "product_id": 8000 + p, "sku": f"U{p}"}]} for p in range(3)
    ]
    # When the backfill queues them for `us`, as `make catalog-backfill ... APPLICATION=us` does
    sqs = local_client("sqs", info["aws_endpoint"])
    bodies = messages("1", product_actions(products), "e2e-us")
    send(sqs, info["queues"]["SyncCatalogQueue"], "1", bodies, seal=local_seal(info, "us"))
    # Then `us`'s catalog has every item, the default application's none, and nothing was dead-lettered
    wait_until(lambda: len(catalog_items(apps["us"]["emulator_admin"])) == 3, timeout=APPLY_TIMEOUT, what="3 items")
    assert catalog_items(apps["default"]["emulator_admin"]) == {}
    dlq = info["queues"]["SyncCatalogDeadLetterQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
