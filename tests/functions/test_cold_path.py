"""The cold path: a fresh process serving its first event imports pydantic-core, never pydantic.

pydantic's import is about a quarter of a cold start on python3.13 (bench/results.md): the functions
check bodies with `checkers` and read their settings and the Talon.One secret as `records`, so a
first call that succeeds never builds a model. An error answer may import it (`errors`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from talon_relay.operations import Operation
from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import OPERATIONS, api_event, expect
from tests.support import ROOT, success_answer

#: A Lambda container's first invocation, in a process of its own; writes what it imported.
CHILD = """
import importlib.util, json, sys

path, event_path, result_path = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("function", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)


class Context:
    function_name = "cold-path"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-path"
    aws_request_id = "cold-path-1"

    def get_remaining_time_in_millis(self):
        return 30000


with open(event_path) as file:
    response = module.handler(json.load(file), Context())
with open(result_path, "w") as file:
    json.dump({"status": response["statusCode"], "modules": sorted(sys.modules)}, file)
"""

#: What a first successful call must not import: pydantic itself and the model modules.
MODEL_MODULES = (
    "talon_relay.wire.models",
    "talon_relay.wire.models_v2",
    "talon_relay.wire.responses",
    "talon_relay.wire.base",
)

#: What publishing effects on the event bus imports: none of it without EVENT_BUS_NAME.
BUS_MODULES = ("talon_relay.core.bus", "talon_relay.aws.events", "mypy_boto3_events")


def first_call(folder: str, event: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    event_path, result_path = tmp_path / "event.json", tmp_path / "result.json"
    event_path.write_text(json.dumps(event))
    handler = ROOT / "functions" / folder / f"{folder}.py"
    command = [sys.executable, "-c", CHILD, str(handler), str(event_path), str(result_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.function)
def test_a_first_call_that_succeeds_never_imports_pydantic(
    stack: Stack, httpserver: HTTPServer, tmp_path: Path, op: Operation
) -> None:
    folder, status = op.function, op.success_status
    # Given a function's signed sample event and Talon.One answering with success
    event = api_event(folder)
    expect(httpserver, op.method, op.path.format(**(event.get("pathParameters") or {})), status, success_answer(op))

    # When a fresh process serves it as a Lambda container's first invocation
    result = first_call(folder, event, tmp_path)

    # Then it answered with Talon.One's status, having validated with pydantic-core alone
    assert result["status"] == status
    modules = set(result["modules"])
    assert "pydantic_core" in modules
    assert {name for name in modules if name == "pydantic" or name.startswith("pydantic.")} == set()
    assert modules.isdisjoint(MODEL_MODULES)
    # and without msgspec, which only a body of checkers.FAST_BYTES or more is offered to
    assert {name for name in modules if name == "msgspec" or name.startswith("msgspec.")} == set()
    # And, as deployed with the template's defaults (EffectsToEventBus=disabled: no EVENT_BUS_NAME), it
    # published nothing and imported nothing of the event bus (docs/events.md)
    assert modules.isdisjoint(BUS_MODULES)


def test_an_invalid_body_is_still_answered_with_each_fault(stack: Stack, tmp_path: Path) -> None:
    # Given a first event whose body breaks the model (the error answer is where pydantic may load)
    event = api_event("create_referral", body={"campaignId": "7", "advocateProfileIntegrationId": 1})

    # When a fresh process serves it
    result = first_call("create_referral", event, tmp_path)

    # Then it is a 400, as in a warm container
    assert result["status"] == 400
