"""What the template tests share: the operation table, template.yaml as data, and the reference specs.

template.yaml is loaded with the local stack's loader (local/template.py), the same reading `make run`
uses; every per-operation expectation is derived from talon_relay.operations.OPERATIONS, never restated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template
from talon_relay.operations import OPERATIONS, Operation
from template.entry import logical_prefix
from tests.support import (
    OPENAPI_2020,
    OPENAPI_2026,
    SWAGGER_2019,
    flat_schema,
    june_2026_operation,
    reference_dir,
    reference_spec,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
EVENTS = ROOT / "events"

#: The table's entries, in the order the template renders them.
TABLE: list[Operation] = sorted(OPERATIONS.values(), key=lambda op: op.name)
ops = pytest.mark.parametrize("op", TABLE, ids=lambda op: op.function)
#: The entries with a queue (`Operation.queued`: not a GET, which is answered at once): each has its queue,
#: its dead-letter queue, their alarms and outputs, an SQS event source (or the schedule) and sqs:* permissions.
QUEUED = [op for op in TABLE if op.queued]
UNQUEUED = [op for op in TABLE if not op.queued]
queued_ops = pytest.mark.parametrize("op", QUEUED, ids=lambda op: op.function)
#: The entry whose queue the off-peak erasure schedule drains (today deleteCustomerData).
SCHEDULED = [op for op in TABLE if op.schedule]
#: The Integration API operations the relay serves (the vendor's routes), and the webhook receivers.
INTEGRATION = [op for op in TABLE if op.webhook is None]
WEBHOOKS = [op for op in TABLE if op.webhook is not None]
integration_ops = pytest.mark.parametrize("op", INTEGRATION, ids=lambda op: op.function)
webhook_ops = pytest.mark.parametrize("op", WEBHOOKS, ids=lambda op: op.function)

#: The two REST APIs and the name of the event each function has on it. RelayApi: the function checks
#: the caller's signature; RelayKeyApi: API Gateway checks the x-api-key header.
APIS = {"RelayApi": "Api", "RelayKeyApi": "KeyApi"}
apis = pytest.mark.parametrize("api", list(APIS))


def apis_of(op: Operation) -> dict[str, str]:
    """The APIs an entry's route is on, with its event's name: a webhook receiver is on RelayApi only
    (the platform sends no x-api-key; its own signature is checked by the function)."""
    return dict(APIS) if op.key_api else {"RelayApi": APIS["RelayApi"]}


def webhook_secret(op: Operation) -> str:
    """The logical id of a webhook receiver's platform secret (ShopifyWebhookSecret)."""
    assert op.webhook is not None
    return "".join(part.capitalize() for part in op.webhook.split("_")) + "WebhookSecret"


#: The effective caller signing secret: the stack's own, or the one CallerSigningSecretArn names.
SIGNING_SECRET = {
    "Fn::If": ["CreateCallerSigningSecret", {"Ref": "CallerSigningSecret"}, {"Ref": "CallerSigningSecretArn"}]
}


def prefix(op: Operation) -> str:
    """The operation's logical-id prefix: <prefix>Function, <prefix>Queue, <prefix>DeadLetterQueue ..."""
    return logical_prefix(op)


def kebab(op: Operation) -> str:
    """The operation's name in physical names: <stack>-<kebab> (function, role policy), the log group's
    /aws/lambda/<stack>/<area>/<kebab>."""
    return op.function.replace("_", "-")


def body_model(op: Operation) -> Any:
    """The layer's model of the operation's request body (None: it takes none)."""
    return op.body_model


# --- template.yaml as data ----------------------------------------------------------------------------


def load() -> dict[str, Any]:
    return load_template(TEMPLATE)


def default(parameters: dict[str, Any], name: str) -> Any:
    return parameters[name]["Default"]


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {key: res for key, res in resources.items() if res["Type"] == type_}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def merge(base: Any, override: Any) -> Any:
    """SAM's Globals merge: maps merge key by key, anything else in the resource wins (an intrinsic
    function, `Ref` or `Fn::...`, is not a map to SAM but the value it resolves to)."""
    if isinstance(base, dict) and isinstance(override, dict) and not (_intrinsic(base) or _intrinsic(override)):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return override


def _intrinsic(value: dict[str, Any]) -> bool:
    return (len(value) == 1 and next(iter(value)) in ("Ref", "Condition")) or any(k.startswith("Fn::") for k in value)


def function_properties(template: dict[str, Any], op: Operation) -> dict[str, Any]:
    """A function's effective properties, Globals.Function merged in."""
    own = template["Resources"][f"{prefix(op)}Function"]["Properties"]
    merged = merge(template.get("Globals", {}).get("Function", {}), own)
    assert isinstance(merged, dict)
    return merged


def named_events(template: dict[str, Any], op: Operation, type_: str) -> dict[str, dict[str, Any]]:
    found = template["Resources"][f"{prefix(op)}Function"]["Properties"].get("Events", {}).items()
    return {key: event["Properties"] for key, event in found if event["Type"] == type_}


def events_of(template: dict[str, Any], op: Operation, type_: str) -> list[dict[str, Any]]:
    return list(named_events(template, op, type_).values())


def policy_statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every inline policy, role policy, function policy and queue policy."""
    for key, res in resources.items():
        props = res.get("Properties", {})
        docs: list[Any] = []
        if res["Type"] == "AWS::IAM::Role":
            docs = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy"):
            docs = [props["PolicyDocument"]]
        elif res["Type"] == "AWS::Serverless::Function":
            docs = [p for p in props.get("Policies", []) if isinstance(p, dict) and "Statement" in p]
        for doc in docs:
            for statement in conditional(as_list(doc["Statement"])):
                yield key, statement


#: What `Ref: AWS::NoValue` is in template.yaml as data.
NO_VALUE = {"Ref": "AWS::NoValue"}


def conditional(statements: list[Any], conditions: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """Statements with each `Fn::If` of the list resolved: by `conditions` (condition name: true or
    false) when they name its condition, else both of its branches (what the role may ever hold); a
    branch `AWS::NoValue` is no statement."""
    resolved: list[dict[str, Any]] = []
    for statement in statements:
        if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
            name, then, otherwise = statement["Fn::If"]
            branches = [then, otherwise]
            if conditions is not None and name in conditions:
                branches = [then if conditions[name] else otherwise]
            resolved.extend(branch for branch in branches if branch != NO_VALUE)
        else:
            resolved.append(statement)
    return resolved


def role_statements(
    resources: dict[str, Any], op: Operation, conditions: dict[str, bool] | None = None
) -> list[dict[str, Any]]:
    """The statements of the function's role; an `Fn::If` statement resolved by `conditions`, else both
    of its branches (the role with every option on)."""
    role = resources[f"{prefix(op)}FunctionRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in as_list(policy["PolicyDocument"]["Statement"])]
    return conditional(statements, conditions)


def named_function(resources: dict[str, Any], name: Any) -> str:
    """The logical id of the function whose FunctionName is `name`: an alarm in an area's nested stack
    names its function (`${AWS::StackName}-<function>`) instead of referencing it, which would be a cycle
    (the function needs the role that nested stack makes)."""
    [found] = [
        key
        for key, res in resources.items()
        if res["Type"] == "AWS::Serverless::Function" and res["Properties"].get("FunctionName") == name
    ]
    return found


def alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


# --- the reference specs (../shared/reference; the product never reads them) -------------------------

#: The vendor specs, in the order an operation is looked up: the 2019 one the v1 operations follow
#: first, then today's (v2 operations), then the 2020 one.
SPEC_FILES = (SWAGGER_2019, OPENAPI_2026, OPENAPI_2020)


def spec_operation(op: Operation) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, operation object) of the first reference spec whose op.method op.path is op.name."""
    if reference_dir() is None:
        pytest.skip("reference specs not found in shared/reference beside the repository")
    for name in SPEC_FILES:
        spec = reference_spec(name)
        found = spec.get("paths", {}).get(op.path, {}).get(op.method.lower())
        if isinstance(found, dict) and found.get("operationId") == op.name:
            return spec, found
    june = june_2026_operation(op.path, op.method)  # the June 2026 split specs: v3 events
    if june is not None and june.get("operationId") == op.name:
        return {}, june
    raise AssertionError(f"no reference spec has {op.method} {op.path} as operationId {op.name}")


def body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    """The named schema of the operation's JSON body (Swagger 2 or OpenAPI 3), None without one."""
    schema: Any = None
    for parameter in operation.get("parameters", []):
        if isinstance(parameter, dict) and parameter.get("in") == "body":
            schema = parameter.get("schema")
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"].get("schema")
    if isinstance(schema, dict) and "$ref" not in schema:  # the June 2026 split specs: inline, in parts
        properties, required = flat_schema(schema)
        return {"properties": properties, "required": sorted(required)} if properties else None
    if not isinstance(schema, dict):
        return None
    found: Any = spec
    for part in schema["$ref"].removeprefix("#/").split("/"):
        found = found[part]
    assert isinstance(found, dict)
    return found
