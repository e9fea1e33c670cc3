"""Warm overhead of one function, run by the harness as `python -c <this file's text> SPEC RESULT`.

In one process with the function's Lambda environment: the handler serves each case (an API event,
an SQS event of one record) `calls` times after `warmup` calls, interleaved call by call with raw
urllib3 (one keep-alive PoolManager) sending the same request to the same stand-in. The handler's
stdout (Powertools logs and metrics) goes wherever the parent sent this process's stdout
(/dev/null), so terminal I/O is not measured, yet every log line and metric is still written.
A case may carry "env": variables set for that case only; the relay then reads its settings anew, as
the new containers a configuration change starts in Lambda would (it reads them once per container).
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import urllib3


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

    def __init__(self, function_name: str, request_id: str, timeout: float = 30.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def fresh_event(case: dict[str, Any], n: int) -> dict[str, Any]:
    """The case's event as a new delivery: its own request / message id (and idempotency key)."""
    event: dict[str, Any] = copy.deepcopy(case["event"])
    if case["kind"] == "api":
        event["requestContext"]["requestId"] = f"bench-{n:06d}"
    else:
        for record in event["Records"]:
            record["messageId"] = f"bench-{n:06d}-{record['messageId']}"
            message = json.loads(record["body"])
            if isinstance(message, dict) and message.get("idempotencyKey"):
                message["idempotencyKey"] = f"{message['idempotencyKey']}-bench-{n:06d}"
                record["body"] = json.dumps(message, separators=(",", ":"))
    return event


def check(case: dict[str, Any], response: Any) -> None:
    if case["kind"] == "api":
        ok = isinstance(response, dict) and response.get("statusCode") == case["expect"]
    else:
        ok = isinstance(response, dict) and not response.get("batchItemFailures")
    if not ok:
        raise SystemExit(f"{case['name']}: unexpected handler response {json.dumps(response)[:500]}")


def run_case(
    case: dict[str, Any], handler: Callable[..., Any], pool: urllib3.PoolManager, spec: dict[str, Any]
) -> dict[str, Any]:
    raw = case["raw"]
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "bench-raw/1.0",
        "Authorization": "ApiKey-v1 " + spec["api_key"],
    }
    body = raw["body"].encode() if raw["body"] is not None else None
    url = spec["url"] + raw["path"]

    def raw_call() -> None:
        response = pool.request(raw["method"], url, body=body, headers=headers, preload_content=True)
        if response.status != raw["expect"]:
            raise SystemExit(f"{case['name']}: raw urllib3 got HTTP {response.status}")

    warmup, calls = int(spec["warmup"]), int(spec["calls"])
    events = [fresh_event(case, n) for n in range(warmup + calls)]
    contexts = [Context(spec["function_name"], f"bench-{n:06d}") for n in range(warmup + calls)]
    for n in range(warmup):
        check(case, handler(events[n], contexts[n]))
        raw_call()
    handler_ns: list[int] = []
    raw_ns: list[int] = []
    for i in range(calls):
        n = warmup + i
        event, context = events[n], contexts[n]
        # Alternate which goes first, so neither always runs right after the other.
        if i % 2 == 0:
            started = time.perf_counter_ns()
            response = handler(event, context)
            handler_ns.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            raw_call()
            raw_ns.append(time.perf_counter_ns() - started)
        else:
            started = time.perf_counter_ns()
            raw_call()
            raw_ns.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            response = handler(event, context)
            handler_ns.append(time.perf_counter_ns() - started)
        check(case, response)
    return {
        "handler_ns": statistics.median(handler_ns),
        "raw_ns": statistics.median(raw_ns),
        "handler_p90_ns": statistics.quantiles(handler_ns, n=10)[-1],
        "raw_p90_ns": statistics.quantiles(raw_ns, n=10)[-1],
        "calls": calls,
    }


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    handler = importlib.import_module(spec["module"]).handler
    pool = urllib3.PoolManager(maxsize=4)
    results = {}
    for case in spec["cases"]:
        extra = case.get("env") or {}
        saved = {name: os.environ.get(name) for name in extra}
        os.environ.update(extra)
        if extra:
            handler.container.reset()  # a changed environment: a new container, as in Lambda
        try:
            results[case["name"]] = run_case(case, handler, pool, spec)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if extra:
                handler.container.reset()
    with open(result_path, "w") as handle:
        json.dump({"cases": results, "maxrss_kb": peak_rss_kb()}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
