"""The deployable shape of talon-relay, checked offline: template.yaml, samconfig.toml, events/.

Each test reads the files as they are on disk (no AWS, no network) and says, Given/When/Then, what
the stack promises: five functions on one layer, the Integration API's five routes on two APIs (one
where the functions check a signature, one where API Gateway checks an API key), a queue and a
dead-letter queue per operation (FIFO where order matters), an idempotency table, the caller signing
secret, the erasure schedule, least-privilege roles, alarms, and sample events whose bodies are valid
Integration API requests.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from talon_relay import models

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
EVENTS = ROOT / "events"
SPEC = ROOT.parent / "shared" / "reference" / "talon_one_swagger-20052019.yaml"


@dataclass(frozen=True)
class Operation:
    name: str  # logical-id prefix: <name>Function, <name>Queue, <name>DeadLetterQueue
    folder: str  # functions/<folder>/<folder>.py and events/<folder>/
    operation_id: str  # the spec's operationId
    method: str
    path: str
    body_model: type[BaseModel] | None
    body_definition: str | None  # the spec definition the body follows
    queue_trigger: bool  # an SQS event on its own queue (delete: drained by the schedule instead)
    fifo: bool  # its queue and DLQ are FIFO (a customer's updates must stay in order)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


OPERATIONS = [
    Operation(
        "CreateReferral",
        "create_referral",
        "createReferral",
        "POST",
        "/v1/referrals",
        models.NewReferral,
        "NewReferral",
        True,
        False,
    ),
    Operation(
        "DeleteCustomerData",
        "delete_customer_data",
        "deleteCustomerData",
        "DELETE",
        "/v1/customer_data/{integrationId}",
        None,
        None,
        False,
        False,
    ),
    Operation(
        "TrackEvent",
        "track_event",
        "trackEvent",
        "POST",
        "/v1/events",
        models.NewEvent,
        "NewEvent",
        True,
        True,
    ),
    Operation(
        "UpdateCustomerProfile",
        "update_customer_profile",
        "updateCustomerProfile",
        "PUT",
        "/v1/customer_profiles/{integrationId}",
        models.NewCustomerProfile,
        "NewCustomerProfile",
        True,
        True,
    ),
    Operation(
        "UpdateCustomerSession",
        "update_customer_session",
        "updateCustomerSession",
        "PUT",
        "/v1/customer_sessions/{customerSessionId}",
        models.NewCustomerSession,
        "NewCustomerSession",
        True,
        True,
    ),
]
BY_FOLDER = {op.folder: op for op in OPERATIONS}
ops = pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.folder)

#: The two REST APIs and the name of the event each function has on it. RelayApi: the function checks
#: the caller's signature; RelayKeyApi: API Gateway checks the x-api-key header.
APIS = {"RelayApi": "Api", "RelayKeyApi": "KeyApi"}
apis = pytest.mark.parametrize("api", list(APIS))

#: The effective caller signing secret: the stack's own, or the one CallerSigningSecretArn names.
SIGNING_SECRET = {
    "Fn::If": ["CreateCallerSigningSecret", {"Ref": "CallerSigningSecret"}, {"Ref": "CallerSigningSecretArn"}]
}
#: The item actions Powertools idempotency needs on its table, and nothing else.
IDEMPOTENCY_ACTIONS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}

#: Top-level keys of an API Gateway REST proxy event (`sam local generate-event apigateway aws-proxy`).
API_EVENT_KEYS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
#: Keys of one record of an SQS event (`sam local generate-event sqs receive-message`).
SQS_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


# --- loading --------------------------------------------------------------------------------


def _intrinsic(tag: str, value: Any) -> dict[str, Any]:
    """A CloudFormation short tag as its long form: !Ref x -> {"Ref": x}, !Sub s -> {"Fn::Sub": s}."""
    name = tag[1:]
    if name == "Ref":
        return {"Ref": value}
    if name == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{name}": value}


def _to_python(node: yaml.Node, scalars: yaml.constructor.SafeConstructor) -> Any:
    """A composed YAML node as plain data, CloudFormation short tags included (safe: no objects)."""
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = {_to_python(k, scalars): _to_python(v, scalars) for k, v in node.value}
    elif isinstance(node, yaml.SequenceNode):
        value = [_to_python(item, scalars) for item in node.value]
    elif node.tag.startswith("!"):
        value = node.value
    else:
        value = scalars.construct_object(node)
    return _intrinsic(node.tag, value) if node.tag.startswith("!") else value


def load_template() -> dict[str, Any]:
    node = yaml.compose(TEMPLATE.read_text(), Loader=yaml.SafeLoader)
    assert node is not None
    loaded = _to_python(node, yaml.constructor.SafeConstructor())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


@pytest.fixture(scope="module")
def parameters(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Parameters"])


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"reference spec not found at {SPEC}")
    loaded = yaml.safe_load(SPEC.read_text())
    assert isinstance(loaded, dict)
    return loaded


def merge(base: Any, override: Any) -> Any:
    """SAM's Globals merge: maps merge key by key, anything else in the resource wins."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return override


def function_properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A function's effective properties, Globals.Function merged in."""
    own = template["Resources"][f"{name}Function"]["Properties"]
    merged = merge(template.get("Globals", {}).get("Function", {}), own)
    assert isinstance(merged, dict)
    return merged


def default(parameters: dict[str, Any], name: str) -> Any:
    return parameters[name]["Default"]


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {key: res for key, res in resources.items() if res["Type"] == type_}


def events_of(template: dict[str, Any], name: str, type_: str) -> list[dict[str, Any]]:
    found = template["Resources"][f"{name}Function"]["Properties"].get("Events", {}).values()
    return [event["Properties"] for event in found if event["Type"] == type_]


def named_events_of(template: dict[str, Any], name: str, type_: str) -> dict[str, dict[str, Any]]:
    found = template["Resources"][f"{name}Function"]["Properties"].get("Events", {}).items()
    return {key: event["Properties"] for key, event in found if event["Type"] == type_}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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
            for statement in as_list(doc["Statement"]):
                yield key, statement


def role_statements(resources: dict[str, Any], name: str) -> list[dict[str, Any]]:
    role = resources[f"{name}FunctionRole"]["Properties"]
    return [s for policy in role["Policies"] for s in as_list(policy["PolicyDocument"]["Statement"])]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


# --- the layer and the functions ------------------------------------------------------------


def test_layer_is_built_for_python313_on_arm64(resources: dict[str, Any]) -> None:
    # Given the template's shared layer
    layer = resources["TalonRelayLayer"]

    # Then it is a SAM layer built from layers/talon_relay/ for python3.13 on arm64
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    props = layer["Properties"]
    assert props["ContentUri"] == "layers/talon_relay/"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    # And the folder holds what the build needs: requirements, the package, and a Makefile that installs
    # python3.13 arm64 wheels and compiles bytecode (Lambda cannot write __pycache__ under /opt)
    assert (ROOT / "layers/talon_relay/requirements.txt").is_file()
    assert (ROOT / "layers/talon_relay/talon_relay/__init__.py").is_file()
    makefile = (ROOT / "layers/talon_relay/Makefile").read_text()
    assert "build-TalonRelayLayer:" in makefile
    assert "--python-version 3.13" in makefile and "manylinux2014_aarch64" in makefile
    assert "compileall" in makefile


def test_there_are_exactly_five_functions(resources: dict[str, Any]) -> None:
    # Given the template's functions
    functions = of_type(resources, "AWS::Serverless::Function")

    # Then there is one per Integration API operation, and no other
    assert set(functions) == {f"{op.name}Function" for op in OPERATIONS}


@ops
def test_function_runs_its_handler_on_the_layer(template: dict[str, Any], op: Operation) -> None:
    # Given the function of an operation, Globals applied
    props = function_properties(template, op.name)

    # Then it runs python3.13 on arm64 with the layer, traced, logging JSON
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Layers"] == [ref("TalonRelayLayer")]
    assert props["Tracing"] == "Active"
    assert props["MemorySize"] == 256
    assert props["Timeout"] == ref("FunctionTimeout")
    assert props["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": ref(f"{op.name}LogGroup")}
    # And its code is functions/<op>/<op>.py, which defines `handler`
    assert props["CodeUri"] == f"functions/{op.folder}/"
    assert props["Handler"] == f"{op.folder}.handler"
    module = ROOT / "functions" / op.folder / f"{op.folder}.py"
    assert module.is_file(), f"{module} is missing"
    tree = ast.parse(module.read_text())
    top_level = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "handler" in top_level


@ops
def test_function_environment_names_its_secret_and_its_queues(
    template: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given the function's environment, Globals applied
    env = function_properties(template, op.name)["Environment"]["Variables"]

    # Then it carries the shared settings and the URLs of its own queue and DLQ
    assert env["TALON_SECRET_ARN"] == ref("TalonSecretArn")
    assert env["POWERTOOLS_SERVICE_NAME"] == "talon-relay"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == ref("MetricsNamespace")
    assert default(parameters, "MetricsNamespace") == "TalonRelay"
    assert env["POWERTOOLS_LOG_LEVEL"] == ref("LogLevel")
    assert default(parameters, "LogLevel") == "INFO"
    assert env["TALON_SECRET_MAX_AGE"] == "300"
    assert env["QUEUE_URL"] == ref(f"{op.name}Queue")
    assert env["DEAD_LETTER_QUEUE_URL"] == ref(f"{op.name}DeadLetterQueue")
    # And the idempotency table with the records' lifetime (a day by default)
    assert env["IDEMPOTENCY_TABLE_NAME"] == ref("IdempotencyTable")
    assert env["IDEMPOTENCY_EXPIRY_SECONDS"] == ref("IdempotencyExpirySeconds")
    assert default(parameters, "IdempotencyExpirySeconds") == 86400
    # And caller authentication, required by default, with the effective signing secret
    assert env["CALLER_AUTH"] == ref("CallerAuthentication")
    assert default(parameters, "CallerAuthentication") == "required"
    assert env["CALLER_SIGNING_SECRET_ARN"] == SIGNING_SECRET


@ops
def test_function_logs_to_its_own_log_group(
    resources: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given the function's log group
    group = resources[f"{op.name}LogGroup"]

    # Then it is /aws/lambda/<function name> and kept for LogRetentionInDays
    assert group["Type"] == "AWS::Logs::LogGroup"
    function_name = resources[f"{op.name}Function"]["Properties"]["FunctionName"]["Fn::Sub"]
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}
    assert group["Properties"]["RetentionInDays"] == ref("LogRetentionInDays")
    assert default(parameters, "LogRetentionInDays") in parameters["LogRetentionInDays"]["AllowedValues"]


# --- triggers -------------------------------------------------------------------------------


def test_the_template_has_exactly_the_two_rest_apis(resources: dict[str, Any]) -> None:
    # Given the template's APIs
    found = set(of_type(resources, "AWS::Serverless::Api")) | set(of_type(resources, "AWS::ApiGateway::RestApi"))

    # Then there are the signature API and the API-key API, and no other
    assert found == set(APIS)
    assert not of_type(resources, "AWS::Serverless::HttpApi")


@apis
def test_api_routes_are_exactly_the_five_integration_operations(
    template: dict[str, Any], spec: dict[str, Any], api: str
) -> None:
    # Given every Api event of every function on one of the two APIs
    routes = []
    for op in OPERATIONS:
        for event in events_of(template, op.name, "Api"):
            assert event["RestApiId"] in [ref(name) for name in APIS]
            if event["RestApiId"] == ref(api):
                routes.append((event["Method"].upper(), event["Path"]))

    # Then they are the spec's five integration operations, same verbs, same paths, each once
    integration = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "integration" in operation.get("tags", [])
    }
    assert len(routes) == len(set(routes)) == 5
    assert set(routes) == integration == {(op.method, op.path) for op in OPERATIONS}


@ops
def test_each_function_serves_its_own_route_on_both_apis(template: dict[str, Any], op: Operation) -> None:
    # Given the function's Api events, by event name
    api = named_events_of(template, op.name, "Api")

    # Then it serves exactly its operation's route: `Api` on RelayApi, `KeyApi` on RelayKeyApi
    assert {key: (e["RestApiId"], e["Method"].upper(), e["Path"]) for key, e in api.items()} == {
        event: (ref(name), op.method, op.path) for name, event in APIS.items()
    }
    # And neither event overrides its API's authentication
    assert all("Auth" not in e for e in api.values())


@apis
def test_rest_api_stage_is_throttled_and_traced(
    resources: dict[str, Any], parameters: dict[str, Any], api: str
) -> None:
    # Given one of the REST APIs
    resource = resources[api]
    props = resource["Properties"]

    # Then its stage comes from a parameter, X-Ray traces it, and every method is throttled
    assert resource["Type"] == "AWS::Serverless::Api"
    assert props["StageName"] == ref("ApiStageName")
    assert default(parameters, "ApiStageName") == "live"
    assert props["TracingEnabled"] is True
    assert props["OpenApiVersion"] == "3.0.1"  # no extra "Stage" stage
    assert props["EndpointConfiguration"] == {"Type": "REGIONAL"}
    [settings] = props["MethodSettings"]
    assert settings["ResourcePath"] == "/*"
    assert settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == ref("ApiThrottlingRateLimit")
    assert settings["ThrottlingBurstLimit"] == ref("ApiThrottlingBurstLimit")
    assert settings.get("DataTraceEnabled", False) is False  # bodies hold customer attributes


def test_signature_api_leaves_authentication_to_the_functions(resources: dict[str, Any]) -> None:
    # Given the signature API
    props = resources["RelayApi"]["Properties"]

    # Then API Gateway asks for no key and no authorizer: the function checks the signature
    assert "Auth" not in props


def test_key_api_requires_an_api_key_under_a_usage_plan(resources: dict[str, Any]) -> None:
    # Given the API-key API
    auth = resources["RelayKeyApi"]["Properties"]["Auth"]

    # Then every route requires an API key
    assert auth["ApiKeyRequired"] is True
    assert "DefaultAuthorizer" not in auth
    # And SAM creates the key and a usage plan for this API alone, throttled like the stage
    plan = auth["UsagePlan"]
    assert plan["CreateUsagePlan"] == "PER_API"
    assert plan["UsagePlanName"] == {"Fn::Sub": "${AWS::StackName}-senders"}
    assert plan["Throttle"] == {
        "RateLimit": ref("ApiThrottlingRateLimit"),
        "BurstLimit": ref("ApiThrottlingBurstLimit"),
    }


@apis
def test_api_access_logs_only_when_enabled(resources: dict[str, Any], parameters: dict[str, Any], api: str) -> None:
    # Given one of the REST APIs' access log setting
    setting = resources[api]["Properties"]["AccessLogSetting"]

    # Then it logs to its own log group only under ApiAccessLoggingEnabled (off by default)
    condition, enabled, disabled = setting["Fn::If"]
    assert condition == "ApiAccessLoggingEnabled"
    assert default(parameters, "ApiAccessLogging") == "disabled"
    assert disabled == ref("AWS::NoValue")
    group = enabled["DestinationArn"]["Fn::GetAtt"][0]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    assert resources[group]["Condition"] == "ApiAccessLoggingEnabled"


@ops
def test_queue_triggered_functions_report_batch_item_failures(template: dict[str, Any], op: Operation) -> None:
    # Given the function's SQS events
    sqs = events_of(template, op.name, "SQS")
    if not op.queue_trigger:
        # Then the erasure queue has none: the schedule drains it off-peak
        assert sqs == []
        return

    # Then it has one, on its own queue, batches of 10, reporting partial batch failures
    [event] = sqs
    assert event["Queue"] == arn_of(f"{op.name}Queue")
    assert event["BatchSize"] == 10
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # And it waits to fill a batch only on a standard queue (Lambda has no batching window for FIFO)
    if op.fifo:
        assert "MaximumBatchingWindowInSeconds" not in event
    else:
        assert event["MaximumBatchingWindowInSeconds"] == ref("SqsBatchWindow")


def test_every_sqs_event_in_the_template_reports_batch_item_failures(
    template: dict[str, Any],
) -> None:
    # Given all SQS events, whichever function they belong to
    functions = of_type(template["Resources"], "AWS::Serverless::Function")
    events = [
        event["Properties"]
        for fn in functions.values()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]

    # Then there are four (not deleteCustomerData) and each reports batch item failures
    assert len(events) == 4
    assert all("ReportBatchItemFailures" in e["FunctionResponseTypes"] for e in events)


def test_erasure_schedule_drains_the_delete_queue_off_peak(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the deleteCustomerData function's schedule
    [schedule] = events_of(template, "DeleteCustomerData", "ScheduleV2")

    # Then it runs on the ErasureSchedule parameter (off-peak by default) in its time zone
    assert schedule["ScheduleExpression"] == ref("ErasureSchedule")
    assert default(parameters, "ErasureSchedule") == "cron(0 3 * * ? *)"
    assert re.fullmatch(parameters["ErasureSchedule"]["AllowedPattern"], "rate(6 hours)")
    assert schedule["ScheduleExpressionTimezone"] == ref("ErasureScheduleTimezone")
    assert default(parameters, "ErasureScheduleTimezone") == "UTC"
    # And its input is the drain request `{}`, the same as events/delete_customer_data/schedule.json
    assert json.loads(schedule["Input"]) == {}
    assert load_json(EVENTS / "delete_customer_data" / "schedule.json") == {}
    # And it retries, then dead-letters into its own encrypted queue
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert 60 <= schedule["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86400
    assert schedule["DeadLetterConfig"] == {"Arn": arn_of("ErasureScheduleDeadLetterQueue")}
    dlq = resources["ErasureScheduleDeadLetterQueue"]
    assert dlq["Type"] == "AWS::SQS::Queue"
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    # And a run that starts but fails in the function lands in the same queue
    invoke = resources["DeleteCustomerDataFunction"]["Properties"]["EventInvokeConfig"]
    on_failure = invoke["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": arn_of("ErasureScheduleDeadLetterQueue")}


# --- queues ---------------------------------------------------------------------------------


def test_every_queue_is_one_of_the_expected_ones(resources: dict[str, Any]) -> None:
    # Given all queues
    queues = set(of_type(resources, "AWS::SQS::Queue"))

    # Then each operation has a queue and a DLQ, plus the erasure schedule's DLQ
    expected = {f"{op.name}{kind}" for op in OPERATIONS for kind in ("Queue", "DeadLetterQueue")}
    assert queues == expected | {"ErasureScheduleDeadLetterQueue"}


@ops
def test_queue_redrives_into_its_dead_letter_queue(
    resources: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given the operation's queue and its DLQ
    queue = resources[f"{op.name}Queue"]["Properties"]
    dlq = resources[f"{op.name}DeadLetterQueue"]["Properties"]

    # Then a message moves to the DLQ after MaxReceiveCount receives (5 by default)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": arn_of(f"{op.name}DeadLetterQueue"),
        "maxReceiveCount": ref("MaxReceiveCount"),
    }
    assert default(parameters, "MaxReceiveCount") == 5
    # And the DLQ keeps it 14 days, no shorter than the queue keeps its own
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue.get("MessageRetentionPeriod", 4 * 24 * 3600) <= dlq["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dlq


@ops
def test_queue_is_fifo_exactly_when_order_matters(resources: dict[str, Any], op: Operation) -> None:
    # Given the operation's queue and its DLQ
    queue = resources[f"{op.name}Queue"]["Properties"]
    dlq = resources[f"{op.name}DeadLetterQueue"]["Properties"]
    fifo_keys = {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}

    if not op.fifo:
        # Then a referral (a standalone create) and an erasure (idempotent) use standard queues
        assert not fifo_keys & set(queue), op.name
        assert not fifo_keys & set(dlq), op.name
        return

    # Then a customer's session, profile and event updates go through a FIFO queue that drops a
    # resent identical request, in high-throughput mode (deduplication and throughput per group)
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is True
    assert queue["DeduplicationScope"] == "messageGroup"
    assert queue["FifoThroughputLimit"] == "perMessageGroupId"
    # And the DLQ is FIFO too (SQS requires it), so the code can forward without a deduplication id
    assert dlq["FifoQueue"] is True
    assert dlq["ContentBasedDeduplication"] is True
    # And generated names are left to CloudFormation (a FIFO QueueName would have to end in .fifo)
    assert "QueueName" not in queue and "QueueName" not in dlq


def test_fifo_and_standard_queues_are_the_expected_ones(resources: dict[str, Any]) -> None:
    # Given all queues
    queues = of_type(resources, "AWS::SQS::Queue")

    # Then exactly the session, profile and event queues and their DLQs are FIFO
    fifo = {key for key, queue in queues.items() if queue["Properties"].get("FifoQueue") is True}
    assert fifo == {
        f"{name}{kind}"
        for name in ("UpdateCustomerSession", "UpdateCustomerProfile", "TrackEvent")
        for kind in ("Queue", "DeadLetterQueue")
    }


def test_every_queue_is_encrypted(resources: dict[str, Any]) -> None:
    # Given all queues
    queues = of_type(resources, "AWS::SQS::Queue")

    # Then each one has SQS-managed server-side encryption on
    assert queues
    for key, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, key


def test_visibility_timeout_covers_six_function_timeouts(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the timeout parameters
    timeout = parameters["FunctionTimeout"]
    visibility = parameters["QueueVisibilityTimeout"]
    window = parameters["SqsBatchWindow"]

    # Then with the defaults the visibility timeout is at least 6 x timeout + batching window
    assert default(parameters, "FunctionTimeout") == 20
    assert template["Globals"]["Function"]["Timeout"] == ref("FunctionTimeout")
    assert int(visibility["Default"]) >= 6 * int(timeout["Default"]) + int(window["Default"])
    # And the parameter bounds keep it so for every value a deployer may choose
    assert int(visibility["MinValue"]) >= 6 * int(timeout["MaxValue"]) + int(window["MaxValue"])
    # And API Gateway's 29 second limit caps the function timeout
    assert int(timeout["MaxValue"]) <= 29
    # And every queue a function consumes uses that visibility timeout
    for op in OPERATIONS:
        assert resources[f"{op.name}Queue"]["Properties"]["VisibilityTimeout"] == ref("QueueVisibilityTimeout")


def test_queues_refuse_requests_without_tls(resources: dict[str, Any]) -> None:
    # Given the queue policies
    policies = of_type(resources, "AWS::SQS::QueuePolicy").values()

    # Then every queue is covered by a Deny on aws:SecureTransport false
    covered = set()
    for policy in policies:
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                covered |= {r["Fn::GetAtt"][0] for r in as_list(statement["Resource"])}
    assert covered == set(of_type(resources, "AWS::SQS::Queue"))


# --- permissions ----------------------------------------------------------------------------


def test_no_policy_grants_every_resource_except_xray(resources: dict[str, Any]) -> None:
    # Given every policy statement in the template
    statements = list(policy_statements(resources))
    assert statements

    # Then no Allow names Resource "*", except X-Ray's writes (it has no resource-level permissions)
    for key, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), (key, actions)
        if "*" in as_list(statement["Resource"]):
            assert all(a.startswith("xray:") for a in actions), (key, statement)
        else:
            # (and no ARN pattern with a wildcard either)
            strings = [r for r in as_list(statement["Resource"]) if isinstance(r, str)]
            assert not any("*" in r for r in strings), (key, statement)


@ops
def test_function_has_its_own_role_without_managed_policies(resources: dict[str, Any], op: Operation) -> None:
    # Given the function
    props = resources[f"{op.name}Function"]["Properties"]

    # Then it uses its own role, so SAM adds no managed policy (AWSLambdaSQSQueueExecutionRole
    # and AWSLambdaBasicExecutionRole would grant every queue and every log group)
    assert props["Role"] == arn_of(f"{op.name}FunctionRole")
    assert "Policies" not in props
    role = resources[f"{op.name}FunctionRole"]
    assert role["Type"] == "AWS::IAM::Role"
    assert "ManagedPolicyArns" not in role["Properties"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]


@ops
def test_function_reads_only_the_talon_and_signing_secrets(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the function's role
    statements = role_statements(resources, op.name)

    # Then the only secrets it may read are TalonSecretArn and the effective caller signing secret,
    # and only with GetSecretValue
    secret = [s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert all(s["Effect"] == "Allow" for s in secret)
    assert [as_list(s["Action"]) for s in secret] == [["secretsmanager:GetSecretValue"]] * 2
    resources_ = [r for s in secret for r in as_list(s["Resource"])]
    assert sorted(resources_, key=json.dumps) == sorted([ref("TalonSecretArn"), SIGNING_SECRET], key=json.dumps)
    # And no KMS right comes with them (both secrets use the AWS managed key by default)
    assert not any(a.startswith("kms:") for s in statements for a in as_list(s["Action"]))


@ops
def test_function_uses_only_the_idempotency_table(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the function's role
    statements = role_statements(resources, op.name)

    # Then its DynamoDB rights are exactly the four item actions, on the idempotency table alone
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert len(dynamodb) == 1
    [statement] = dynamodb
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == sorted(IDEMPOTENCY_ACTIONS)
    assert as_list(statement["Resource"]) == [arn_of("IdempotencyTable")]


@ops
def test_function_reaches_only_its_own_queues_and_log_group(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the function's role
    statements = role_statements(resources, op.name)

    # Then its SQS rights are: consume its queue, send to it (async mode: the API queues the request
    # and answers 202), send to its DLQ (poison messages with a reason)
    sqs: dict[str, set[str]] = {}
    for statement in statements:
        actions = [a for a in as_list(statement["Action"]) if a.startswith("sqs:")]
        for resource in as_list(statement["Resource"]):
            if actions:
                sqs.setdefault(resource["Fn::GetAtt"][0], set()).update(actions)
    consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage"}
    expected = {f"{op.name}DeadLetterQueue": {"sqs:SendMessage"}}
    if op.queue_trigger:
        expected[f"{op.name}Queue"] = consume
    else:
        # (the schedule drains the erasure queue itself, and reports failed runs to its DLQ)
        expected[f"{op.name}Queue"] = consume
        expected["ErasureScheduleDeadLetterQueue"] = {"sqs:SendMessage"}
    assert sqs == expected
    # And its log rights reach only its own log group
    logs = [s for s in statements if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert [s["Resource"] for s in logs] == [arn_of(f"{op.name}LogGroup")]
    assert "logs:CreateLogGroup" not in {a for s in logs for a in as_list(s["Action"])}


# --- idempotency and caller authentication -------------------------------------------------


def test_idempotency_table_expires_its_records(resources: dict[str, Any], parameters: dict[str, Any]) -> None:
    # Given the only DynamoDB table
    assert set(of_type(resources, "AWS::DynamoDB::Table")) == {"IdempotencyTable"}
    props = resources["IdempotencyTable"]["Properties"]

    # Then it is keyed by the string `id` (Powertools' default), billed per request, encrypted
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    # And DynamoDB removes a record once its `expiration` (Powertools' default) has passed
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # And a record lives at least a minute (IdempotencyExpirySeconds, a day by default)
    expiry = parameters["IdempotencyExpirySeconds"]
    assert expiry["Type"] == "Number"
    assert int(expiry["MinValue"]) == 60
    assert int(expiry["Default"]) == 86400


def test_caller_authentication_is_required_by_default(parameters: dict[str, Any]) -> None:
    # Given the CallerAuthentication parameter
    auth = parameters["CallerAuthentication"]

    # Then a deployer may only require it or disable it, and it is required unless told otherwise
    assert auth["AllowedValues"] == ["required", "disabled"]
    assert auth["Default"] == "required"


def test_stack_creates_the_signing_secret_unless_one_is_given(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the CallerSigningSecretArn parameter, empty by default, or a secret's ARN
    given = parameters["CallerSigningSecretArn"]
    assert given["Default"] == ""
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:talon-relay/callers-AbCdEf"
    assert re.fullmatch(given["AllowedPattern"], arn)
    assert re.fullmatch(given["AllowedPattern"], "")
    assert not re.fullmatch(given["AllowedPattern"], "talon-relay/callers")
    assert template["Conditions"]["CreateCallerSigningSecret"] == {"Fn::Equals": [ref("CallerSigningSecretArn"), ""]}

    # Then without one the stack creates a secret {"current": <48 letters and digits>}
    secret = resources["CallerSigningSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "CreateCallerSigningSecret"
    generate = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generate["SecretStringTemplate"]) == {}
    assert generate["GenerateStringKey"] == "current"
    assert generate["PasswordLength"] == 48
    assert generate["ExcludePunctuation"] is True
    # And it is the only secret the stack creates (the Talon.One one is the deployer's)
    assert set(of_type(resources, "AWS::SecretsManager::Secret")) == {"CallerSigningSecret"}


# --- alarms ---------------------------------------------------------------------------------


def _alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]


def test_every_dead_letter_queue_has_an_alarm(resources: dict[str, Any]) -> None:
    # Given the DLQs and the alarms
    dlqs = {key for key in of_type(resources, "AWS::SQS::Queue") if key.endswith("DeadLetterQueue")}
    assert len(dlqs) == 6

    # Then each DLQ alarms as soon as one message is visible in it
    watched = set()
    for alarm in _alarms(resources):
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert alarm["Namespace"] == "AWS/SQS"
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
            assert alarm["Threshold"] == 0
            [dimension] = alarm["Dimensions"]
            assert dimension["Name"] == "QueueName"
            watched.add(dimension["Value"]["Fn::GetAtt"][0])
    assert watched == dlqs


def test_erasure_backlog_alarms_long_before_requests_expire(
    resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the erasure queue, which only the schedule drains
    queue = resources["DeleteCustomerDataQueue"]["Properties"]

    # Then it keeps requests 14 days (a failing one is received once a run, MaxReceiveCount times)
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    # And an alarm fires when the oldest request has waited ErasureBacklogMaxAge, well before expiry
    [alarm] = [a for a in _alarms(resources) if a["MetricName"] == "ApproximateAgeOfOldestMessage"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeleteCustomerDataQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == ref("ErasureBacklogMaxAge")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert 2 * default(parameters, "ErasureBacklogMaxAge") <= queue["MessageRetentionPeriod"]


def test_every_function_has_an_error_alarm(resources: dict[str, Any]) -> None:
    # Given the alarms on Lambda errors
    watched = set()
    for alarm in _alarms(resources):
        if alarm.get("Namespace") == "AWS/Lambda":
            # Then each fires on the first error of one function
            assert alarm["MetricName"] == "Errors"
            assert alarm["Statistic"] == "Sum"
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
            assert alarm["Threshold"] == 0
            [dimension] = alarm["Dimensions"]
            assert dimension["Name"] == "FunctionName"
            watched.add(dimension["Value"]["Ref"])
    # And every function is watched
    assert watched == {f"{op.name}Function" for op in OPERATIONS}


def test_alarms_notify_the_topic_only_when_one_is_given(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the AlarmTopicArn parameter, empty by default
    assert default(parameters, "AlarmTopicArn") == ""
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]}

    # Then every alarm notifies it under HasAlarmTopic, and nothing otherwise
    notify = {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], ref("AWS::NoValue")]}
    for alarm in _alarms(resources):
        assert alarm["AlarmActions"] == notify


# --- parameters, outputs, samconfig -----------------------------------------------------------


def test_parameters_are_declared_with_safe_defaults(parameters: dict[str, Any]) -> None:
    # Given the template's parameters
    expected = {
        "TalonSecretArn",
        "MaxReceiveCount",
        "FunctionTimeout",
        "QueueVisibilityTimeout",
        "ErasureSchedule",
        "ErasureScheduleTimezone",
        "LogLevel",
        "LogRetentionInDays",
        "MetricsNamespace",
        "ApiStageName",
        "ApiThrottlingRateLimit",
        "ApiThrottlingBurstLimit",
        "AlarmTopicArn",
        "SqsBatchWindow",
        "IdempotencyExpirySeconds",
        "CallerAuthentication",
        "CallerSigningSecretArn",
    }

    # Then all are there, and the secret ARN is required and checked
    assert expected <= set(parameters)
    secret = parameters["TalonSecretArn"]
    assert "Default" not in secret
    pattern = secret["AllowedPattern"]
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:talon-relay/talon-one-AbCdEf"
    assert re.fullmatch(pattern, arn)
    assert not re.fullmatch(pattern, "arn:aws:ssm:eu-west-1:123456789012:parameter/talon")
    assert not re.fullmatch(pattern, "talon-relay/talon-one")


def test_outputs_name_the_apis_the_key_the_secret_the_table_and_every_queue(template: dict[str, Any]) -> None:
    # Given the outputs
    outputs = template["Outputs"]

    # Then each API's URL is built from the API id, the region and the stage
    for output, api in (("ApiUrl", "RelayApi"), ("KeyApiUrl", "RelayKeyApi")):
        url = outputs[output]["Value"]["Fn::Sub"]
        assert url.startswith(f"https://${{{api}}}.execute-api.${{AWS::Region}}."), output
        assert url.endswith("/${ApiStageName}"), output
    # And the API key SAM generates for RelayKeyApi (PER_API usage plan) is named, with how to read it
    assert outputs["ApiKeyId"]["Value"] == ref("RelayKeyApiApiKey")
    assert "aws apigateway get-api-key --api-key" in outputs["ApiKeyId"]["Description"]
    assert "--include-value" in outputs["ApiKeyId"]["Description"]
    # And the effective caller signing secret and the idempotency table
    assert outputs["CallerSigningSecretArn"]["Value"] == SIGNING_SECRET
    assert outputs["IdempotencyTableName"]["Value"] == ref("IdempotencyTable")
    # And every queue URL is there
    for op in OPERATIONS:
        assert outputs[f"{op.name}QueueUrl"]["Value"] == ref(f"{op.name}Queue")
        assert outputs[f"{op.name}DeadLetterQueueUrl"]["Value"] == ref(f"{op.name}DeadLetterQueue")
    assert outputs["ErasureScheduleDeadLetterQueueUrl"]["Value"] == ref("ErasureScheduleDeadLetterQueue")


def _satisfies(parameter: dict[str, Any], value: str) -> bool:
    if "AllowedValues" in parameter and value not in [str(v) for v in parameter["AllowedValues"]]:
        return False
    if "AllowedPattern" in parameter and not re.fullmatch(parameter["AllowedPattern"], value):
        return False
    if parameter["Type"] == "Number":
        number = float(value)
        if "MinValue" in parameter and number < float(parameter["MinValue"]):
            return False
        if "MaxValue" in parameter and number > float(parameter["MaxValue"]):
            return False
    return True


@pytest.mark.parametrize("env", ["default", "dev", "prod"])
def test_samconfig_environment_deploys_with_valid_parameters(parameters: dict[str, Any], env: str) -> None:
    # Given an environment of samconfig.toml
    config = tomllib.loads(SAMCONFIG.read_text())
    assert config["version"] == 0.1
    section = config[env]
    settings = {**section["global"]["parameters"], **section["deploy"]["parameters"]}

    # Then it deploys its own stack with IAM capability, a managed bucket and a region
    assert settings["stack_name"].startswith("talon-relay")
    assert len(settings["stack_name"]) <= 40  # functions are <stack>-<operation>, at most 64
    assert settings["capabilities"] == "CAPABILITY_IAM"
    assert settings["resolve_s3"] is True
    assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", settings["region"])
    assert isinstance(settings["confirm_changeset"], bool)
    # And builds cached and in parallel
    assert section["build"]["parameters"] == {"cached": True, "parallel": True}
    # And every parameter override names a template parameter and satisfies its constraints
    overrides = dict(item.split("=", 1) for item in settings["parameter_overrides"])
    assert "TalonSecretArn" in overrides
    # And no environment turns caller authentication off
    assert overrides.get("CallerAuthentication", "required") == "required"
    for name, value in overrides.items():
        assert name in parameters, name
        assert _satisfies(parameters[name], value), (name, value)


def test_samconfig_prod_is_stricter() -> None:
    # Given the prod environment
    config = tomllib.loads(SAMCONFIG.read_text())
    deploy = config["prod"]["deploy"]["parameters"]
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"])

    # Then change sets are reviewed, alarms reach a topic, logs are kept longer and at INFO
    assert deploy["confirm_changeset"] is True
    # And callers must authenticate, said explicitly
    assert overrides["CallerAuthentication"] == "required"
    assert overrides["AlarmTopicArn"].startswith("arn:aws:sns:")
    assert int(overrides["LogRetentionInDays"]) >= 90
    assert overrides["LogLevel"] in ("INFO", "WARNING")


# --- events/ --------------------------------------------------------------------------------


def test_events_folder_holds_exactly_the_expected_files() -> None:
    # Given every file under events/
    found = {path.relative_to(EVENTS).as_posix() for path in EVENTS.rglob("*") if path.is_file()}

    # Then each operation has api.json and sqs.json, delete also its two schedule inputs
    expected = {f"{op.folder}/{kind}.json" for op in OPERATIONS for kind in ("api", "sqs")}
    expected |= {"delete_customer_data/schedule.json", "delete_customer_data/schedule_ids.json"}
    assert found == expected
    # And each is valid JSON
    for name in found:
        load_json(EVENTS / name)


def _validate_body(op: Operation, spec: dict[str, Any], body: Any) -> None:
    """The body is what the spec's definition allows, and the layer's model accepts it."""
    if op.body_model is None:
        assert body is None
        return
    assert isinstance(body, dict)
    op.body_model.model_validate(body)
    assert op.body_definition is not None
    definition = spec["definitions"][op.body_definition]
    assert set(body) <= set(definition["properties"]), set(body) - set(definition["properties"])
    assert set(definition.get("required", [])) <= set(body)


@ops
def test_api_event_is_a_rest_proxy_request_for_the_route(op: Operation, spec: dict[str, Any]) -> None:
    # Given the operation's sample API Gateway event
    event = load_json(EVENTS / op.folder / "api.json")

    # Then it has the REST proxy event's shape, for this route
    assert set(event) == API_EVENT_KEYS
    assert event["resource"] == op.path
    assert event["httpMethod"] == op.method
    params = event["pathParameters"]
    if op.path_params:
        assert set(params) == set(op.path_params)
        path = op.path
        for name, value in params.items():
            assert value
            path = path.replace("{" + name + "}", value)
        assert event["path"] == path
    else:
        assert params is None
        assert event["path"] == op.path
    context = event["requestContext"]
    assert context["requestId"]
    assert context["resourcePath"] == op.path
    assert context["httpMethod"] == op.method
    assert context["path"] == f"/{context['stage']}{event['path']}"
    assert {k: [v] for k, v in event["headers"].items()} == event["multiValueHeaders"]
    # And its body, when the operation takes one, is JSON text valid for the operation
    assert event["isBase64Encoded"] is False
    if op.body_model is None:
        assert event["body"] is None
    else:
        assert event["headers"]["Content-Type"] == "application/json"
        _validate_body(op, spec, json.loads(event["body"]))


def test_api_events_have_distinct_request_ids() -> None:
    # Given the request ids of all sample API events
    ids = [load_json(EVENTS / op.folder / "api.json")["requestContext"]["requestId"] for op in OPERATIONS]

    # Then no two are the same (they are correlation ids)
    assert len(set(ids)) == len(ids)


@ops
def test_sqs_event_carries_messages_for_the_operations_queue(op: Operation, spec: dict[str, Any]) -> None:
    # Given the operation's sample SQS event
    event = load_json(EVENTS / op.folder / "sqs.json")
    records = event["Records"]

    # Then it holds 2-3 records from the operation's own queue, each with a true MD5
    assert set(event) == {"Records"}
    assert 2 <= len(records) <= 3
    for record in records:
        assert set(record) == SQS_RECORD_KEYS
        assert record["eventSource"] == "aws:sqs"
        arn = record["eventSourceARN"]
        # (a FIFO queue's generated name ends in .fifo, and its records carry their group)
        suffix = r"\.fifo" if op.fifo else ""
        assert re.fullmatch(rf"arn:aws:sqs:[a-z0-9-]+:\d{{12}}:[\w-]*-{op.name}Queue-\w+{suffix}", arn)
        if op.fifo:
            assert record["attributes"]["MessageGroupId"]
            assert record["attributes"]["SequenceNumber"]
        assert arn.split(":")[3] == record["awsRegion"]
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1

        # And its body is the DESIGN.md message: path parameters, `body`, optional idempotencyKey
        message = json.loads(record["body"])
        assert set(message) <= {*op.path_params, "body", "idempotencyKey"}
        for name in op.path_params:
            assert isinstance(message[name], str) and message[name]
        if "idempotencyKey" in message:
            assert isinstance(message["idempotencyKey"], str) and message["idempotencyKey"]
        _validate_body(op, spec, message.get("body"))
    assert len({r["messageId"] for r in records}) == len(records)


def test_schedule_events_are_the_two_inputs_the_erasure_run_takes() -> None:
    # Given the two schedule inputs of deleteCustomerData
    drain = load_json(EVENTS / "delete_customer_data" / "schedule.json")
    direct = load_json(EVENTS / "delete_customer_data" / "schedule_ids.json")

    # Then one drains the queue ({}), the other deletes the ids it names
    assert drain == {}
    assert set(direct) == {"integrationIds"}
    assert direct["integrationIds"]
    assert all(isinstance(i, str) and i for i in direct["integrationIds"])
