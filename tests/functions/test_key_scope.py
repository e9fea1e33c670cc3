"""Each function keeps to its own items of the shared idempotency table: every item it writes (Powertools'
records, used signatures, answers kept in parts, order records) has a key its role's dynamodb:LeadingKeys
condition in template.yaml allows, so IAM can deny it everyone else's (issue 24)."""

from __future__ import annotations

import copy
import json
import random
import re
import string
import uuid
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from talon_relay.callers import applications
from talon_relay.operations import OPERATIONS as OPERATION_TABLE
from talon_relay.operations import Operation
from tests.functions.conftest import SIGNING_SECRET, Stack
from tests.functions.test_api_gateway import OPERATIONS, api_event
from tests.support import LambdaContext, answer_every_route, integration_state, load_event, reset_handlers
from tests.template.helpers import load, role_statements

#: The stack name the function names below are made with (the template's `${AWS::StackName}`).
STACK_NAME = "talon-relay-test"
#: The second application of the deployments of several (docs/applications.md), and its signing secret.
OTHER_APP = "us"
OTHER_SIGNING_SECRET = "fn-test-scope-us-signing-secret-5d2e"


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
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table, ProjectionExpression="id")
    return sorted(item["id"]["S"] for page in pages for item in page["Items"])  # (answer parts fill pages)


def again(queued: dict[str, Any]) -> None:
    """Its record received a second time (maybe its last receive: a session or profile update then marks its
    customer's ordering record, which it settles once applied; core/ordering.py), so that record is written."""
    queued["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"


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

    # When it serves a signed API request with an Idempotency-Key (its signature kept in its idempotency
    # record), one without (its signature an item of its own), and a queued message (on a FIFO queue,
    # with its place in its customer's order) when it polls a queue (a GET has none; a member of the sessions
    # queue only sends to it): the consumer of the sessions queue takes each member's message too
    assert handler(event, LambdaContext())["statusCode"] in (op.success_status, 204)
    assert handler(api_event(folder), LambdaContext())["statusCode"] in (op.success_status, 204)
    carried = [o for o in OPERATIONS if o.shared_queue and o.shared_queue == op.shared_queue and o.webhook is None]
    for sample in [op.function] + [o.function for o in carried if o is not op] if op.polls else []:
        queued = copy.deepcopy(load_event(sample, "sqs"))
        queued["Records"] = queued["Records"][:1]
        again(queued)
        assert handler(queued, LambdaContext()) == {"batchItemFailures": []}

    # Then it wrote the records of each (an idempotency record per keyed call, the used signature, the order record
    # of a session or profile update), and every one has a key its role's LeadingKeys condition allows
    keys = written_keys(stack)
    assert any(".signature#v2:" in key for key in keys), keys
    assert len(keys) >= 2 + op.polls + (entry(folder).last_write_wins and op.polls), keys
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


def with_another_application(stack: Stack, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment serves `default` (the stack's secrets) and OTHER_APP (its own Talon.One key and
    signing secret; the same Talon.One stand-in answers both)."""
    suffix = uuid.uuid4().hex[:8]
    talon = {"baseUrl": httpserver.url_for("/").rstrip("/"), "apiKey": "fn-test-scope-us-talon-key"}
    talon_arn = stack.secrets.create_secret(Name=f"scope-us-talon-{suffix}", SecretString=json.dumps(talon))["ARN"]
    signing = json.dumps({"current": OTHER_SIGNING_SECRET})
    signing_arn = stack.secrets.create_secret(Name=f"scope-us-signing-{suffix}", SecretString=signing)["ARN"]
    document = {
        "applications": [
            {"name": "default"},
            {"name": OTHER_APP, "talonSecretArn": talon_arn, "signingSecretArn": signing_arn},
        ]
    }
    monkeypatch.setenv("TALON_APPLICATIONS", json.dumps(document))


def sealed_record(folder: str, application: str, secret: str) -> dict[str, Any]:
    """The function's sample SQS event, one record, sealed for `application` as the relay seals it."""
    queued = copy.deepcopy(load_event(folder, "sqs"))
    [record] = queued["Records"] = queued["Records"][:1]
    seal = applications.seal(application, record["body"], secret)
    record["messageAttributes"] = {
        applications.APPLICATION_ATTRIBUTE: {"stringValue": application, "dataType": "String"},
        applications.SEAL_ATTRIBUTE: {"stringValue": seal, "dataType": "String"},
    }
    return queued


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.polls], ids=lambda op: op.function)
def test_with_several_applications_every_item_is_still_one_the_role_may_touch(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch, op: Operation
) -> None:
    # Given the function as deployed in stack talon-relay-test, serving two applications
    folder = op.function
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"{STACK_NAME}-{folder.replace('_', '-')}")
    with_another_application(stack, httpserver, monkeypatch)
    reset_handlers()
    handler = load_handler(folder)
    answer_every_route(httpserver)

    # When each application's caller sends it a signed request with an Idempotency-Key and one without
    # (its signature an item of its own), and each application's queued message arrives (sealed, as the
    # relay queues it)
    for secret in (SIGNING_SECRET, OTHER_SIGNING_SECRET):
        event = api_event(folder, headers={"Idempotency-Key": f"scope-{uuid.uuid4()}"}, secret=secret)
        assert handler(event, LambdaContext())["statusCode"] in (op.success_status, 204)
        assert handler(api_event(folder, secret=secret), LambdaContext())["statusCode"] in (op.success_status, 204)
    for application, secret in (("default", SIGNING_SECRET), (OTHER_APP, OTHER_SIGNING_SECRET)):
        queued = sealed_record(folder, application, secret)
        again(queued)
        assert handler(queued, LambdaContext()) == {"batchItemFailures": []}

    # Then the other application's records carry its name inside the function's own prefix, the default
    # application's keep the single-application layout, and every key is one the role's condition allows
    keys = written_keys(stack)
    prefix = f"{STACK_NAME}-{folder.replace('_', '-')}."
    assert any(key.startswith(f"{prefix}signature#{OTHER_APP}/v2:") for key in keys), keys
    assert any(key.startswith(f"{prefix}signature#v2:") for key in keys), keys
    if entry(folder).last_write_wins:
        assert any(key.startswith(f"ordering#{op.shared_queue or op.name}#@{OTHER_APP}#") for key in keys), keys
    patterns = allowed_keys(folder)
    assert [key for key in keys if not any(p.fullmatch(key) for p in patterns)] == []


def test_another_applications_answer_in_parts_is_in_the_functions_own_keys(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given track_event as deployed serving two applications, Talon.One answering 450,000 characters
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"{STACK_NAME}-track-event")
    with_another_application(stack, httpserver, monkeypatch)
    reset_handlers()
    answer = integration_state(attributes={"note": "".join(random.choices(string.ascii_letters, k=450_000))})
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(answer, 201)
    key = f"big-{uuid.uuid4()}"

    # When each application's caller sends it with the same Idempotency-Key
    for secret in (SIGNING_SECRET, OTHER_SIGNING_SECRET):
        event = api_event("track_event", headers={"Idempotency-Key": key}, secret=secret)
        assert load_handler("track_event")(event, LambdaContext())["statusCode"] == 201

    # Then each application's answer has parts of its own, all items of the function's own
    keys = written_keys(stack)
    refs = {key.rpartition("#")[0] for key in keys if ".answer#" in key}
    assert len(refs) == 2, keys
    patterns = allowed_keys("track_event")
    assert [key for key in keys if not any(p.fullmatch(key) for p in patterns)] == []
