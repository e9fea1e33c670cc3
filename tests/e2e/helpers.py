"""Helpers for the end-to-end tests: HTTP to the relay, SQS in moto, bounded waiting."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode

import urllib3

from local.aws import local_client
from local.stack import LOCAL_API_KEY, LocalStack
from talon_relay.adapters import gateway
from talon_relay.aws import queues
from talon_relay.callers import signatures as callers

T = TypeVar("T")

#: Small values so a failed message comes back within seconds. The local stack does not apply the
#: template's CloudFormation rules (QueueVisibilityTimeout >= 180, i.e. >= 6 x FunctionTimeout), so
#: the tests keep the relationship that matters by hand: a message must stay hidden longer than one
#: invocation spends on it, or the erasure drain (which receives until the queue looks empty)
#: receives a request it just failed again in the same run. FunctionTimeout stays 20 s (the drain
#: keeps a 5 s reserve); the Talon.One client gives up within ~0.3 s (3 attempts, 0.5 s read
#: timeout only for the one delayed answer, 0.05 s backoff); a drain run ends 1 s after its last
#: batch; a visibility timeout of 3 s leaves margin. Pollers are one per queue, invoking one batch
#: at a time, so a long batch is not received twice either.
#: MaxReceiveCount 3: the fault run injects at most two faults for POST /v1/events (never retried
#: by the client) and few enough for PUT that no good message can fail three receives in a row.
#: CallerAuthentication "required", as deployed: every request to RelayApi is signed (Http.relay).
PARAMETERS: dict[str, Any] = {
    "QueueVisibilityTimeout": 3,
    "MaxReceiveCount": 3,
    "LogLevel": "WARNING",
    "CallerAuthentication": "required",
}
FUNCTION_ENVIRONMENT = {
    # a failed message comes back after 3 s (the visibility timeout above), not after backoff.py's 30 s+
    "QUEUE_RETRY_BASE_SECONDS": "3",
    "QUEUE_RETRY_MAX_SECONDS": "3",
    "TALON_READ_TIMEOUT": "0.5",
    "TALON_CONNECT_TIMEOUT": "1",
    "TALON_MAX_RETRIES": "2",
    "TALON_BACKOFF_FACTOR": "0.05",
    "POWERTOOLS_METRICS_DISABLED": "true",
}

#: An id that only survives the trip as one path segment if every hop encodes it right.
AWKWARD_ID = "ada/lovelace ünïcødé 1"

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def segment(value: str) -> str:
    """`value` percent-encoded as exactly one path segment (what a careful caller sends)."""
    return quote(value, safe="")


def canonical_path(path: str) -> str:
    """The path a caller signs: each segment's value percent-encoded as one segment, then the query
    parameters sorted by name, encoded the same way (docs/api.md, "Signing a request")."""
    base, _, query = path.partition("?")
    signed = "/".join(segment(unquote(part)) for part in base.split("/"))
    if query:
        signed += "?" + urlencode(sorted(parse_qsl(query, keep_blank_values=True)), quote_via=quote, safe="")
    return signed


def signing_secret(stack: LocalStack) -> str:
    """The current value of the stack's CallerSigningSecret (what a sender is given)."""
    arn = stack.aws.secret_arns["CallerSigningSecret"]
    client = local_client("secretsmanager", stack.aws.endpoint)
    try:
        value: str = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])["current"]
    finally:
        client.close()
    return value


def wait_until(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy, at most `timeout` seconds; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def masked(value: Any) -> Any:
    """`value` with the volatile parts (timestamps) replaced, for comparing two answers."""
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return "<timestamp>"
    return value


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    data: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.data) if self.data else None


def _payload(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    return (body if isinstance(body, str) else json.dumps(body)).encode()


class Http:
    """Real HTTP over loopback (urllib3, keep-alive) to the relay and straight to the emulator.

    Requests to the relay are signed (X-Relay-Signature) when the stack requires signed callers.
    """

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.pool = urllib3.PoolManager(maxsize=4, retries=False)
        required = stack.describe()["caller_auth"] == "required"
        self.secret = signing_secret(stack) if required else None

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        response = self.pool.request(
            method,
            url,
            body=_payload(body),
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=urllib3.Timeout(connect=2, read=30),
        )
        return Answer(response.status, dict(response.headers), response.data)

    def signature(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """X-Relay-Signature v2 as a sender signs: method, path, Idempotency-Key, Prefer and body, now."""
        secret = secret or self.secret
        assert secret, "the stack does not require signatures"
        return callers.sign(
            secret,
            time.time(),
            method,
            canonical_path(path),
            _payload(body) or b"",
            idempotency_key=gateway.header(headers, "Idempotency-Key"),
            prefer=gateway.header(headers, "Prefer"),
        )

    def relay(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, *, sign: bool = True
    ) -> Answer:
        """A request to the relay's API, signed as a sender would sign it (unless sign=False)."""
        headers = dict(headers or {})
        if sign and self.secret:
            headers.setdefault(callers.SIGNATURE_HEADER, self.signature(method, path, body, headers=headers))
        return self.request(method, self.stack.api_url + path, body, headers)

    def talon(self, method: str, path: str, body: Any = None) -> Answer:
        """The same request sent to Talon.One (the emulator) directly, with the relay's API key."""
        return self.request(
            method, self.stack.emulator_url + path, body, {"Authorization": f"ApiKey-v1 {LOCAL_API_KEY}"}
        )

    def run_schedule(self, function: str, payload: Any = None) -> Answer:
        return self.relay("POST", f"/_local/schedules/{function}", payload)

    def close(self) -> None:
        self.pool.clear()


class Queues:
    """The stack's queues in moto, through boto3."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.sqs = local_client("sqs", stack.aws.endpoint)

    def url(self, logical_id: str) -> str:
        return self.stack.queue_url(logical_id)

    def _entry(self, logical_id: str, message: Any, group: str | None, operation: str | None) -> dict[str, Any]:
        """send_message parameters; on a FIFO queue the message joins its customer's group; on a shared queue
        (SessionsQueue) it names its `operation` (the relayOperation attribute, docs/api.md)."""
        entry: dict[str, Any] = {"MessageBody": message if isinstance(message, str) else json.dumps(message)}
        if self.url(logical_id).endswith(".fifo"):
            entry["MessageGroupId"] = group or message_group(message)
            entry["MessageDeduplicationId"] = uuid.uuid4().hex  # each send is a new message here
        if operation is not None:
            entry["MessageAttributes"] = {"relayOperation": {"DataType": "String", "StringValue": operation}}
        return entry

    def send(self, logical_id: str, message: Any, *, group: str | None = None, operation: str | None = None) -> str:
        entry = self._entry(logical_id, message, group, operation)
        return str(self.sqs.send_message(QueueUrl=self.url(logical_id), **entry)["MessageId"])

    def send_batch(self, logical_id: str, messages: list[Any], *, operation: str | None = None) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), **self._entry(logical_id, m, None, operation)} for i, m in enumerate(chunk)]
            result = self.sqs.send_message_batch(QueueUrl=self.url(logical_id), Entries=entries)
            assert not result.get("Failed"), result.get("Failed")
            ids.extend(item["MessageId"] for item in sorted(result["Successful"], key=lambda s: int(s["Id"])))
        return ids

    def depth(self, logical_id: str) -> int:
        """Messages on the queue: visible, in flight and delayed."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url(logical_id),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def wait_empty(self, *logical_ids: str, timeout: float) -> None:
        wait_until(
            lambda: all(self.depth(q) == 0 for q in logical_ids),
            timeout=timeout,
            interval=0.1,
            what=f"{', '.join(logical_ids)} to be empty",
        )

    def take_all(self, logical_id: str) -> list[dict[str, Any]]:
        """Receive (and delete) every visible message, with attributes: for queues nobody polls (DLQs)."""
        url = self.url(logical_id)
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                return out
            out.extend(batch)
            self.sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            )

    def clear_all(self) -> None:
        """Delete what an earlier test left visible on any queue (PurgeQueue allows one call a minute)."""
        for logical_id in self.stack.aws.queue_urls:
            if self.depth(logical_id):
                self.take_all(logical_id)

    def close(self) -> None:
        self.sqs.close()


def message_group(message: Any) -> str:
    """The FIFO group a sender would choose: the customer the message is about, as the relay derives
    it (the id itself when SQS takes it as a MessageGroupId, else its sha256; docs/api.md, "Queue message formats")."""
    if isinstance(message, dict):
        body: dict[str, Any] = message["body"] if isinstance(message.get("body"), dict) else {}
        for value in (message.get("customerSessionId"), message.get("integrationId"), body.get("sessionId")):
            if isinstance(value, str) and value:
                return queues.message_group_id(value)
    return "e2e"


def attribute(message: dict[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name)
    return None if value is None else str(value["StringValue"])


def talon_requests(stack: LocalStack, *, method: str | None = None, prefix: str = "/v1/") -> list[dict[str, Any]]:
    """The Integration API requests the emulator received (its request log), optionally filtered."""
    return [
        r
        for r in stack.emulator.requests()
        if r["path"].startswith(prefix) and (method is None or r["method"] == method)
    ]


def effect_names(state: dict[str, Any]) -> list[str]:
    """Names of the v1 effects `[campaignId, rulesetId, ruleIndex, [name, *args]]` of an IntegrationState."""
    return [effect[3][0] for effect in state["event"]["effects"]]


# --- delivery tests (test_delivery.py) -------------------------------------------------------


@dataclass
class Invocation:
    """One invocation of a function by the gateway: the event it was given and what it returned."""

    event: Any
    result: Any

    @property
    def records(self) -> list[dict[str, Any]]:
        """The SQS records of the batch (empty for an API event)."""
        if not isinstance(self.event, dict):
            return []
        records: list[dict[str, Any]] = self.event.get("Records") or []
        return records

    @property
    def failed(self) -> set[str]:
        """Message ids the function reported as batch item failures (they go back to the queue)."""
        items = self.result.get("batchItemFailures") or [] if isinstance(self.result, dict) else []
        return {str(item["itemIdentifier"]) for item in items}


def record_invocations(monkeypatch: Any, stack: LocalStack, function: str) -> list[Invocation]:
    """Wrap a function's invoke (undone by `monkeypatch` after the test): every completed invocation
    is appended, in order, to the list returned. Nothing else about the invocation changes."""
    target = stack.gateway.functions[function]
    original = target.invoke
    seen: list[Invocation] = []

    def invoke(event: Any) -> Any:
        result = original(event)
        seen.append(Invocation(event, result))
        return result

    monkeypatch.setattr(target, "invoke", invoke)
    return seen


def relay_within(
    http: Http, timeout: float, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer | None:
    """A signed request to the relay from a sender that waits at most `timeout` seconds for the answer
    and does not retry by itself: None when it gave up (its connection is closed, as a client's is)."""
    headers = dict(headers or {})
    if http.secret:
        headers.setdefault(callers.SIGNATURE_HEADER, http.signature(method, path, body, headers=headers))
    pool = urllib3.PoolManager(maxsize=1, retries=False)
    try:
        response = pool.request(
            method,
            http.stack.api_url + path,
            body=_payload(body),
            headers={"Content-Type": "application/json", **headers},
            timeout=urllib3.Timeout(connect=2, read=timeout),
        )
    except urllib3.exceptions.ReadTimeoutError:
        return None
    finally:
        pool.clear()
    return Answer(response.status, dict(response.headers), response.data)


def until_not_in_progress(send: Callable[[], Answer], *, timeout: float) -> tuple[Answer, int]:
    """Call `send` until its answer is not the relay's 409 "still in progress" (bounded by `timeout`),
    waiting Retry-After between tries; returns the last answer and how many "in progress" came first."""
    deadline = time.monotonic() + timeout
    in_progress = 0
    while True:
        answer = send()
        if answer.status != 409 or "in progress" not in str((answer.json or {}).get("message", "")):
            return answer, in_progress
        in_progress += 1
        if time.monotonic() >= deadline:
            raise AssertionError(f"still in progress after {timeout} s ({in_progress} tries)")
        time.sleep(min(float(answer.headers.get("Retry-After") or 1), 1.0))


def dead_letter_queues(stack: LocalStack) -> list[str]:
    """Logical ids of every dead-letter queue of the stack."""
    return sorted(logical_id for logical_id in stack.aws.queue_urls if "DeadLetter" in logical_id)
