"""Local gateway: API Gateway, the SQS event source mappings and EventBridge Scheduler, in-process.

Routes, handlers, queues, schedules and environments all come from template.yaml. Each function is
loaded like Lambda loads it (its folder's module, the layer on the path) and invoked with real event
shapes and a Lambda context.

Invocations run concurrently, as in Lambda: each function has a pool of containers, up to its
concurrency (ReservedConcurrency when set; else its queue's MaximumConcurrency for the pollers plus
LOCAL_API_CONCURRENCY for API requests), and a container runs one invocation at a time. A container is
its own instance of the handler module, whose handler holds its own `talon_relay.container.Container`,
started with the function's environment (`Container.reset(environ=...)`): settings, clients, secrets
and the batch thread pool are that container's, so concurrent containers never see each other's
environment. What every function's environment has in common (AWS
region, Powertools settings, ...) is also exported to the process while the gateway runs, for the
libraries that read it there. Each queue has MaximumConcurrency pollers, each receiving (one receive at
a time, as SQS hands out a FIFO group to one receiver) and invoking a container of its own.
"""

from __future__ import annotations

import base64
import calendar
import contextvars
import functools
import hashlib
import importlib.util
import itertools
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.aws import REGION, LocalAws
from local.containers import LambdaContext
from local.httpserver import ClosableHTTPServer
from local.template import NO_VALUE, FunctionSpec, Resolver, Route, StackSpec
from talon_relay.container import Container as LayerContainer

Reporter = Callable[[str], None]
#: The x-api-key the local gateway accepts for an API whose routes require one (not a secret).
LOCAL_RELAY_API_KEY = "local-relay-api-key"
LOCAL_RELAY_API_KEY_ID = "local-api-key-id"
#: API Gateway's answer to a wrong or missing x-api-key when the template does not shape it.
FORBIDDEN = (403, b'{"message":"Forbidden"}')
#: Containers a function without reserved concurrency may run for API requests at once (Lambda would
#: scale further; a laptop need not).
LOCAL_API_CONCURRENCY = 4


class Container:
    """One Lambda container of a function: its handler module, its environment, its context."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], number: int) -> None:
        #: the environment this container started with: the layer reads its settings once (a Lambda
        #: container's environment never changes; changing a function's starts new containers)
        self.environment = dict(environment)
        path = spec.module_path
        module_spec = importlib.util.spec_from_file_location(f"local_fn_{spec.logical_id}_{number}", path)
        if module_spec is None or module_spec.loader is None:
            raise RuntimeError(f"cannot load handler module {path}")
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        self.handler: Callable[[Any, Any], Any] = getattr(module, spec.handler_name)
        #: the layer's state of this container (talon_relay.container), started with its environment
        self.state: LayerContainer = getattr(self.handler, "container")  # noqa: B009 - set by lambda_handler
        self.state.reset(environ=self.environment)

    def invoke(self, event: Any, context: LambdaContext) -> Any:
        # each invocation in a fresh context, as in Lambda (nothing of another invocation's logging keys)
        return contextvars.Context().run(self.handler, event, context)

    def close(self) -> None:
        """Retire the container: its connections close and its batch thread pool stops."""
        self.state.reset()


class LocalFunction:
    """One function of the template: up to `concurrency` containers, each invoked one event at a time."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], timeout: float, concurrency: int = 1) -> None:
        self.spec = spec
        self.name = spec.logical_id
        self.environment = environment
        self.timeout = timeout
        self.concurrency = max(concurrency, 1)
        self._idle: list[Container] = []
        self._started = 0
        self._numbers = itertools.count(1)
        self._available = threading.Condition()
        #: containers busy at once, now and at most (what `make run` shows of the budget)
        self.busy = self.peak = 0

    def _acquire(self) -> Container:
        with self._available:
            while not self._idle and self._started >= self.concurrency:
                self._available.wait()  # every container is busy: wait for one (Lambda would throttle)
            self.busy += 1
            self.peak = max(self.peak, self.busy)
            while self._idle:
                container = self._idle.pop()
                if container.environment == self.environment:
                    return container
                container.close()  # started before the environment changed: as in Lambda, a new one
                self._started -= 1
            self._started += 1
            number = next(self._numbers)
        try:
            return Container(self.spec, self.environment, number)
        except BaseException:
            with self._available:
                self._started -= 1
                self.busy -= 1
                self._available.notify()
            raise

    def retire_idle(self) -> None:
        """Retire every idle container: the next invocations start new ones (a cold start each)."""
        with self._available:
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for container in idle:
            container.close()

    def _release(self, container: Container) -> None:
        with self._available:
            self.busy -= 1
            self._idle.append(container)
            self._available.notify()

    def invoke(self, event: Any) -> Any:
        container = self._acquire()
        try:
            return container.invoke(event, LambdaContext(function_name=self.name, timeout_seconds=self.timeout))
        finally:
            self._release(container)


def _number(resolver: Resolver, value: Any, default: int) -> int:
    """A template number (maybe a Ref, maybe absent or AWS::NoValue) resolved, else `default`."""
    resolved = resolver.resolve(value) if value is not None else None
    return default if resolved is None or resolved is NO_VALUE else int(resolved)


def function_environment(spec: FunctionSpec, resolver: Resolver, extra: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in spec.environment.items():
        resolved = resolver.resolve(value)
        if resolved is None or resolved is NO_VALUE:
            continue
        env[name] = json.dumps(resolved) if isinstance(resolved, dict | list) else str(resolved)
    env.update(extra)
    # as Lambda names it: the template's FunctionName, which the functions' own table items are prefixed with
    # (and another function's settings name, as ORDER_RECORDS_OWNER does); a function without one, its id
    function_name = resolver.resolve(spec.function_name) if spec.function_name is not None else None
    env["AWS_LAMBDA_FUNCTION_NAME"] = str(function_name) if function_name not in (None, NO_VALUE) else spec.logical_id
    return env


# --- API Gateway ----------------------------------------------------------------------------


def api_event(
    route: Route,
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    client_ip: str,
    stage: str,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event, as API Gateway builds it."""
    parts = urlsplit(raw_path)
    match = route.pattern.match(parts.path)
    assert match is not None
    query = parse_qs(parts.query, keep_blank_values=True)
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    api_key = next((value for name, value in headers.items() if name.lower() == "x-api-key"), None)
    return {
        "resource": route.path,
        "path": unquote(parts.path),
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {k: unquote(v) for k, v in match.groupdict().items()} or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{stage}{unquote(parts.path)}",
            "stage": stage,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {
                "sourceIp": client_ip,
                "userAgent": headers.get("User-Agent"),
                "apiKey": api_key if api_key_id else None,
                "apiKeyId": api_key_id,
            },
            "domainName": headers.get("Host", "localhost"),
        },
        "body": text if body else None,
        "isBase64Encoded": is_b64,
    }


def describe_effects(body: str) -> str:
    """`setDiscount('Ten off', 10), acceptCoupon('SUMMER10')` from an IntegrationState body."""
    try:
        effects = json.loads(body)["event"]["effects"]
    except (ValueError, KeyError, TypeError):
        return ""
    out = []
    for effect in effects:
        if isinstance(effect, list) and len(effect) == 4 and isinstance(effect[3], list) and effect[3]:
            name, *args = effect[3]
            out.append(f"{name}({', '.join(repr(a) for a in args)})")
        elif isinstance(effect, dict):
            out.append(f"{effect.get('effectType')}({effect.get('props')})")
    return ", ".join(out)


class _ApiHandler(BaseHTTPRequestHandler):
    gateway: Gateway  # set on the subclass made per server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.gateway.handle_http(
            self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
        )
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the caller gave up waiting: as API Gateway, move on
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve


# --- schedules --------------------------------------------------------------------------------


def _cron_field_matches(spec: str, value: int) -> bool:
    if spec in ("*", "?"):
        return True
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            low, high = 0, 10_000
        elif "-" in part:
            low_text, high_text = part.split("-", 1)
            low, high = int(low_text), int(high_text)
        else:
            low = high = int(part)
            if step != 1:
                high = 10_000
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


_DAYS = {"SUN": "1", "MON": "2", "TUE": "3", "WED": "4", "THU": "5", "FRI": "6", "SAT": "7"}
_MONTHS = {
    name: str(number)
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}


def cron_matches(expression: str, when: datetime) -> bool:
    """Whether an EventBridge `cron(min hour dom month dow year)` fires at minute `when`."""
    match = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not match:
        raise ValueError(f"not a cron expression: {expression}")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"cron needs 6 fields: {expression}")
    minute, hour, dom, month, dow, year = fields
    for name, number in _DAYS.items():
        dow = dow.upper().replace(name, number)
    for name, number in _MONTHS.items():
        month = month.upper().replace(name, number)
    aws_dow = (when.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
    return (
        _cron_field_matches(minute, when.minute)
        and _cron_field_matches(hour, when.hour)
        and _cron_field_matches(dom, when.day)
        and _cron_field_matches(month, when.month)
        and _cron_field_matches(dow, aws_dow)
        and _cron_field_matches(year, when.year)
    )


# --- the gateway ------------------------------------------------------------------------------


class Gateway:
    """Serves the template's routes, polls its queues and fires its schedules."""

    def __init__(
        self,
        spec: StackSpec,
        aws: LocalAws,
        resolver: Resolver,
        *,
        extra_environment: dict[str, str] | None = None,
        stage: str = "live",
        reporter: Reporter | None = None,
        poll_wait_seconds: int = 1,
        api_key: str = LOCAL_RELAY_API_KEY,
    ) -> None:
        self.spec = spec
        self.aws = aws
        self.stage = stage
        self.api_key = api_key
        self.report: Reporter = reporter or (lambda line: None)
        self.poll_wait_seconds = poll_wait_seconds
        self.functions: dict[str, LocalFunction] = {}
        #: pollers per queue-fed function: its event source's MaximumConcurrency
        self.pollers: dict[str, int] = {}
        for logical_id, fn in spec.functions.items():
            env = function_environment(fn, resolver, extra_environment or {})
            timeout = float(resolver.resolve(fn.timeout))
            pollers = _number(resolver, fn.max_concurrency, 1) if fn.queue else 0
            reserved = _number(resolver, fn.reserved_concurrency, 0)
            concurrency = reserved or pollers + LOCAL_API_CONCURRENCY
            self.pollers[logical_id] = min(pollers, concurrency)
            self.functions[logical_id] = LocalFunction(fn, env, timeout, concurrency)
        self._receive_locks = {logical_id: threading.Lock() for logical_id in spec.functions}
        self._exported: dict[str, str | None] = {}
        self.resolver = resolver
        self._server: ClosableHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.url = ""
        self.invocations: list[tuple[str, str]] = []  # (function, trigger): for tests and the run log

    # -- lifecycle

    def _export_shared_environment(self) -> None:
        """Put what every function's environment has in common into the process environment (for the
        libraries that read it there: boto3, Powertools), remembering what it replaces."""
        environments = [function.environment for function in self.functions.values()]
        shared = {
            name: value
            for name, value in (environments[0].items() if environments else ())
            if all(env.get(name) == value for env in environments)
        }
        self._exported = {name: os.environ.get(name) for name in shared}
        os.environ.update(shared)

    def _restore_environment(self) -> None:
        for name, value in self._exported.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._exported = {}

    def start(self, port: int = 0, *, poll: bool = True, schedules: bool = True) -> str:
        self._export_shared_environment()
        handler = type("ApiHandler", (_ApiHandler,), {"gateway": self})
        self._server = ClosableHTTPServer(("127.0.0.1", port), handler, thread_name="gateway-conn")
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._spawn(self._server.serve_forever, "gateway-http")
        if poll:
            for fn in self.spec.functions.values():
                for number in range(self.pollers.get(fn.logical_id, 0)):
                    self._spawn(functools.partial(self._poll, fn), f"poll-{fn.logical_id}-{number}")
        if schedules and any(fn.schedules for fn in self.spec.functions.values()):
            self._spawn(self._cron_loop, "scheduler")
        return self.url

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server.join_handlers(timeout=10)
            self._server = None
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        for function in self.functions.values():
            function.retire_idle()  # their connections closed, their batch threads ended
        self._restore_environment()

    # -- API Gateway

    def handle_http(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(raw_path).path
        if path == "/_local/health":
            return 200, {"Content-Type": "application/json"}, b'{"status":"ok"}'
        schedule = re.fullmatch(r"/_local/schedules/([A-Za-z0-9]+)", path)
        if schedule and method == "POST":
            status, result = self._schedule_request(schedule.group(1), body)
            return status, {"Content-Type": "application/json"}, json.dumps(result).encode()
        routes, api_key_id = self._api_for(headers)
        if routes is None:  # API Gateway's answer to a missing or unknown API key, as the key API shapes it
            key_api = next((api for api in self.spec.apis if self.spec.api_key_required(api)), "")
            status, forbidden = self.spec.gateway_response(key_api, "INVALID_API_KEY", FORBIDDEN)
            return status, {"Content-Type": "application/json"}, forbidden
        matches = [r for r in routes if r.pattern.match(path)]
        route = next((r for r in matches if r.method == method), None)
        if route is None:
            status = 405 if matches else 404
            message = f"No route for {method} {unquote(path)}"
            return status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode()
        event = api_event(route, method, raw_path, headers, body, client_ip, self.stage, api_key_id)
        started = time.perf_counter()
        try:
            result = self.functions[route.function].invoke(event)
            status = int(result["statusCode"])
            out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
            text = result.get("body") or ""
            payload = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
        except Exception as exc:  # what API Gateway does when the function fails
            self.report(f"API  {method} {unquote(path)} -> function error {type(exc).__name__}: {exc}")
            return 502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}'
        self.invocations.append((route.function, "api"))
        ms = (time.perf_counter() - started) * 1000
        effects = describe_effects(payload.decode("utf-8", "replace")) if status < 300 else ""
        self.report(
            f"API  {method} {unquote(path)} -> {status} ({ms:.0f} ms)" + (f"  effects: {effects}" if effects else "")
        )
        return status, out_headers, payload

    def _api_for(self, headers: dict[str, str]) -> tuple[list[Route] | None, str | None]:
        """Which REST API a request reaches: (its routes, the API key id API Gateway passes on).

        The template's APIs share the local port. A request with an x-api-key header goes to the API
        whose routes require a key (API Gateway checks it: None means 403); any other request goes to
        the first API that requires none. Routes of the implicit API (no RestApiId) are served as one.
        """
        keyed = [api for api in self.spec.apis if self.spec.api_key_required(api)]
        open_apis = [api for api in self.spec.apis if not self.spec.api_key_required(api)]
        key = next((value for name, value in headers.items() if name.lower() == "x-api-key"), None)
        if key is not None and keyed:
            if key != self.api_key:
                return None, None
            return self.spec.api_routes(keyed[0]), LOCAL_RELAY_API_KEY_ID
        if open_apis:
            return self.spec.api_routes(open_apis[0]), None
        if keyed:  # every API requires a key, and none was sent
            return None, None
        return self.spec.routes, None

    def _schedule_request(self, function: str, body: bytes) -> tuple[int, Any]:
        """POST /_local/schedules/<function>: 404 without a schedule, 400 for bad input, 502 if it fails."""
        fn = self.spec.functions.get(function)
        if fn is None or not fn.schedules:
            return 404, {"error": f"{function} has no schedule"}
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError as exc:
            return 400, {"error": f"schedule input is not valid JSON: {exc}"}
        try:
            return 200, self.run_schedule(function, payload)
        except Exception as exc:  # what a failed asynchronous invocation reports
            self.report(f"CRON {function}: function error {type(exc).__name__}: {exc}")
            return 502, {"error": f"{function} failed: {type(exc).__name__}"}

    # -- SQS event source mappings

    def _poll(self, fn: FunctionSpec) -> None:
        sqs = self.aws.client("sqs")
        while not self._stop.is_set():
            try:
                self.poll_once(fn.logical_id, sqs=sqs, wait=self.poll_wait_seconds)
            except Exception as exc:  # keep polling, as Lambda's poller does
                if self._stop.is_set():
                    return
                self.report(f"SQS  {fn.queue}: poller error {type(exc).__name__}: {exc}")
                time.sleep(0.5)

    def poll_once(self, function: str, *, sqs: Any = None, wait: int = 0) -> int:
        """Receive one batch for `function`, invoke it, delete what succeeded; returns batch size."""
        fn = self.spec.functions[function]
        assert fn.queue, f"{function} has no SQS event"
        sqs = sqs or self.aws.client("sqs")
        url, arn = self.aws.queue_urls[fn.queue], self.aws.queue_arns[fn.queue]
        with self._receive_locks[function]:  # one receive at a time per queue, as SQS serves a FIFO group
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(fn.batch_size, 10),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, arn) for m in messages]}
        try:
            result = self.functions[function].invoke(event) or {}
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        except Exception as exc:  # the whole batch failed: every message comes back
            self.report(f"SQS  {fn.queue}: function error {type(exc).__name__}: {exc}")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )
        self.invocations.append((function, "sqs"))
        self.report(f"SQS  {fn.queue}: {len(messages)} record(s), {len(failed)} left for retry")
        return len(messages)

    # -- schedules

    def run_schedule(self, function: str, payload: Any = None) -> Any:
        """Invoke `function` as its schedule would (its Input, or `payload` when given)."""
        fn = self.spec.functions.get(function)
        if fn is None or not fn.schedules:
            return {"error": f"{function} has no schedule"}
        if payload is None:
            raw = self.resolver.resolve(fn.schedules[0].get("Input", "{}"))
            payload = json.loads(raw) if isinstance(raw, str) else raw
        result = self.functions[function].invoke(payload)
        self.invocations.append((function, "schedule"))
        self.report(f"CRON {function}: {json.dumps(result)}")
        return result

    def _cron_loop(self) -> None:
        last_minute = None
        while not self._stop.wait(1.0):
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            if now == last_minute:
                continue
            last_minute = now
            for fn in self.spec.functions.values():
                for schedule in fn.schedules:
                    expression = str(self.resolver.resolve(schedule.get("ScheduleExpression", "")))
                    if expression.startswith("cron(") and cron_matches(expression, now):
                        try:
                            self.run_schedule(fn.logical_id)
                        except Exception as exc:
                            self.report(f"CRON {fn.logical_id}: error {type(exc).__name__}: {exc}")


def sqs_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to the function."""
    attributes = dict(message.get("Attributes", {}))
    attributes.setdefault("ApproximateReceiveCount", "1")
    attributes.setdefault("SentTimestamp", str(calendar.timegm(time.gmtime()) * 1000))
    attributes.setdefault("SenderId", "LOCAL")
    attributes.setdefault("ApproximateFirstReceiveTimestamp", attributes["SentTimestamp"])
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }
