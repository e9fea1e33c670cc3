"""The floor of the publishing row: one PutEvents of the entries the relay would send, timed alone, run by
bench/publishing.py as `python -c <this file's text> SPEC RESULT` in the function's environment (its boto3,
its endpoint, its credentials): what the bus call itself costs, without the relay around it."""

from __future__ import annotations

import json
import statistics
import sys
import time

import boto3


def main() -> int:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    client = boto3.client("events")
    entries = spec["entries"]
    times: list[int] = []
    for n in range(int(spec["warmup"]) + int(spec["calls"])):
        started = time.perf_counter_ns()
        response = client.put_events(Entries=entries)
        if n >= int(spec["warmup"]):
            times.append(time.perf_counter_ns() - started)
        if response.get("FailedEntryCount"):
            raise SystemExit(f"PutEvents refused entries: {response}")
    with open(sys.argv[2], "w") as handle:
        json.dump({"put_ns": statistics.median(times), "calls": len(times)}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
