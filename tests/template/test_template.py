"""The deployable shape of talon-relay, checked offline: functions, triggers and queues of template.yaml.

Each test reads template.yaml as it is on disk (no AWS, no network) and says, Given/When/Then, what the
stack promises for every entry of the operation table (talon_relay.operations.OPERATIONS): one function
on the shared layer, its route on both REST APIs (one where the function checks a signature, one where
API Gateway checks an API key), a queue and a dead-letter queue (FIFO where the table says order
matters), each refusing requests without TLS, and the erasure schedule for the entry it drains.
Permissions and alarms: test_permissions.py; parameters, outputs, samconfig: test_deploy.py.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.aws import local_client
from talon_relay.operations import Operation
from template.render import area_of
from tests.template.helpers import (
    APIS,
    EVENTS,
    QUEUED,
    ROOT,
    SCHEDULED,
    SENDERS,
    SIGNING_SECRET,
    TABLE,
    UNQUEUED,
    apis,
    apis_of,
    arn_of,
    as_list,
    default,
    events_of,
    function_properties,
    integration_ops,
    kebab,
    load_json,
    named_events,
    of_type,
    ops,
    prefix,
    queue_id,
    queued_ops,
    ref,
    spec_operation,
    webhook_ops,
    webhook_secret,
)

# --- the functions ---------------------------------------------------------------------------------


def test_layer_is_built_for_python313_on_arm64(resources: dict[str, Any]) -> None:
    # Given the template's shared layer
    layer = resources["TalonRelayLayer"]

    # Then it is a SAM layer built from layers/talon_relay/ for python3.13 on arm64, by its Makefile
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    props = layer["Properties"]
    assert props["ContentUri"] == "layers/talon_relay/"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    # (what the Makefile does: test_build.py)


def test_there_is_one_function_per_table_entry(resources: dict[str, Any]) -> None:
    # Given the template's functions
    functions = of_type(resources, "AWS::Serverless::Function")

    # Then there is one per entry of the operation table, and no other
    assert set(functions) == {f"{prefix(op)}Function" for op in TABLE}


@ops
def test_function_runs_its_handler_on_the_layer(template: dict[str, Any], op: Operation) -> None:
    # Given the function of an operation, Globals applied
    props = function_properties(template, op)

    # Then it runs python3.13 on arm64 with the layer, logging JSON, traced only when XRayTracing says so
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Layers"][0] == ref("TalonRelayLayer")  # then the secrets extension (test_performance.py)
    assert props["Tracing"] == {"Fn::If": ["XRayTracingEnabled", "Active", "PassThrough"]}
    assert props["MemorySize"] == 256
    # (the erasure function's scheduled run may take longer: its API requests keep FunctionTimeout)
    assert props["Timeout"] == ref("ErasureRunTimeout" if op.schedule else "FunctionTimeout")
    assert props["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": ref(f"{prefix(op)}LogGroup")}
    # And its code is functions/<function>/<function>.py, which defines `handler`
    assert props["CodeUri"] == f"functions/{op.function}/"
    assert props["Handler"] == f"{op.function}.handler"
    module = ROOT / "functions" / op.function / f"{op.function}.py"
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
    # And sam builds it with functions/Makefile (a copy of the module: no pip, so no python3.13 needed)
    function = template["Resources"][f"{prefix(op)}Function"]
    assert function["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "functions"}


@ops
def test_function_environment_names_its_secret_and_its_queues(
    template: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given the function's environment, Globals applied
    env = function_properties(template, op)["Environment"]["Variables"]

    # Then it carries the shared settings and the URLs of its own queue and DLQ (a GET has neither)
    assert env["TALON_SECRET_ARN"] == ref("TalonSecretArn")
    assert env["POWERTOOLS_SERVICE_NAME"] == "talon-relay"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == ref("MetricsNamespace")
    assert default(parameters, "MetricsNamespace") == "TalonRelay"
    assert env["POWERTOOLS_LOG_LEVEL"] == ref("LogLevel")
    assert default(parameters, "LogLevel") == "INFO"
    assert env["TALON_SECRET_MAX_AGE"] == ref("SecretMaxAge")
    assert default(parameters, "SecretMaxAge") == 300
    if op.queued:
        assert env["QUEUE_URL"] == ref(f"{queue_id(op)}Queue")
    if op.queued and op.polls:
        assert env["DEAD_LETTER_QUEUE_URL"] == ref(f"{queue_id(op)}DeadLetterQueue")
    elif op.queued:  # a member of a shared queue that only sends to it (its consumer dead-letters)
        assert not {"DEAD_LETTER_QUEUE_URL", "MAX_RECEIVE_COUNT"} & set(env)
    else:
        assert not {"QUEUE_URL", "DEAD_LETTER_QUEUE_URL", "MAX_RECEIVE_COUNT"} & set(env)
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
    group = resources[f"{prefix(op)}LogGroup"]

    # Then it is /aws/lambda/<stack>/<area>/<function> (not Lambda's default /aws/lambda/<function name>,
    # which the release before the nested stacks held in the root: test_upgrade.py) and kept for
    # LogRetentionInDays
    assert group["Type"] == "AWS::Logs::LogGroup"
    function_name = resources[f"{prefix(op)}Function"]["Properties"]["FunctionName"]["Fn::Sub"]
    assert function_name == f"${{AWS::StackName}}-{kebab(op)}"
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{area_of(op)}/{kebab(op)}"
    }
    assert group["Properties"]["RetentionInDays"] == ref("LogRetentionInDays")
    assert default(parameters, "LogRetentionInDays") in parameters["LogRetentionInDays"]["AllowedValues"]


# --- triggers --------------------------------------------------------------------------------------


def test_the_template_has_exactly_the_two_rest_apis(resources: dict[str, Any]) -> None:
    # Given the template's APIs
    found = set(of_type(resources, "AWS::Serverless::Api")) | set(of_type(resources, "AWS::ApiGateway::RestApi"))

    # Then there are the signature API and the API-key API, and no other
    assert found == set(APIS)
    assert not of_type(resources, "AWS::Serverless::HttpApi")


@apis
def test_api_routes_are_exactly_the_table_entries(template: dict[str, Any], api: str) -> None:
    # Given every Api event of every function on one of the two APIs
    routes = []
    for key, function in of_type(template["Resources"], "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                assert event["Properties"]["RestApiId"] in [ref(name) for name in APIS], key
                if event["Properties"]["RestApiId"] == ref(api):
                    routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))

    # Then they are the table's routes that belong on this API (webhook receivers: RelayApi only), each once
    assert len(routes) == len(set(routes))
    assert set(routes) == {(op.method, op.path) for op in TABLE if api in apis_of(op)}


@integration_ops
def test_route_is_the_vendor_operation_of_the_same_name(op: Operation) -> None:
    # Given the reference spec that has the operation (the 2019 one for v1, today's for v2)
    _, operation = spec_operation(op)

    # Then the relay serves it on the vendor's method and path (an SDK needs only a new host), and its
    # success status is one the vendor documents for it
    assert operation["operationId"] == op.name
    assert str(op.success_status) in {str(status) for status in operation.get("responses", {})}


@ops
def test_each_function_serves_its_own_route_on_both_apis(template: dict[str, Any], op: Operation) -> None:
    # Given the function's Api events, by event name
    api = named_events(template, op, "Api")

    # Then it serves exactly its operation's route: `Api` on RelayApi, `KeyApi` on RelayKeyApi (not for a
    # webhook receiver: the platform signs its webhooks its own way and sends no x-api-key)
    assert {key: (e["RestApiId"], e["Method"].upper(), e["Path"]) for key, e in api.items()} == {
        event: (ref(name), op.method, op.path) for name, event in apis_of(op).items()
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

    # Then its stage comes from a parameter, X-Ray traces it only when XRayTracing says so, and every route
    # is throttled on its own, without per-route detailed metrics (read by no alarm or widget: docs/cost.md)
    assert resource["Type"] == "AWS::Serverless::Api"
    assert props["StageName"] == ref("ApiStageName")
    assert default(parameters, "ApiStageName") == "live"
    assert props["TracingEnabled"] == {"Fn::If": ["XRayTracingEnabled", True, False]}
    assert props["OpenApiVersion"] == "3.0.1"  # no extra "Stage" stage
    assert props["EndpointConfiguration"] == {"Type": "REGIONAL"}
    settings = props["MethodSettings"]
    routes = [("/*", "*")] + [("/" + op.path.replace("/", "~1"), op.method) for op in TABLE]
    assert [(s["ResourcePath"], s["HttpMethod"]) for s in settings] == routes
    for setting in settings:
        assert setting["ThrottlingRateLimit"] == ref("ApiThrottlingRateLimit")
        assert setting["ThrottlingBurstLimit"] == ref("ApiThrottlingBurstLimit")
        assert setting["MetricsEnabled"] is False
        assert setting.get("DataTraceEnabled", False) is False  # bodies hold customer attributes


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
def test_api_gateways_own_refusals_are_json_with_a_reason(resources: dict[str, Any], api: str) -> None:
    # Given the API's gateway responses (API Gateway's own answers: no route, throttled, too large)
    responses = resources[api]["Properties"]["GatewayResponses"]
    # Then its 4xx and 5xx carry API Gateway's reason in the ErrorResponse shape
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["ResponseTemplates"]["application/json"]
        assert template == '{"message":$context.error.messageString}'


def test_a_wrong_api_key_gets_a_reason_naming_the_header(resources: dict[str, Any]) -> None:
    # Given the key API's answer to a missing, unknown or disabled x-api-key
    invalid = resources["RelayKeyApi"]["Properties"]["GatewayResponses"]["INVALID_API_KEY"]
    # Then it stays a 403, and its JSON body names the header at fault (not a bare "Forbidden")
    assert invalid["StatusCode"] == "403"
    body = json.loads(invalid["ResponseTemplates"]["application/json"])
    (error,) = body["errors"]
    assert error["source"] == {"parameter": "x-api-key"} and error["details"]


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


@queued_ops
def test_queue_triggered_functions_report_batch_item_failures(template: dict[str, Any], op: Operation) -> None:
    # Given the function's SQS events
    sqs = events_of(template, op, "SQS")
    if op.schedule:
        # Then a queue the schedule drains has none: the schedule drains it off-peak
        assert sqs == []
        return

    # Then it has one, on its own queue, batches of 10, reporting partial batch failures
    [event] = sqs
    assert event["Queue"] == arn_of(f"{queue_id(op)}Queue")
    assert event["BatchSize"] == 10
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # And it waits to fill a batch only on a standard queue (Lambda has no batching window for FIFO)
    if op.fifo:
        assert "MaximumBatchingWindowInSeconds" not in event
    else:
        assert event["MaximumBatchingWindowInSeconds"] == ref("SqsBatchWindow")


def test_the_schedule_drains_exactly_one_queue() -> None:
    # Given the table's entries whose queue the schedule drains
    # Then there is one (the template has one erasure schedule, its parameters and its dead-letter queue)
    assert len(SCHEDULED) == 1


@ops
def test_erasure_schedule_drains_its_queue_off_peak(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given the function's schedules
    schedules = events_of(template, op, "ScheduleV2") + events_of(template, op, "Schedule")
    if not op.schedule:
        # Then a function whose queue an event source drains has none
        assert schedules == []
        assert "EventInvokeConfig" not in resources[f"{prefix(op)}Function"]["Properties"]
        return
    [schedule] = schedules

    # Then it runs on the ErasureSchedule parameter (off-peak by default) in its time zone
    assert schedule["ScheduleExpression"] == ref("ErasureSchedule")
    assert default(parameters, "ErasureSchedule") == "cron(0 3 * * ? *)"
    assert re.fullmatch(parameters["ErasureSchedule"]["AllowedPattern"], "rate(6 hours)")
    assert schedule["ScheduleExpressionTimezone"] == ref("ErasureScheduleTimezone")
    assert default(parameters, "ErasureScheduleTimezone") == "UTC"
    # And its input is the drain request `{}`, the same as events/<function>/schedule.json
    assert json.loads(schedule["Input"]) == {}
    assert load_json(EVENTS / op.function / "schedule.json") == {}
    # And it retries, then dead-letters into its own encrypted queue
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert 60 <= schedule["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86400
    assert schedule["DeadLetterConfig"] == {"Arn": arn_of("ErasureScheduleDeadLetterQueue")}
    dlq = resources["ErasureScheduleDeadLetterQueue"]
    assert dlq["Type"] == "AWS::SQS::Queue"
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    # And a run that starts but fails in the function lands in the same queue
    invoke = resources[f"{prefix(op)}Function"]["Properties"]["EventInvokeConfig"]
    on_failure = invoke["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": arn_of("ErasureScheduleDeadLetterQueue")}


@webhook_ops
def test_webhook_receiver_verifies_queues_and_reaches_the_queues_of_its_queued_steps(
    template: dict[str, Any], resources: dict[str, Any], op: Operation
) -> None:
    # Given a webhook receiver's function, Globals applied
    props = function_properties(template, op)
    env = props["Environment"]["Variables"]

    # Then it reads its platform's secret, which the stack creates
    assert env["WEBHOOK_SECRET_ARN"] == ref(webhook_secret(op))
    assert resources[webhook_secret(op)]["Type"] == "AWS::SecretsManager::Secret"
    # And a receiver that maps webhooks to operations knows the queue of each operation whose mapped steps
    # are queued (the table's webhook_steps_queued: the erasure schedule's, syncCatalog's), and no other
    targets = [entry for entry in TABLE if entry.webhook_steps_queued]
    assert {entry.name for entry in targets} >= {"deleteCustomerData", "syncCatalog"}
    if op.webhook == "talon_one":  # its notifications map to no operation
        assert "STEP_QUEUE_URLS" not in env
    else:
        text = env["STEP_QUEUE_URLS"]["Fn::Sub"]
        assert json.loads(text) == {entry.name: "${" + f"{queue_id(entry)}Queue" + "}" for entry in targets}
    assert "ERASURE_QUEUE_URL" not in env  # the erasure queue is one of them, no special case
    # And it consumes its own FIFO queue (one customer's webhooks in order), on RelayApi's route alone
    [queue] = events_of(template, op, "SQS")
    assert queue["Queue"] == arn_of(f"{queue_id(op)}Queue")
    assert resources[f"{queue_id(op)}Queue"]["Properties"]["FifoQueue"] is True
    assert "KeyApi" not in named_events(template, op, "Api")
    assert "webhooks" in props["Description"]


# --- queues ----------------------------------------------------------------------------------------


def _queue_ids() -> set[str]:
    return {f"{queue_id(op)}{kind}" for op in QUEUED for kind in ("Queue", "DeadLetterQueue")}


def test_every_queue_is_one_of_the_expected_ones(resources: dict[str, Any]) -> None:
    # Given all queues
    queues = of_type(resources, "AWS::SQS::Queue")

    # Then each table entry with a queue (not a GET) has a queue and a DLQ, plus the erasure schedule's DLQ
    # and the event bus's queues
    assert set(queues) == _queue_ids() | {
        "ErasureScheduleDeadLetterQueue",
        "RelayEventsDeadLetterQueue",
        "RelayEventsQueue",
    }
    # And the FIFO ones are exactly those of the entries the table marks fifo
    fifo = {key for key, queue in queues.items() if queue["Properties"].get("FifoQueue") is True}
    assert fifo == {f"{queue_id(op)}{kind}" for op in QUEUED if op.fifo for kind in ("Queue", "DeadLetterQueue")}


@queued_ops
def test_queue_redrives_into_its_dead_letter_queue(
    resources: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given the operation's queue and its DLQ
    queue = resources[f"{queue_id(op)}Queue"]["Properties"]
    dlq = resources[f"{queue_id(op)}DeadLetterQueue"]["Properties"]

    # Then a message moves to the DLQ after the receives that cover the outage horizon (derived from
    # OutageHorizonHours unless MaxReceiveCount is given), an erasure request after ErasureMaxReceiveCount runs
    derived = {
        "Fn::If": [
            "DeriveMaxReceiveCount",
            {"Fn::FindInMap": ["OutageHorizon", ref("OutageHorizonHours"), "MaxReceiveCount"]},
            ref("MaxReceiveCount"),
        ]
    }
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": arn_of(f"{queue_id(op)}DeadLetterQueue"),
        "maxReceiveCount": ref("ErasureMaxReceiveCount") if op.schedule else derived,
    }
    assert default(parameters, "MaxReceiveCount") == 0
    assert default(parameters, "ErasureMaxReceiveCount") == 5
    # And the queue and its DLQ keep messages 14 days, the most SQS allows
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["MessageRetentionPeriod"] == dlq["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dlq


@queued_ops
def test_queue_is_fifo_exactly_when_order_matters(resources: dict[str, Any], op: Operation) -> None:
    # Given the operation's queue and its DLQ
    queue = resources[f"{queue_id(op)}Queue"]["Properties"]
    dlq = resources[f"{queue_id(op)}DeadLetterQueue"]["Properties"]
    fifo_keys = {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}

    if not op.fifo:
        # Then an operation whose requests stand alone (a referral, an erasure) uses standard queues
        assert not fifo_keys & set(queue), op.name
        assert not fifo_keys & set(dlq), op.name
        return

    # Then a customer's updates go through a FIFO queue in high-throughput mode (deduplication and
    # throughput per group), deduplicating on content only where an identical later message is a resend:
    # on a last-write-wins queue the same update again after another (A, B, A) is a real later state
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is (not op.last_write_wins)
    assert queue["DeduplicationScope"] == "messageGroup"
    assert queue["FifoThroughputLimit"] == "perMessageGroupId"
    # And the DLQ is FIFO too (SQS requires it), so the code can forward without a deduplication id, in
    # high-throughput mode as well (300 sends a second otherwise: a burst of dead letters would be throttled)
    assert dlq["FifoQueue"] is True
    assert dlq["ContentBasedDeduplication"] is True
    assert dlq["DeduplicationScope"] == "messageGroup"
    assert dlq["FifoThroughputLimit"] == "perMessageGroupId"
    # And generated names are left to CloudFormation (a FIFO QueueName would have to end in .fifo)
    assert "QueueName" not in queue and "QueueName" not in dlq


@pytest.mark.parametrize("op", UNQUEUED, ids=lambda op: op.function)
def test_a_get_is_answered_at_once_with_no_queue_at_all(template: dict[str, Any], op: Operation) -> None:
    # Given an operation the table says has no queue (a GET, or a read sent as POST: answered at once)
    assert (op.method.upper() == "GET" or op.delivery.read) and not op.queued
    resources, outputs = template["Resources"], template["Outputs"]

    # Then it has its function, role, log group and the function's alarms, and nothing of a queue: no queue,
    # no DLQ, no queue policy or queue alarm, no output
    own = {key for key in resources if key.startswith(prefix(op))}
    assert own == {
        f"{prefix(op)}{kind}"
        for kind in ("Function", "FunctionRole", "LogGroup", "ErrorsAlarm", "ThrottlesAlarm", "TalonOneErrorRateAlarm")
    }
    assert not [key for key in outputs if key.startswith(prefix(op))]
    # And its function has only its API routes (no SQS event source) and no queue in its environment
    events = resources[f"{prefix(op)}Function"]["Properties"]["Events"]
    assert {event["Type"] for event in events.values()} == {"Api"}
    env = function_properties(template, op).get("Environment", {}).get("Variables", {})
    assert not {"QUEUE_URL", "DEAD_LETTER_QUEUE_URL", "MAX_RECEIVE_COUNT"} & set(env)
    # And nothing in the stack refers to a queue of its name (the dashboard included)
    assert f"{queue_id(op)}Queue" not in json.dumps(template, default=str)
    assert f"{queue_id(op)}DeadLetterQueue" not in json.dumps(template, default=str)


def test_every_queue_is_encrypted(resources: dict[str, Any]) -> None:
    # Given all queues
    queues = of_type(resources, "AWS::SQS::Queue")

    # Then each one has SQS-managed server-side encryption on
    assert queues
    for key, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, key


def test_every_queue_the_relay_sends_to_takes_its_1_mib_messages(resources: dict[str, Any]) -> None:
    # Given all queues but the two only AWS writes to (EventBridge's events, the scheduler's failed runs)
    from talon_relay.aws.queues import SQS_MAX_MESSAGE_BYTES

    aws_only = {"RelayEventsQueue", "ErasureScheduleDeadLetterQueue"}
    queues = {key: queue for key, queue in of_type(resources, "AWS::SQS::Queue").items() if key not in aws_only}

    # Then each says it takes a message of the relay's largest, SQS's 1 MiB: a queue made before SQS raised its
    # limit (2025) keeps 256 KiB until told, and would refuse a queued request or dead letter between the two
    assert queues
    for key, queue in queues.items():
        assert queue["Properties"].get("MaximumMessageSize") == SQS_MAX_MESSAGE_BYTES, key


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
    for op in QUEUED:
        assert resources[f"{queue_id(op)}Queue"]["Properties"]["VisibilityTimeout"] == ref("QueueVisibilityTimeout")


# --- TLS: one queue policy per queue ------------------------------------------------------------------

DENY_WITHOUT_TLS = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sqs:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_every_queue_policy_covers_a_single_queue(resources: dict[str, Any]) -> None:
    # Given the queue policies
    policies = of_type(resources, "AWS::SQS::QueuePolicy")

    # Then each applies to exactly one queue of the stack and speaks of that queue alone
    assert policies
    for key, policy in policies.items():
        [queue] = policy["Properties"]["Queues"]
        assert resources[queue["Ref"]]["Type"] == "AWS::SQS::Queue", key
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            assert as_list(statement["Resource"]) == [arn_of(queue["Ref"])], key
    # And no queue has two (the last one set would silently replace the other)
    covered = [policy["Properties"]["Queues"][0]["Ref"] for policy in policies.values()]
    assert len(covered) == len(set(covered))


def test_every_queue_refuses_requests_without_tls(resources: dict[str, Any]) -> None:
    # Given every queue of the stack
    queues = of_type(resources, "AWS::SQS::Queue")

    # Then each has its own policy, <queue>TlsPolicy, that denies everything not sent over TLS
    for queue in queues:
        policy = resources[f"{queue}TlsPolicy"]
        assert policy["Type"] == "AWS::SQS::QueuePolicy"
        assert policy["Properties"]["Queues"] == [ref(queue)]
        document = policy["Properties"]["PolicyDocument"]
        assert document["Version"] == "2012-10-17"
        statements = as_list(document["Statement"])
        assert statements[0] == {**DENY_WITHOUT_TLS, "Resource": arn_of(queue)}
        # (the event queues also let EventBridge deliver, from the relay's own bus's rules alone)
        for allowed in statements[1:]:
            assert queue.startswith("RelayEvents")
            assert allowed["Principal"] == {"Service": "events.amazonaws.com"}
            assert allowed["Action"] == "sqs:SendMessage" and allowed["Resource"] == arn_of(queue)
            assert "aws:SourceArn" in allowed["Condition"]["ArnEquals"]
    # And those are all the queue policies there are (the old shared EnforceTlsQueuePolicy is gone)
    assert set(of_type(resources, "AWS::SQS::QueuePolicy")) == {f"{queue}TlsPolicy" for queue in queues}


LAST_WRITE_WINS = [op for op in TABLE if op.last_write_wins]


@pytest.mark.parametrize("op", LAST_WRITE_WINS, ids=lambda op: op.function)
def test_an_update_sent_again_after_another_is_never_silently_dropped(
    resources: dict[str, Any], moto_endpoint: str, op: Operation
) -> None:
    # Given the operation's queue as the template makes it, in moto
    sqs = local_client("sqs", moto_endpoint)
    props = resources[f"{queue_id(op)}Queue"]["Properties"]
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
    }
    url = sqs.create_queue(QueueName=f"{prefix(op)}-{uuid.uuid4().hex[:8]}.fifo", Attributes=attributes)["QueueUrl"]
    a, b = json.dumps({"body": {"attributes": {"tier": "gold"}}}), json.dumps({"body": {"attributes": {"tier": "red"}}})

    # When a sender sends A, then B, then A again within five minutes, without a deduplication id
    accepted = []
    for body in (a, b, a):
        try:
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="c-1")
            accepted.append(body)
        except ClientError as exc:  # refused, and the sender knows it
            assert exc.response["Error"]["Code"] == "InvalidParameterValue"

    # Then every update SQS accepted is delivered, in order: nothing is lost without a word
    assert received(sqs, url) == accepted
    # And a sender naming each delivery attempt gets all three through, and its retry of the last one
    # (the same attempt again) is deduplicated
    for attempt, body in (("u-1", a), ("u-2", b), ("u-3", a), ("u-3", a)):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="c-1", MessageDeduplicationId=attempt)
    assert received(sqs, url) == [a, b, a]


def received(sqs: Any, url: str) -> list[str]:
    """Every message of a FIFO queue's group, in order (each deleted once received)."""
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.mark.parametrize("op", SENDERS, ids=lambda op: op.function)
def test_a_member_of_the_sessions_queue_only_sends_to_it(template: dict[str, Any], op: Operation) -> None:
    # Given an operation whose queued route goes on the shared sessions queue, consumed by another function
    resources = template["Resources"]
    assert op.shared_queue == "sessions" and not op.polls

    # Then its function has its API routes and no SQS event source, and its async mode sends to SessionsQueue
    events = resources[f"{prefix(op)}Function"]["Properties"]["Events"]
    assert {event["Type"] for event in events.values()} == {"Api"}
    env = function_properties(template, op)["Environment"]["Variables"]
    assert env["QUEUE_URL"] == ref("SessionsQueue")
    # And it has no queue, dead-letter queue or queue alarm of its own
    assert not [
        key
        for key in resources
        if key.startswith(f"{prefix(op)}Queue") or ("DeadLetter" in key and key.startswith(prefix(op)))
    ]


def test_the_sessions_queue_is_consumed_by_one_function_and_fed_by_the_shopify_receiver(
    template: dict[str, Any],
) -> None:
    # Given the functions with an SQS event source on the sessions queue, and the Shopify receiver
    resources = template["Resources"]
    consumers = [
        key
        for key, resource in of_type(resources, "AWS::Serverless::Function").items()
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "SQS" and event["Properties"]["Queue"] == arn_of("SessionsQueue")
    ]

    # Then exactly one function consumes it (updateCustomerSessionV2's), in FIFO order
    assert consumers == ["UpdateCustomerSessionV2Function"]
    assert resources["SessionsQueue"]["Properties"]["FifoQueue"] is True
    # And the Shopify receiver sends the webhooks that change a session there
    env = resources["ShopifyWebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SHARED_QUEUE_URL"] == ref("SessionsQueue")
