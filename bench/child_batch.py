"""Batch throughput of one function, run by the harness as `python -c <this file's text> SPEC RESULT`.

Against a stand-in that answers each request after a delay: wall time of one warm invocation with a
batch of records (distinct sessions, distinct message groups), interleaved with one warm invocation
of a single record; then `big_reps` times all batches (e.g. 100 records in 10 invocations).
"""

from __future__ import annotations

import importlib
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def peak_rss_kb() -> int:
    """Peak RSS of this process image: VmHWM.

    ru_maxrss would do on Lambda, but on Linux it keeps the spawning process's peak across
    fork + exec, so a child of a big harness would report the harness's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Context:
    """What Lambda's context object offers the handlers and Powertools (one per invocation)."""

    def __init__(self, function_name: str, timeout: float = 60.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "bench-batch"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def invoke(handler: Callable[..., Any], event: dict[str, Any], function_name: str) -> int:
    """Nanoseconds one invocation took; exits if any record failed."""
    context = Context(function_name)
    started = time.perf_counter_ns()
    response = handler(event, context)
    elapsed = time.perf_counter_ns() - started
    if not isinstance(response, dict) or response.get("batchItemFailures"):
        raise SystemExit(f"batch invocation failed: {json.dumps(response)[:500]}")
    return elapsed


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    name = spec["function_name"]
    handler = importlib.import_module(spec["module"]).handler
    single, batches = spec["single"], spec["batches"]
    for _ in range(int(spec["warmup"])):
        invoke(handler, single, name)
        invoke(handler, batches[0], name)
    single_ns: list[int] = []
    batch_ns: list[int] = []
    for rep in range(int(spec["reps"])):
        batch = batches[rep % len(batches)]
        if rep % 2 == 0:
            single_ns.append(invoke(handler, single, name))
            batch_ns.append(invoke(handler, batch, name))
        else:
            batch_ns.append(invoke(handler, batch, name))
            single_ns.append(invoke(handler, single, name))
    all_ns: list[int] = []
    for _ in range(int(spec["big_reps"])):
        started = time.perf_counter_ns()
        for batch in batches:
            invoke(handler, batch, name)
        all_ns.append(time.perf_counter_ns() - started)
    result = {
        "single_ns": statistics.median(single_ns),
        "batch_ns": statistics.median(batch_ns),
        "all_ns": statistics.median(all_ns),
        "batch_size": len(batches[0]["Records"]),
        "records": sum(len(batch["Records"]) for batch in batches),
        "invocations": len(batches),
        "maxrss_kb": peak_rss_kb(),
    }
    with open(result_path, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
