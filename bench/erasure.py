"""Erasures per scheduled run: the erasure queue filled with N requests, one run of delete_customer_data
drains it against the stand-in answering each DELETE after 50 ms (bench/child_erasure.py).

The run's Lambda timeout is ErasureRunTimeout's default (900 s) and it erases ERASURE_CONCURRENCY (10)
at a time, as deployed. Target: one run clears at least 10,000 queued erasures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.report import Row, verdict

TARGET = 10_000
RUN_TIMEOUT = 900  # ErasureRunTimeout's default
CONCURRENCY = 10  # ErasureConcurrency's default
RESERVE = 5.0  # a run stops taking new requests with this much of its time left (handlers/schedule.py)


def fill(sqs: Any, queue_url: str, count: int) -> None:
    """`count` erasure requests on the queue, sent ten at a time from four threads."""

    def send(start: int) -> None:
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"integrationId": f"bench-erase-{start + i}"})}
            for i in range(min(10, count - start))
        ]
        result = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"SQS refused erasure requests: {result['Failed'][:1]}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(send, range(0, count, 10)))


def measure(
    *,
    sqs: Any,
    queue_url: str,
    env: dict[str, str],
    count: int,
    delay_ms: float,
    run_child: Callable[..., tuple[dict[str, Any], int]],
    workdir: Path,
) -> Row:
    from local.aws import patch_fifo_redelivery

    # moto as the local stack runs it: SQS's semantics, and fast enough for a queue of 10,000 (it is quadratic
    # in the queue's length otherwise: minutes spent in moto, not in the relay)
    patch_fifo_redelivery()
    fill(sqs, queue_url, count)
    spec = {
        "module": "delete_customer_data",
        "function_name": "talon-relay-delete-customer-data",
        "timeout": RUN_TIMEOUT,
    }
    result, _ = run_child(
        "erasure",
        Path(sys.executable),
        spec,
        {**env, "ERASURE_CONCURRENCY": str(CONCURRENCY)},
        workdir,
        timeout=RUN_TIMEOUT + 60,
    )
    summary, seconds = result["summary"], result["run_ns"] / 1e9
    done = int(summary["deleted"]) + int(summary["not_found"])
    per_run = done / seconds * (RUN_TIMEOUT - RESERVE) if seconds else 0.0
    left = int(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    return Row(
        "Erasure run",
        f"delete_customer_data schedule: {count:,} queued, {CONCURRENCY} at a time, stand-in {delay_ms:.0f} ms "
        "(no idempotency table)",
        f"{done:,} erased in {seconds:.0f} s ({done / seconds:.0f}/s; {left} left, {summary['failed']} failed)",
        f"one at a time: {count * delay_ms / 1000:,.0f} s",
        f"≈ {per_run:,.0f} per {RUN_TIMEOUT} s run",
        f"≥ {TARGET:,} per run",
        verdict(done >= min(count, TARGET) and left == 0 and per_run >= TARGET),
    )
