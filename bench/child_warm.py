"""Warm overhead of one function, run by the harness as `python -c <this file's text> SPEC RESULT`.

In one process with the function's Lambda environment: the handler serves each case (an API event,
an SQS event of one record) `calls` times after `warmup` calls, interleaved call by call with raw
urllib3 (one keep-alive PoolManager) sending the same request to the same stand-in. The handler's
stdout (Powertools logs and metrics) goes wherever the parent sent this process's stdout
(/dev/null), so terminal I/O is not measured, yet every log line and metric is still written.
A case may carry "env": variables set for that case only ("unset": variables removed for it); the relay
then reads its settings anew, as the new containers a configuration change starts in Lambda would (it
reads them once per container). An API case with "signing_key" is signed anew for every call, as a
caller signs each request (each signature is accepted once where the idempotency table is set). With
"stdout_path" (the file the parent sent stdout to), each case also reports what it wrote per call: log
bytes, lines, EMF documents and metric values.

A case whose calls reach DynamoDB is then measured a second time, `calls` calls more, interleaved with raw
urllib3 as before, with DynamoDB's answers replayed at urllib3's door (bench/door.py: the last answer of each
request kind of the first measurement) and everything else real, the Talon.One call included: the handler's
time without the DynamoDB round trips and without what their waits do to the code after them (it runs on
caches gone cold while the CPU idled). Each replayed call must make the first measurement's DynamoDB and
Talon.One calls, or the child fails naming the difference (a replayed answer took another path).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import importlib
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

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


#: The header naming the case on each DynamoDB request (bench.infra.CASE_HEADER).
CASE_HEADER = "x-bench-case"
#: X-Amz-Target prefixes (AWS's JSON protocol) -> the service's name in the counts.
SERVICES = {
    "DynamoDB_20120810": "dynamodb",
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
    "AWSEvents": "events",
}


class AwsCalls:
    """Time and count of the requests the handler sends to AWS (moto at AWS_ENDPOINT_URL), by service and
    operation, taken at urllib3's door (HTTPConnectionPool.urlopen), which botocore and any lighter
    client alike go through: a row shows the DynamoDB round trip apart, whatever client makes it, and
    the client's own work (serialising, signing) stays in the relay's overhead. DynamoDB's answers are
    recorded, and replayed instead of sent while `replaying`; the Talon.One stand-in's requests counted."""

    def __init__(self) -> None:
        self.door: Any = None  # bench/door.py, loaded by `install`
        self.recordings: Any = None
        self.replaying = False
        #: the replayed answers' own time at the door (making the response), kept apart like a round trip's
        self.door_ns = 0
        #: requests to the Talon.One stand-in (host, port), the raw calls' included
        self.talon_at: tuple[str, int] = ("", 0)
        self.talon = 0
        self.ns: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        #: calls by "service.Operation" (e.g. dynamodb.PutItem): what the cost row prices
        self.operations: dict[str, int] = {}
        #: the case running: told to the bench's moto on each DynamoDB request, which counts its units
        #: by item size (bench.infra.DynamoUnits)
        self.case = ""

    def install(self, endpoint: str, door_path: str, talon_url: str) -> None:
        import runpy
        from types import SimpleNamespace
        from urllib.parse import urlsplit

        from urllib3.connectionpool import HTTPConnectionPool

        # bench/door.py, run from its file: this child has no bench package on its path
        self.door = door = SimpleNamespace(**runpy.run_path(door_path))
        self.recordings = door.Recordings()
        where, talon = urlsplit(endpoint), urlsplit(talon_url)
        self.talon_at = (talon.hostname or "", talon.port or 80)
        original = HTTPConnectionPool.urlopen
        calls = self

        def timed(pool: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if pool.port != where.port or pool.host != where.hostname:
                if (pool.host, pool.port) == calls.talon_at:
                    calls.talon += 1
                return original(pool, method, url, *args, **kwargs)
            headers = kwargs.get("headers") or (args[1] if len(args) > 1 else None) or {}
            # header names are case-insensitive: a plain dict (a client calling the host's pool) may hold any case
            target = next((value for name, value in headers.items() if name.lower() == "x-amz-target"), "")
            target = target.decode() if isinstance(target, bytes) else str(target)
            prefix, _, operation = target.partition(".")
            service = SERVICES.get(prefix, prefix.lower() or "aws")
            if service == "dynamodb" and "headers" in kwargs:  # (unsigned: moto reads it, SigV4 ignores it)
                kwargs["headers"] = {**dict(kwargs["headers"].items()), CASE_HEADER: calls.case}
            started = time.perf_counter_ns()
            if service == "dynamodb" and calls.replaying:
                key = door.key_of(pool, method, url, args, kwargs)
                replayed = calls.recordings.replay(key, method)
                if replayed is None:
                    raise SystemExit(f"{calls.case}: no recorded DynamoDB answer to replay for {key}")
                calls.door_ns += time.perf_counter_ns() - started
                calls.calls["dynamodb"] = calls.calls.get("dynamodb", 0) + 1
                return replayed
            try:
                answer = original(pool, method, url, *args, **kwargs)
                if service == "dynamodb":
                    calls.recordings.record(door.key_of(pool, method, url, args, kwargs), answer)
                return answer
            finally:
                calls.ns[service] = calls.ns.get(service, 0) + time.perf_counter_ns() - started
                calls.calls[service] = calls.calls.get(service, 0) + 1
                name = f"{service}.{operation or 'request'}"
                calls.operations[name] = calls.operations.get(name, 0) + 1

        HTTPConnectionPool.urlopen = timed  # type: ignore[method-assign,assignment]

    def snapshot(self) -> tuple[int, int]:
        return self.ns.get("dynamodb", 0), self.calls.get("dynamodb", 0)


AWS = AwsCalls()


def sign(event: dict[str, Any], secret: str) -> None:
    """A fresh caller signature (scheme v2, as bench.events.sign_api_event makes it) on `event`."""
    timestamp = f"{time.time():.6f}"
    path = event["path"]
    query = event.get("queryStringParameters")
    if query:
        path += "?" + urlencode(sorted(query.items()), quote_via=quote, safe="")
    headers = event.get("headers") or {}
    message = (
        f"v2\n{timestamp}\n{event['httpMethod'].upper()}\n{path}\n{headers.get('Idempotency-Key', '')}\n"
        f"{headers.get('Prefer', '')}\n"
    ).encode() + (event.get("body") or "").encode()
    value = f"t={timestamp},v2={hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"
    event.setdefault("headers", {})["X-Relay-Signature"] = value
    if event.get("multiValueHeaders") is not None:
        event["multiValueHeaders"]["X-Relay-Signature"] = [value]


#: this process's part of every id: a second run against the same table (bench.ab, a rerun) must not find its
#: records there, or its queued records would be answered from the table, an easier path than measured
RUN = uuid.uuid4().hex[:8]


def fresh_event(case: dict[str, Any], n: int) -> dict[str, Any]:
    """The case's event as a new delivery: its own request / message id (and idempotency key)."""
    event: dict[str, Any] = copy.deepcopy(case["event"])
    if case["kind"] == "api":
        event["requestContext"]["requestId"] = f"bench-{RUN}-{n:06d}"
        if case.get("vary"):  # another customer each call (a read cache miss): the parameter and its segment
            name, index = case["vary"], int(case["vary_segment"])
            value = f"{event['pathParameters'][name]}-{n}"
            event["pathParameters"][name] = value
            segments = event["path"].split("/")
            segments[index] = value
            event["path"] = "/".join(segments)
        if case.get("signing_key"):
            sign(event, case["signing_key"])
    else:
        for record in event["Records"]:
            record["messageId"] = f"bench-{RUN}-{n:06d}-{record['messageId']}"
            message = json.loads(record["body"])
            if isinstance(message, dict) and message.get("idempotencyKey"):
                message["idempotencyKey"] = f"{message['idempotencyKey']}-bench-{RUN}-{n:06d}"
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

    def relay_call(n: int) -> tuple[int, int, int, int, int]:
        """One handler call, checked: its time, its DynamoDB time and calls, the door's, its Talon.One calls."""
        dynamodb_before, calls_before = AWS.snapshot()
        door_before, talon_before = AWS.door_ns, AWS.talon
        started = time.perf_counter_ns()
        response = handler(events[n], contexts[n])
        elapsed = time.perf_counter_ns() - started
        check(case, response)
        dynamodb_after, calls_after = AWS.snapshot()
        return (
            elapsed,
            dynamodb_after - dynamodb_before,
            calls_after - calls_before,
            AWS.door_ns - door_before,
            AWS.talon - talon_before,
        )

    def measure(first: int) -> tuple[list[int], list[tuple[int, int, int, int, int]]]:
        """`calls` calls from event `first`, each beside a raw call; which goes first alternates, so neither
        always runs right after the other."""
        raw_ns: list[int] = []
        relay: list[tuple[int, int, int, int, int]] = []
        for i in range(calls):
            if i % 2 == 0:
                relay.append(relay_call(first + i))
            started = time.perf_counter_ns()
            raw_call()
            raw_ns.append(time.perf_counter_ns() - started)
            if i % 2 == 1:
                relay.append(relay_call(first + i))
        return raw_ns, relay

    warmup, calls = int(spec["warmup"]), int(spec["calls"])
    # signed when built: each signature's timestamp must be fresh when the call is made (5-minute window)
    events = [fresh_event(case, n) for n in range(warmup + 2 * calls + REPLAY_WARMUP)]
    contexts = [Context(spec["function_name"], f"bench-{RUN}-{n:06d}") for n in range(len(events))]
    for n in range(warmup):
        relay_call(n)
        raw_call()
    operations_before = dict(AWS.operations)
    raw_ns, relay = measure(warmup)
    handler_ns, dynamodb_ns, dynamodb_n, _, talon_n = (list(column) for column in zip(*relay, strict=True))
    result: dict[str, Any] = {
        "handler_ns": statistics.median(handler_ns),
        "raw_ns": statistics.median(raw_ns),
        # the handler's time without its DynamoDB calls, call by call
        "handler_without_dynamodb_ns": statistics.median(h - d for h, d in zip(handler_ns, dynamodb_ns, strict=True)),
        "dynamodb_ns": statistics.median(dynamodb_ns),
        "dynamodb_calls": sum(dynamodb_n) / calls,
        "aws_calls": {
            name: (count - operations_before.get(name, 0)) / calls
            for name, count in AWS.operations.items()
            if count > operations_before.get(name, 0)
        },
        "handler_p90_ns": statistics.quantiles(handler_ns, n=10)[-1],
        "raw_p90_ns": statistics.quantiles(raw_ns, n=10)[-1],
        "calls": calls,
    }
    if sum(dynamodb_n) and not spec.get("no_replay"):
        result["replayed"] = replayed(case, measure, relay_call, warmup + calls, dynamodb_n, talon_n)
    return result


#: replayed calls before the measured ones: the replay's own first calls (urllib3's response path, the door)
REPLAY_WARMUP = 20


def replayed(
    case: dict[str, Any],
    measure: Callable[[int], tuple[list[int], list[tuple[int, int, int, int, int]]]],
    relay_call: Callable[[int], tuple[int, int, int, int, int]],
    first: int,
    dynamodb_n: list[int],
    talon_n: list[int],
) -> dict[str, Any]:
    """The case again with DynamoDB's answers replayed: the handler's time without the round trips and their
    waits (the door's own time apart), beside raw urllib3's in the same calls."""
    if twice := AWS.recordings.twice():
        raise SystemExit(f"{case['name']}: a DynamoDB request kind was answered two ways, not replayable: {twice}")
    AWS.replaying = True
    try:
        for n in range(first, first + REPLAY_WARMUP):
            relay_call(n)
        raw_ns, relay = measure(first + REPLAY_WARMUP)
    finally:
        AWS.replaying = False
    handler_ns, _, replay_dynamodb_n, door_ns, replay_talon_n = (list(column) for column in zip(*relay, strict=True))
    # the same path as measured: the same DynamoDB and Talon.One calls per call (a replayed answer that sent a
    # call down another path, e.g. answered from the table, would measure an easier one)
    for what, measured, again in (("DynamoDB", dynamodb_n, replay_dynamodb_n), ("Talon.One", talon_n, replay_talon_n)):
        if sorted(set(again)) != sorted(set(measured)) or abs(sum(again) - sum(measured)) > len(measured) // 50:
            raise SystemExit(
                f"{case['name']}: with DynamoDB replayed, {what} calls per call were {sorted(set(again))} "
                f"({sum(again)} in all) against {sorted(set(measured))} ({sum(measured)}) as measured"
            )
    return {
        "handler_ns": statistics.median(handler_ns),
        "raw_ns": statistics.median(raw_ns),
        "handler_without_door_ns": statistics.median(h - d for h, d in zip(handler_ns, door_ns, strict=True)),
        "door_ns": statistics.median(door_ns),
    }


def written(path: str, start: int, end: int, calls: int) -> dict[str, float]:
    """What the handler wrote to stdout between two offsets, per call: bytes, lines, EMF documents and
    metric values (CloudWatch bills the bytes as log ingestion; EMF values are part of them)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    lines = [line for line in data.splitlines() if line.strip()]
    documents = values = 0
    for line in lines:
        if b'"_aws"' not in line:
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            documents += 1
            for metric in directive.get("Metrics", []):
                value = document.get(metric.get("Name"))
                values += len(value) if isinstance(value, list) else 1
    return {
        "log_bytes": len(data) / calls,
        "log_lines": len(lines) / calls,
        "emf_documents": documents / calls,
        "metric_values": values / calls,
    }


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    if os.environ.get("AWS_ENDPOINT_URL"):
        AWS.install(os.environ["AWS_ENDPOINT_URL"], spec["door"], spec["url"])
    handler = importlib.import_module(spec["module"]).handler
    pool = urllib3.PoolManager(maxsize=4)
    results = {}
    for case in spec["cases"]:
        extra = case.get("env") or {}
        unset = case.get("unset") or []
        saved = {name: os.environ.get(name) for name in [*extra, *unset]}
        os.environ.update(extra)
        for name in unset:
            os.environ.pop(name, None)
        if extra or unset:
            handler.container.reset()  # a changed environment: a new container, as in Lambda
        try:
            sys.stdout.flush()
            start = os.lseek(1, 0, os.SEEK_CUR) if spec.get("stdout_path") else 0
            AWS.case = case["name"]
            results[case["name"]] = run_case(case, handler, pool, spec)
            if spec.get("stdout_path"):
                sys.stdout.flush()
                calls = int(spec["warmup"]) + int(spec["calls"])
                if "replayed" in results[case["name"]]:  # its replayed calls wrote too, as the others do
                    calls += REPLAY_WARMUP + int(spec["calls"])
                results[case["name"]].update(written(spec["stdout_path"], start, os.lseek(1, 0, os.SEEK_CUR), calls))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if extra or unset:
                handler.container.reset()
    with open(result_path, "w") as handle:
        json.dump({"cases": results, "maxrss_kb": peak_rss_kb()}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
