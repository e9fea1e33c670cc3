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
    the client's own work (serialising, signing) stays in the relay's overhead."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        #: calls by "service.Operation" (e.g. dynamodb.PutItem): what the cost row prices
        self.operations: dict[str, int] = {}
        #: the case running: told to the bench's moto on each DynamoDB request, which counts its units
        #: by item size (bench.infra.DynamoUnits)
        self.case = ""

    def install(self, endpoint: str) -> None:
        from urllib.parse import urlsplit

        from urllib3.connectionpool import HTTPConnectionPool

        where = urlsplit(endpoint)
        original = HTTPConnectionPool.urlopen
        calls = self

        def timed(pool: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if pool.port != where.port or pool.host != where.hostname:
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
            try:
                return original(pool, method, url, *args, **kwargs)
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

    warmup, calls = int(spec["warmup"]), int(spec["calls"])
    # signed when built: each signature's timestamp must be fresh when the call is made (5-minute window)
    events = [fresh_event(case, n) for n in range(warmup + calls)]
    contexts = [Context(spec["function_name"], f"bench-{RUN}-{n:06d}") for n in range(warmup + calls)]
    for n in range(warmup):
        check(case, handler(events[n], contexts[n]))
        raw_call()
    handler_ns: list[int] = []
    raw_ns: list[int] = []
    dynamodb_ns: list[int] = []
    dynamodb_calls = 0
    operations_before = dict(AWS.operations)
    for i in range(calls):
        n = warmup + i
        event, context = events[n], contexts[n]
        before_ns, before_calls = AWS.snapshot()
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
        after_ns, after_calls = AWS.snapshot()
        dynamodb_ns.append(after_ns - before_ns)
        dynamodb_calls += after_calls - before_calls
        check(case, response)
    return {
        "handler_ns": statistics.median(handler_ns),
        "raw_ns": statistics.median(raw_ns),
        # the handler's time without its DynamoDB calls, call by call
        "handler_without_dynamodb_ns": statistics.median(h - d for h, d in zip(handler_ns, dynamodb_ns, strict=True)),
        "dynamodb_ns": statistics.median(dynamodb_ns),
        "dynamodb_calls": dynamodb_calls / calls,
        "aws_calls": {
            name: (count - operations_before.get(name, 0)) / calls
            for name, count in AWS.operations.items()
            if count > operations_before.get(name, 0)
        },
        "handler_p90_ns": statistics.quantiles(handler_ns, n=10)[-1],
        "raw_p90_ns": statistics.quantiles(raw_ns, n=10)[-1],
        "calls": calls,
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
        AWS.install(os.environ["AWS_ENDPOINT_URL"])
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
