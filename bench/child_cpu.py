"""The relay's own CPU per warm call, run by bench.ab as `python -S -c <this file's text> SPEC RESULT`.

The handler serves SPEC's `events`: API Gateway events (each signed apart: a signature is accepted once)
or one one-record SQS event (as the template's event source mapping delivers it), every call with ids of
its own (`fresh_event`), so each does the full work (a queued record: the claim, the ordering read where
the operation has it, the Talon.One call, the completion). `warmup` calls run against the real servers
(stand-in, moto, extension), recording at urllib3's door (HTTPConnectionPool.urlopen) the last answer per
request kind (bench/door.py: host, method, path, body kind); then `replay_warmup` and `calls` calls are
answered from those recordings at the door, so no socket is touched and no other process runs between.

SPEC says what every call is checked for: `expect`, the answer's fields and their allowed values (an API
call's statusCode, an SQS batch's batchItemFailures), and `talon_each_call`, whether every call must
reach Talon.One (a queued record must; a read answered from the read cache reaches none). A call that
fails a check, a request in replay that was not recorded, or one request kind answered two ways in the
warm-up fails the child, RESULT's `detail` naming why and what the handler logged at WARNING or above.
stdout (the handler's logs) must be a file: the log bytes per call are measured from it.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import runpy
import statistics
import sys
import time
from types import SimpleNamespace
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool

STATE: dict[str, Any] = {
    "replay": False,
    "door_ns": 0,
    "door_cpu_ns": 0,
    "calls": 0,
    "by_key": {},
    "missing": [],
    "talon": 0,
}
ORIGINAL = HTTPConnectionPool.urlopen
#: bench/door.py (the recordings and request kinds), run from its file by `main`: no bench package on the path
DOOR: Any = None


def door(pool: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
    started, started_cpu = time.perf_counter_ns(), time.process_time_ns()  # in replay: the bench's work, apart
    if (pool.host, pool.port) == STATE["talon_at"]:
        STATE["talon"] += 1
    key = DOOR.key_of(pool, method, url, args, kwargs)
    if STATE["replay"]:
        STATE["calls"] += 1
        STATE["by_key"][key] = STATE["by_key"].get(key, 0) + 1
        replayed = STATE["recordings"].replay(key, method)
        if replayed is None:
            STATE["missing"].append(key)
            raise RuntimeError(f"bench: no recorded answer for {key}")
        STATE["door_cpu_ns"] += time.process_time_ns() - started_cpu
        STATE["door_ns"] += time.perf_counter_ns() - started
        return replayed
    answer = ORIGINAL(pool, method, url, *args, **kwargs)
    STATE["recordings"].record(key, answer)
    return answer


class Context:
    """What Lambda's context object offers the handlers and Powertools."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "bench-cpu"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def fresh_event(event: dict[str, Any], run: str, n: int) -> dict[str, Any]:
    """The event as a new delivery, its ids unique to this child (`run`) and call (`n`): an API event's request
    id; an SQS record's message id and idempotency key (as child_warm makes them): the children share one
    table, where a key met again is answered as a replay."""
    event = copy.deepcopy(event)
    if "requestContext" in event:
        event["requestContext"]["requestId"] = f"bench-{run}-{n:06d}"
    for record in event.get("Records", []):
        record["messageId"] = f"bench-{run}-{n:06d}-{record['messageId']}"
        message = json.loads(record["body"])
        if isinstance(message, dict) and message.get("idempotencyKey"):
            message["idempotencyKey"] = f"{message['idempotencyKey']}-bench-{run}-{n:06d}"
            record["body"] = json.dumps(message, separators=(",", ":"))
    return event


def offset() -> int:
    sys.stdout.flush()
    return os.lseek(1, 0, os.SEEK_CUR)


def failed(event: dict[str, Any], response: Any, stdout_path: str, start: int) -> str:
    """Why a call failed: its answer and what the handler logged at WARNING or above for it."""
    with open(stdout_path, "rb") as handle:
        handle.seek(start)
        lines = handle.read().decode(errors="replace").splitlines()
    said = [
        line
        for line in lines
        if any(f'"level":"{level}"' in line.replace(" ", "") for level in ("WARNING", "ERROR", "CRITICAL"))
    ]
    ids = [record["messageId"] for record in event.get("Records", [])] or [event["requestContext"]["requestId"]]
    logged = " | ".join(said)[-1500:] or "(nothing)"
    return f"call {ids}: handler answered {json.dumps(response)[:500]}; logged: {logged}"


def lower_quartile(values: list[int]) -> float:
    return statistics.quantiles(values, n=4)[0] if len(values) > 1 else float(values[0])


def by_kind(calls: int) -> dict[str, float]:
    """Door calls per call by request kind; kinds of one label (a claim's and a completion's UpdateItem)
    numbered in the order first met."""
    counts: dict[str, float] = {}
    for key, n in STATE["by_key"].items():
        name = DOOR.label(key)
        numbered, k = name, 1
        while numbered in counts:
            k += 1
            numbered = f"{name} ({k})"
        counts[numbered] = n / calls
    return counts


def stop(detail: str) -> None:
    """Fail the child, RESULT saying why."""
    with open(sys.argv[2], "w") as handle:
        json.dump({"detail": detail}, handle)
    raise SystemExit(1)


def main() -> int:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    stdout_path = spec["stdout_path"]
    global DOOR
    DOOR = SimpleNamespace(**runpy.run_path(spec["door"]))
    STATE["recordings"] = DOOR.Recordings()
    HTTPConnectionPool.urlopen = door  # type: ignore[method-assign,assignment]
    handler = importlib.import_module(spec["module"]).handler
    warmup, replay_warmup, calls = int(spec["warmup"]), int(spec["replay_warmup"]), int(spec["calls"])
    given = spec["events"]
    events = [fresh_event(given[n % len(given)], spec["run"], n) for n in range(warmup + replay_warmup + calls)]
    STATE["talon_at"] = (spec["talon_host"], int(spec["talon_port"]))
    expect: dict[str, list[Any]] = spec["expect"]
    context = Context(spec["function_name"])

    def serve(event: dict[str, Any]) -> tuple[int, int, int, int]:
        """One call, checked: the handler's wall clock and CPU time, and the door's share of each."""
        start = offset()
        talon_before, door_before, door_cpu_before = STATE["talon"], STATE["door_ns"], STATE["door_cpu_ns"]
        started_cpu, started = time.process_time_ns(), time.perf_counter_ns()  # the wall clock's within the CPU's
        response = handler(event, context)
        wall, cpu = time.perf_counter_ns() - started, time.process_time_ns() - started_cpu
        detail = ""
        if not isinstance(response, dict) or any(response.get(name) not in ok for name, ok in expect.items()):
            detail = failed(event, response, stdout_path, start)
            if STATE["missing"]:
                detail = f"no recorded answer for {STATE['missing']}; {detail}"
        elif spec["talon_each_call"] and STATE["talon"] == talon_before:  # answered from the table, dead-lettered
            detail = f"no Talon.One call: {failed(event, response, stdout_path, start)}"
        if detail:
            stop(detail)
        return wall, cpu, STATE["door_ns"] - door_before, STATE["door_cpu_ns"] - door_cpu_before

    for event in events[:warmup]:
        serve(event)
    if twice := STATE["recordings"].twice():
        stop(f"one request kind answered two ways in the warm-up: {twice}")
    STATE["replay"] = True
    for event in events[warmup : warmup + replay_warmup]:
        serve(event)
    STATE["calls"], STATE["by_key"] = 0, {}
    start = offset()
    measured = [serve(event) for event in events[warmup + replay_warmup :]]
    handler_ns, cpu_ns, door_ns, door_cpu_ns = zip(*measured, strict=True)
    log_bytes = offset() - start
    result = {
        "handler_ns": statistics.median(handler_ns),
        "door_ns": statistics.median(door_ns),
        "without_door_ns": statistics.median(h - d for h, d in zip(handler_ns, door_ns, strict=True)),
        # the process's CPU time (every thread), which another process running between does not add to
        "cpu_ns": statistics.median(cpu_ns),
        "door_cpu_ns": statistics.median(door_cpu_ns),
        "cpu_without_door_ns": statistics.median(c - d for c, d in zip(cpu_ns, door_cpu_ns, strict=True)),
        # its lower quartile: another process's work on the same core (caches, the core's clock) only adds
        # to a call's CPU time, in spells; the lower quartile moves least with them
        "cpu_without_door_p25_ns": lower_quartile([c - d for c, d in zip(cpu_ns, door_cpu_ns, strict=True)]),
        "door_calls": STATE["calls"] / calls,
        "door_calls_by_kind": by_kind(calls),
        "log_bytes": log_bytes / calls,
    }
    with open(sys.argv[2], "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
