"""The sample events of an operation-table entry (`events/<function>/`), made from the entry alone.

- `api.json`: an API Gateway REST proxy event for its route: the path and query parameters of the
  contract's `examples` (a path parameter without one is `<letter>-1`, the first letter of the
  resource it names), and the first of its request model's `examples` as the body.
- `sqs.json`: two or three messages on its queue (the format of docs/api.md: path parameters, `query`, `body`,
  `idempotencyKey`), one per body example, each its own customer (ids `-1`, `-2`, `-3`), grouped as the
  entry's FIFO queue groups them. None for an entry without a queue (`queued` false: a GET).
- `schedule.json` and `schedule_ids.json` for the entry the off-peak schedule drains: the drain run `{}`
  and a run naming the ids of its SQS samples.

Every id, time and hash is derived from the entry (nothing random), so the files are the same on every
run and `make lint` can hold them to the table. A webhook receiver's samples are its platform's own
(signed webhooks, `payloads/` one per topic): written by hand, not here.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from talon_relay.operations import Operation
from template.entry import logical_prefix

#: The fixed parts of every sample: an account, a region, an API, a sender.
ACCOUNT = "123456789012"
REGION = "eu-west-1"
API_ID = "a1b2c3d4e5"
STACK = "talon-relay"
SENDER = "acme-shop/2.4 (+https://shop.example.com)"
SOURCE_IP = "203.0.113.10"
REQUEST_TIME = "14/Nov/2025:10:15:30 +0000"
REQUEST_EPOCH_MS = 1763115330000
SEQUENCE_BASE = 18849496460467696128
NAMESPACE = uuid.UUID("8d7c1f36-0b7e-4c55-9e0f-3a9c2b1d4e60")


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _token(length: int, *parts: str) -> str:
    """Letters and digits derived from `parts` (queue name suffixes, API Gateway's ids)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    number = int(_digest(*parts), 16)
    out = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


def body_examples(op: Operation) -> list[dict[str, Any]]:
    """The request model's `examples` (none for an operation without a body)."""
    model = op.body_model
    if model is None:
        return []
    extra = model.model_config.get("json_schema_extra")
    found = extra.get("examples") if isinstance(extra, dict) else None
    listed = found if isinstance(found, list) else []
    bodies = [dict(body) for body in listed if isinstance(body, dict)]
    if not bodies or len(bodies) != len(listed):
        raise ValueError(
            f"{op.name}: its request model {model.__name__} needs sample bodies:"
            " model_config = examples({...}, ...) (talon_relay.wire.base.examples)"
        )
    return bodies


def param_value(op: Operation, name: str, n: int = 1) -> str:
    """The sample value of a path parameter for the n-th customer: the contract's example, numbered."""
    example = op.contract.examples.get(name)
    if example is None:
        resource = op.path.split("{" + name + "}", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        example = f"{(resource.rsplit('_', 1)[-1] or name)[:1].lower()}-1"
    if n == 1:
        return example
    return re.sub(r"\d+$", str(n), example) if re.search(r"\d+$", example) else f"{example}-{n}"


def query_values(op: Operation) -> dict[str, str]:
    """The query parameters the samples send: those the contract gives an example."""
    return {q.name: op.contract.examples[q.name] for q in op.query_params if q.name in op.contract.examples}


def _json(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def api_event(op: Operation) -> dict[str, Any]:
    """The API Gateway REST proxy event of one request on the entry's route."""
    params = {name: param_value(op, name) for name in op.path_params}
    query = query_values(op)
    bodies = body_examples(op)
    path = op.canonical_path(params)
    method = op.method.upper()
    trace = f"Root=1-{_digest(op.function, 'trace')[:8]}-{_digest(op.function, 'trace')[8:32]}"
    headers = {"Accept": "application/json"}
    if bodies:
        headers["Content-Type"] = "application/json"
    headers |= {
        "Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "User-Agent": SENDER,
        "X-Amzn-Trace-Id": trace,
        "X-Forwarded-For": SOURCE_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": op.path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": _token(6, op.path).lower(),
            "resourcePath": op.path,
            "httpMethod": method,
            "extendedRequestId": _token(15, op.function, "extended") + "=",
            "requestTime": REQUEST_TIME,
            "path": f"/live{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "live",
            "domainPrefix": API_ID,
            "requestTimeEpoch": REQUEST_EPOCH_MS,
            "requestId": _uuid(op.function, "api"),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": SOURCE_IP,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": SENDER,
                "user": None,
            },
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "deploymentId": "w8v2zf",
            "apiId": API_ID,
        },
        "body": _json(bodies[0]) if bodies else None,
        "isBase64Encoded": False,
    }


def messages(op: Operation) -> list[dict[str, Any]]:
    """The queued requests of the SQS sample, in the format of docs/api.md: one per body example (2 or 3)."""
    bodies = body_examples(op)
    count = min(max(len(bodies), 2), 3)
    out = []
    for n in range(1, count + 1):
        message: dict[str, Any] = {name: param_value(op, name, n) for name in op.path_params}
        if n == 1 and query_values(op):
            message["query"] = query_values(op)
        if bodies:
            message["body"] = bodies[(n - 1) % len(bodies)]
        if n == 1:
            message["idempotencyKey"] = f"{op.function.replace('_', '-')}-1"
        out.append(message)
    return out


def _group(op: Operation, message: dict[str, Any], n: int) -> str:
    if op.group is not None:  # one group for the whole operation
        return op.group
    assert op.group_by is not None
    value = message.get(op.group_by)
    if value is None and isinstance(message.get("body"), dict):
        value = message["body"].get(op.group_by)
    return value if isinstance(value, str) and value else f"{op.function}-{n}"


def sqs_event(op: Operation) -> dict[str, Any]:
    """The SQS event of a batch from the entry's own queue."""
    suffix = ".fifo" if op.fifo else ""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{logical_prefix(op)}Queue-{_token(12, op.function)}{suffix}"
    records = []
    for n, message in enumerate(messages(op), start=1):
        body = _json(message)
        message_id = _uuid(op.function, "sqs", str(n))
        sent = REQUEST_EPOCH_MS + 137 * (n - 1)
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": "AROAEXAMPLEID123456789:acme-shop-orders",
            "ApproximateFirstReceiveTimestamp": str(sent + 52),
        }
        if op.fifo:
            attributes |= {
                "MessageGroupId": _group(op, message, n),
                "MessageDeduplicationId": message_id,
                "SequenceNumber": str(SEQUENCE_BASE + 1000 * (n - 1)),
            }
        records.append(
            {
                "messageId": message_id,
                "receiptHandle": "AQEB" + _digest(op.function, "receipt", str(n))[:48] + "=",
                "body": body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def schedule_events(op: Operation) -> dict[str, Any]:
    """The two inputs of the schedule's run: drain the queue, or erase the ids it names."""
    (param,) = op.path_params
    return {
        "schedule": {},
        "schedule_ids": {f"{param}s": [message[param] for message in messages(op)]},
    }


def samples(op: Operation) -> dict[str, Any]:
    """The entry's sample events by file name (without .json); none for a webhook receiver, no SQS event for
    an entry without a queue (a GET)."""
    if op.webhook is not None:
        return {}
    found = {"api": api_event(op)}
    if op.queued:
        found["sqs"] = sqs_event(op)
    if op.schedule:
        found |= schedule_events(op)
    return found


def dump(event: Any) -> str:
    """A sample event file's text."""
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"
