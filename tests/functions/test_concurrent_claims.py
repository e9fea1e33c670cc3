"""Copies of one message claimed at the same moment: exactly one calls Talon.One, the others wait.

SQS delivers at least once, and with `BatchConcurrency` a batch's records run side by side, so two copies
of a message can claim their idempotency record at the same instant. DynamoDB applies each conditional
write whole; the local moto server is made to as well (local/aws.py `patch_item_writes_atomic`), without
which a claim could find a record half written and dead-letter a good message as "key reused".
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from talon_relay.aws.idempotency import run_once
from talon_relay.container import Container
from talon_relay.errors import InProgress, KeyReused
from talon_relay.operations import OPERATIONS
from tests.functions.test_catalog_sync import Catalogs, catalogs

__all__ = ["catalogs"]  # the fixture, shared: a stack with the idempotency table

OP = OPERATIONS["createReferral"]
COPIES = 6
KEYS = 15


@pytest.fixture
def container(catalogs: Catalogs) -> Iterator[Container]:
    # threads switched as often as the interpreter allows: the moto server's request threads interleave
    # inside each operation as they would with more cores
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield Container()
    finally:
        sys.setswitchinterval(interval)


def test_copies_claiming_at_once_make_one_call_and_the_rest_are_in_progress(container: Container) -> None:
    # Given COPIES copies of each of KEYS messages (same key, same payload), started together
    outcomes: dict[str, list[str]] = {f"ref-{n}": [] for n in range(KEYS)}
    calls: dict[str, int] = {key: 0 for key in outcomes}
    lock = threading.Lock()

    def copy_of(key: str, start: threading.Barrier, finished: threading.Event) -> None:
        def call() -> str:
            with lock:
                calls[key] += 1
            finished.wait(10)  # held in progress until every other copy has claimed (bounded)
            return '{"id": 1}'

        start.wait(10)
        try:
            run_once(container, key, scope=OP.name, payload={"campaignId": 3, "key": key}, call=call)
            outcome = "called"
        except InProgress:
            outcome = "in progress"
        except KeyReused:
            outcome = "key reused"
        with lock:
            outcomes[key].append(outcome)
        if outcome != "called" and len(outcomes[key]) == COPIES - 1 and "called" not in outcomes[key]:
            finished.set()

    # When each key's copies claim at the same moment
    for key in outcomes:
        start, finished = threading.Barrier(COPIES), threading.Event()
        threads = [threading.Thread(target=copy_of, args=(key, start, finished)) for _ in range(COPIES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    # Then each key was called once, and every other copy was told it is in progress (none "key reused")
    assert calls == {key: 1 for key in outcomes}
    assert {key: sorted(found) for key, found in outcomes.items()} == {
        key: ["called"] + ["in progress"] * (COPIES - 1) for key in outcomes
    }
