"""Each function keeps to its own items of the shared idempotency table: every item it writes (Powertools'
records, used signatures, answers kept in parts, order records) has a key its role's dynamodb:LeadingKeys
condition in template.yaml allows, so IAM can deny it everyone else's (issue 24)."""

from __future__ import annotations

import copy
import random
import re
import string
import uuid
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from talon_relay.operations import OPERATIONS as OPERATION_TABLE
from talon_relay.operations import Operation
from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import OPERATIONS, api_event
from tests.support import LambdaContext, answer_every_route, integration_state, load_event, reset_handlers
from tests.template.helpers import load, role_statements

#: The stack name the function names below are made with (the template's `${AWS::StackName}`).
STACK_NAME = "talon-relay-test"


def entry(folder: str) -> Operation:
    [op] = [op for op in OPERATION_TABLE.values() if op.function == folder]
    return op


def allowed_keys(folder: str) -> list[re.Pattern[str]]:
    """The partition keys the function's role may touch in the idempotency table, as IAM's StringLike
    reads its LeadingKeys condition (`*` any characters, everything else itself)."""
    statements = role_statements(load()["Resources"], entry(folder))
    [statement] = [s for s in statements if s.get("Sid") == "UseIdempotencyTable"]
    patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    texts = [p["Fn::Sub"].replace("${AWS::StackName}", STACK_NAME) if isinstance(p, dict) else p for p in patterns]
    return [re.compile(".*".join(re.escape(part) for part in text.split("*"))) for text in texts]


def written_keys(stack: Stack) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=stack.table, ProjectionExpression="id")["Items"]
    return sorted(item["id"]["S"] for item in items)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.function)
def test_every_item_a_function_writes_is_one_its_role_may_touch(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, op: Operation
) -> None:
    # Given the function as deployed in stack talon-relay-test (its name is in AWS_LAMBDA_FUNCTION_NAME)
    folder = op.function
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"{STACK_NAME}-{folder.replace('_', '-')}")
    reset_handlers()
    handler = load_handler(folder)
    event = api_event(folder, headers={"Idempotency-Key": f"scope-{uuid.uuid4()}"})
    answer_every_route(httpserver)

    # When it serves a signed API request with an Idempotency-Key, and a queued message (on a FIFO queue,
    # with its place in its customer's order) when it has a queue (a GET has none)
    assert handler(event, LambdaContext())["statusCode"] in (op.success_status, 204)
    if op.queued:
        queued = copy.deepcopy(load_event(folder, "sqs"))
        queued["Records"] = queued["Records"][:1]
        assert handler(queued, LambdaContext()) == {"batchItemFailures": []}

    # Then it wrote the records of each (a Powertools record per call, the used signature, the order record
    # of a session or profile update), and every one has a key its role's LeadingKeys condition allows
    keys = written_keys(stack)
    assert any(".signature#v2:" in key for key in keys), keys
    assert len(keys) >= 2 + op.queued + entry(folder).last_write_wins, keys
    patterns = allowed_keys(folder)
    assert [key for key in keys if not any(p.fullmatch(key) for p in patterns)] == []


def test_an_answer_kept_in_parts_is_in_the_functions_own_keys(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given track_event as deployed, and Talon.One answering 450,000 characters no compression shrinks
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"{STACK_NAME}-track-event")
    reset_handlers()
    answer = integration_state(attributes={"note": "".join(random.choices(string.ascii_letters, k=450_000))})
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(answer, 201)
    event = api_event("track_event", headers={"Idempotency-Key": f"big-{uuid.uuid4()}"})

    # When a caller sends it
    assert load_handler("track_event")(event, LambdaContext())["statusCode"] == 201

    # Then its answer's parts are items of the function's own, as its records are
    keys = written_keys(stack)
    assert any(".answer#" in key for key in keys), keys
    patterns = allowed_keys("track_event")
    assert [key for key in keys if not any(p.fullmatch(key) for p in patterns)] == []
