"""DynamoDB round trips of a signed API request, counted by the moto server that serves them.

A signed request writes its signature once (replay protection); one with an Idempotency-Key writes it
with its idempotency record's claim, in the same request (aws.idempotency), so each signed request
makes one round trip before Talon.One is called; a keyed one makes one more after, to keep the answer
for its repeats. Whatever is saved, every guarantee holds: a replay is refused, a retry gets the stored
answer, and each application's records are its own.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from local.extension import SecretsExtension
from talon_relay.aws import secret_values
from tests.functions.conftest import SIGNING_SECRET, Stack
from tests.functions.test_api_gateway import api_event, resigned
from tests.functions.test_cold_path import CHILD
from tests.functions.test_guarantees import unauthorized_reason
from tests.functions.test_key_scope import OTHER_APP, OTHER_SIGNING_SECRET, with_another_application
from tests.functions.test_replay import EVENT, PURCHASE, answer_events, variant
from tests.support import ROOT, LambdaContext, integration_state, load_event, reset_handlers


def purchase(headers: dict[str, str] | None = None, secret: str = SIGNING_SECRET) -> dict[str, Any]:
    return api_event(EVENT, body=PURCHASE, headers=headers, secret=secret)


def test_a_signed_request_without_a_key_is_one_round_trip(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given a signed purchase without an Idempotency-Key
    answer_events(httpserver)
    handler = load_handler(EVENT)
    event = purchase()
    # When it is sent, and then replayed as captured
    first = handler(event, LambdaContext())
    replay = handler(variant(event), LambdaContext())
    # Then each was one DynamoDB request (the signature's conditional write), and the replay was refused
    assert first["statusCode"] == 201
    assert "used before" in unauthorized_reason(replay)
    assert dynamodb_calls() == ["PutItem", "PutItem"]
    assert len(httpserver.log) == 1


def test_a_keyed_request_claims_its_record_and_its_signature_in_one_write(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given a signed purchase with an Idempotency-Key
    answer_events(httpserver)
    handler = load_handler(EVENT)
    event = purchase({"Idempotency-Key": "order-501"})
    # When it is sent
    first = handler(event, LambdaContext())
    # Then one write before Talon.One was called (the claim, with the signature) and one after (the answer)
    assert first["statusCode"] == 201
    assert dynamodb_calls() == ["UpdateItem", "UpdateItem"]
    assert len(httpserver.log) == 1
    # And no signature item of its own: the record holds it
    assert [item for item in stack_items(stack) if ".signature#" in item["id"]["S"]] == []


def test_a_replayed_keyed_request_is_refused_and_a_retry_gets_the_stored_answer(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given a signed purchase with an Idempotency-Key, served once
    answer_events(httpserver)
    handler = load_handler(EVENT)
    event = purchase({"Idempotency-Key": "order-502"})
    first = handler(event, LambdaContext())
    # When it is replayed as captured, then retried by its sender (signed afresh), then that retry replayed
    replay = handler(variant(event), LambdaContext())
    retry = handler(resigned(event), LambdaContext())
    retry_event = resigned(event)
    handler(retry_event, LambdaContext())
    replayed_retry = handler(variant(retry_event), LambdaContext())
    # Then the replays are 401s saying why (one write each: the claim that found the signature), and the
    # retry got the first answer byte for byte without a second Talon.One call
    assert "used before" in unauthorized_reason(replay)
    assert "used before" in unauthorized_reason(replayed_retry)
    assert retry["statusCode"] == 201 and retry["body"] == first["body"]
    assert len(httpserver.log) == 1
    calls = dynamodb_calls()
    assert calls[:3] == ["UpdateItem", "UpdateItem", "UpdateItem"]  # claim, answer; the replay's claim


def test_a_call_that_failed_frees_its_key_but_not_its_signature(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given Talon.One failing once (a 500), then answering
    httpserver.expect_oneshot_request("/v1/events", method="POST").respond_with_json({"message": "down"}, 500)
    handler = load_handler(EVENT)
    event = purchase({"Idempotency-Key": "order-503"})
    failed = handler(event, LambdaContext())
    answer_events(httpserver)
    # When the captured request is replayed, and its sender retries (signed afresh)
    replay = handler(variant(event), LambdaContext())
    retry = handler(resigned(event), LambdaContext())
    # Then the replay is refused, and the retry is served: the key was free again
    assert failed["statusCode"] >= 500
    assert "used before" in unauthorized_reason(replay)
    assert retry["statusCode"] == 201


def test_each_application_keeps_its_own_records_for_the_same_key(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment of two applications, and each one's caller using the same Idempotency-Key
    with_another_application(stack, httpserver, monkeypatch)
    reset_handlers()
    answer_events(httpserver)
    handler = load_handler(EVENT)
    # When each sends a purchase with that key
    answers = [
        handler(purchase({"Idempotency-Key": "shared-7"}, s), LambdaContext())
        for s in (SIGNING_SECRET, OTHER_SIGNING_SECRET)
    ]
    # Then both reached Talon.One: one application's record never answers the other's request
    assert [answer["statusCode"] for answer in answers] == [201, 201]
    assert len(httpserver.log) == 2
    assert OTHER_APP


def stack_items(stack: Stack) -> list[dict[str, Any]]:
    import boto3

    return list(boto3.client("dynamodb").scan(TableName=stack.table)["Items"])


def test_a_signed_first_call_with_the_extension_imports_no_aws_sdk(
    stack: Stack, httpserver: HTTPServer, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function as deployed: the secrets extension, the idempotency table, a signed request
    extension = SecretsExtension(moto_endpoint, token="fn-test-session-token")
    monkeypatch.setenv(secret_values.PORT_VARIABLE, str(extension.start()))
    monkeypatch.setenv("AWS_SESSION_TOKEN", "fn-test-session-token")
    answer_events(httpserver)
    event_path, result_path = tmp_path / "event.json", tmp_path / "result.json"
    event_path.write_text(json.dumps(purchase()))
    try:
        # When a fresh process serves it as a Lambda container's first invocation
        handler = ROOT / "functions" / EVENT / f"{EVENT}.py"
        command = [sys.executable, "-c", CHILD, str(handler), str(event_path), str(result_path)]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    finally:
        extension.stop()
    # Then it was served, its signature recorded, and neither boto3 nor botocore's client was imported
    # (Powertools' user agent imports the bare `botocore` package, which is all but empty)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(result_path.read_text())
    assert result["status"] == 201
    assert {m for m in result["modules"] if m.split(".")[0] == "boto3" or m.startswith("botocore.")} == set()
    assert any(".signature#v2:" in item["id"]["S"] for item in stack_items(stack))


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item, what write units are charged on (one per started KB): attribute names,
    plus strings as UTF-8, numbers at about a byte per two digits, sets as their members."""
    size = 0
    for name, typed in item.items():
        ((kind, value),) = typed.items()
        members = value if kind == "SS" else [value]
        size += len(name.encode()) + sum(
            math.ceil(len(str(v)) / 2) + 1 if kind == "N" else len(str(v).encode()) for v in members
        )
    return size


def test_a_queued_session_update_writes_twice_an_item_of_under_a_kb(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given the sessions queue's consumer and Talon.One answering an IntegrationState with one effect and
    # a few of the customer's attributes (about 1 KB, as the bench's)
    handler = load_handler("update_customer_session")
    answer = integration_state(attributes={f"Attribute{n}": f"value {n}" for n in range(10)})
    httpserver.expect_request("/v1/customer_sessions/s-1", method="PUT").respond_with_json(answer, 200)
    queued = copy.deepcopy(load_event("update_customer_session", "sqs"))
    queued["Records"] = queued["Records"][:1]
    # When its message is processed
    assert handler(queued, LambdaContext()) == {"batchItemFailures": []}
    # Then it read the customer's ordering record once (no holes: nothing to record, core/ordering.py) and
    # wrote twice: the idempotency record's claim and its answer (kept compressed)
    assert dynamodb_calls() == ["GetItem", "UpdateItem", "UpdateItem"]
    items = stack_items(stack)
    assert len(items) == 1
    # And the item is under 1 KB: one write unit per write, 2 in all (the claim's item is smaller still)
    assert all(item_bytes(item) <= 1024 for item in items), [item_bytes(item) for item in items]
    # (the answer as it is would have taken the record past 1 KB: two units)
    [record] = [item for item in items if "data" in item]
    plain = json.dumps(json.dumps(answer, separators=(",", ":")))
    assert item_bytes(record) - len(record["data"]["S"]) + len(plain) > 1024


def test_the_bench_counts_dynamodb_units_by_item_size(stack: Stack) -> None:
    # Given the bench's unit counter on this process's moto, and a client naming its case as the bench's does
    from bench.infra import CASE_HEADER, DynamoUnits

    table = boto3.client("dynamodb")
    table.meta.events.register(
        "before-sign.dynamodb.*", lambda request, **_: request.headers.__setitem__(CASE_HEADER, "sqs")
    )
    key = {"id": {"S": "bench-units"}}
    with DynamoUnits() as counted:
        # When an item of 1.5 KB is put, updated to 2.5 KB, read consistently, read eventually, and deleted
        table.put_item(TableName=stack.table, Item={**key, "data": {"S": "x" * 1536}})
        table.update_item(
            TableName=stack.table,
            Key=key,
            UpdateExpression="SET #data = :data",
            ExpressionAttributeNames={"#data": "data"},
            ExpressionAttributeValues={":data": {"S": "x" * 2560}},
        )
        table.get_item(TableName=stack.table, Key=key, ConsistentRead=True)
        table.get_item(TableName=stack.table, Key=key)
        table.delete_item(TableName=stack.table, Key=key)
    # Then each write took a unit per started KB of the larger of the item before and after (2 + 3 + 3), and
    # each read a unit per started 4 KB, half of it eventually consistent (1 + 0.5)
    assert counted.units == {"sqs": {"write": 8.0, "read": 1.5}}
