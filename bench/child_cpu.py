"""The relay's own CPU per warm call, run by bench.ab as `python -c <this file's text> SPEC RESULT`.

The handler serves the signed API events of SPEC: `warmup` calls against the real servers (stand-in,
moto, extension), recording each host's last answer at urllib3's door (HTTPConnectionPool.urlopen);
then `calls` calls answered from those recordings at the door, so no socket is touched and no other
process runs between: what is left is the relay's own work (and urllib3's reading of a preloaded
answer, timed apart as `door_ns`). Answers are per host, so this measures an API event's one path
(the replay write, the Talon.One call), not an SQS record's several DynamoDB calls.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import statistics
import sys
import time
from typing import Any

import urllib3
from urllib3.connectionpool import HTTPConnectionPool

RECORDED: dict[tuple[str, int | None], tuple[int, dict[str, str], bytes]] = {}
STATE = {"replay": False, "door_ns": 0}
ORIGINAL = HTTPConnectionPool.urlopen


def door(pool: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
    key = (pool.host, pool.port)
    if STATE["replay"] and key in RECORDED:
        started = time.perf_counter_ns()
        status, headers, body = RECORDED[key]
        replayed = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers=headers, status=status, preload_content=True, request_method=method
        )
        STATE["door_ns"] += time.perf_counter_ns() - started
        return replayed
    answer = ORIGINAL(pool, method, url, *args, **kwargs)
    RECORDED[key] = (answer.status, dict(answer.headers), answer.data or b"")
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


def main() -> int:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    HTTPConnectionPool.urlopen = door  # type: ignore[method-assign,assignment]
    handler = importlib.import_module(spec["module"]).handler
    events = []
    for n, event in enumerate(spec["events"]):
        event = copy.deepcopy(event)
        event["requestContext"]["requestId"] = f"bench-cpu-{n:06d}"
        events.append(event)
    warmup, calls = int(spec["warmup"]), int(spec["calls"])
    context = Context(spec["function_name"])
    for event in events[:warmup]:
        handler(event, context)
    STATE["replay"] = True
    handler_ns: list[int] = []
    door_ns: list[int] = []
    statuses: dict[str, int] = {}
    for event in events[warmup : warmup + calls]:
        before = STATE["door_ns"]
        started = time.perf_counter_ns()
        response = handler(event, context)
        handler_ns.append(time.perf_counter_ns() - started)
        door_ns.append(STATE["door_ns"] - before)
        statuses[str(response.get("statusCode"))] = statuses.get(str(response.get("statusCode")), 0) + 1
    result = {
        "handler_ns": statistics.median(handler_ns),
        "door_ns": statistics.median(door_ns),
        "without_door_ns": statistics.median(h - d for h, d in zip(handler_ns, door_ns, strict=True)),
        "statuses": statuses,
    }
    with open(sys.argv[2], "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
