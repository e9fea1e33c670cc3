"""Production at scale, as template.yaml says it: the budget toward Talon.One, outages measured in hours,
the erasure run's own timeout, the alarms and the dashboard, and deploys that cannot trap."""

from __future__ import annotations

import json
from typing import Any

import pytest

from talon_relay.core import retry_delays as backoff
from talon_relay.operations import Operation
from tests.template.helpers import (
    QUEUED,
    TABLE,
    alarms,
    default,
    events_of,
    function_properties,
    named_function,
    of_type,
    ops,
    prefix,
    queue_id,
    ref,
)

#: The entries whose queue an SQS event source drains as it fills (not the schedule's; a GET has none).
WORK = [op for op in QUEUED if not op.schedule]
queued = pytest.mark.parametrize("op", WORK, ids=lambda op: op.function)
NOTIFY = [{"Fn::If": ["CreateAlarmTopic", ref("AlarmTopic"), ref("AlarmTopicArn")]}]


def env(template: dict[str, Any], op: Operation) -> dict[str, Any]:
    variables: dict[str, Any] = function_properties(template, op)["Environment"]["Variables"]
    return variables


# --- the budget toward Talon.One -------------------------------------------------------------------


@queued
def test_each_queue_function_makes_at_most_max_concurrency_x_batch_concurrency_calls(
    template: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given a function fed by its queue
    [event] = events_of(template, op, "SQS")
    # Then its event source starts at most QueueMaximumConcurrency invocations (2 by default, SQS's minimum)
    assert event["ScalingConfig"] == {"MaximumConcurrency": ref("QueueMaximumConcurrency")}
    assert default(parameters, "QueueMaximumConcurrency") == parameters["QueueMaximumConcurrency"]["MinValue"] == 2
    # And each invocation processes BatchConcurrency message groups at once (10 by default: a whole batch)
    assert env(template, op)["BATCH_CONCURRENCY"] == ref("BatchConcurrency")
    assert default(parameters, "BatchConcurrency") == 10
    # And no more than a batch's records (BatchSize 10): a larger value would only start idle threads
    assert parameters["BatchConcurrency"]["MaxValue"] == 10
    assert {e["BatchSize"] for e in events_of(template, op, "SQS")} == {10}


def test_a_batch_is_worked_on_at_once_and_each_thread_has_its_own_kept_connection(parameters: dict[str, Any]) -> None:
    # Given the default BatchConcurrency, and the container's HTTP pools (Talon.One's, DynamoDB's)
    from talon_relay.container import Container

    threads = default(parameters, "BatchConcurrency")
    container = Container({})
    # Then every group of a batch (SQS hands at most 10 records) gets its own thread: one round, not two
    assert threads == 10
    # And no thread waits for, or discards, a connection: each pool keeps at least that many
    for name in ("talon-one", "dynamodb"):
        assert container.http(name).connection_pool_kw["maxsize"] >= threads


def test_reserved_concurrency_is_optional(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    # Given the ReservedConcurrency parameter, 0 by default
    assert default(parameters, "ReservedConcurrency") == 0
    # Then every function reserves it only when it is set
    assert template["Globals"]["Function"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", ref("ReservedConcurrency"), ref("AWS::NoValue")]
    }
    assert template["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [ref("ReservedConcurrency"), 0]}]
    }


def test_the_erasure_run_has_its_own_timeout_concurrency_and_the_apis_deadline(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the function the schedule runs
    [op] = [op for op in TABLE if op.schedule]
    props = function_properties(template, op)
    # Then its run may take 15 minutes, erasing ErasureConcurrency at a time ...
    assert props["Timeout"] == ref("ErasureRunTimeout")
    assert default(parameters, "ErasureRunTimeout") == parameters["ErasureRunTimeout"]["MaxValue"] == 900
    assert env(template, op)["ERASURE_CONCURRENCY"] == ref("ErasureConcurrency")
    # ... while its API requests keep FunctionTimeout (API Gateway waits 29 s at most)
    assert env(template, op)["API_TIMEOUT_SECONDS"] == ref("FunctionTimeout")


# --- outages measured in hours ----------------------------------------------------------------------


def test_the_horizon_mapping_is_the_backoff_arithmetic(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    # Given the OutageHorizonHours parameter and the mapping of receives per horizon
    horizon = parameters["OutageHorizonHours"]
    mapping = template["Mappings"]["OutageHorizon"]
    # Then every horizon offered has the receive count that covers it, and no other is offered
    assert [int(h) for h in horizon["AllowedValues"]] == list(backoff.HORIZON_HOURS)
    assert {int(h): int(v["MaxReceiveCount"]) for h, v in mapping.items()} == {
        h: backoff.receives_for(h * 3600) for h in backoff.HORIZON_HOURS
    }
    # And by default a message rides out 24 hours: 101 receives
    assert default(parameters, "OutageHorizonHours") == 24
    assert int(mapping["24"]["MaxReceiveCount"]) == 101


def test_the_functions_retry_with_the_delays_the_mapping_covers(template: dict[str, Any]) -> None:
    # Given the environment every function gets
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # Then the delays are backoff.py's, the ones the mapping was computed with
    assert variables["QUEUE_RETRY_BASE_SECONDS"] == str(backoff.BASE_SECONDS)
    assert variables["QUEUE_RETRY_MAX_SECONDS"] == str(backoff.MAX_SECONDS)


@queued
def test_a_queue_function_knows_its_last_receive(
    template: dict[str, Any], resources: dict[str, Any], op: Operation
) -> None:
    # Then the function is told the same maxReceiveCount its queue dead-letters after
    count = resources[f"{queue_id(op)}Queue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    assert env(template, op)["MAX_RECEIVE_COUNT"] == count


@queued
def test_a_queue_keeps_messages_longer_than_the_longest_horizon(resources: dict[str, Any], op: Operation) -> None:
    # Then a message survives the longest outage a deployment may choose, with a week to spare
    retention = resources[f"{queue_id(op)}Queue"]["Properties"]["MessageRetentionPeriod"]
    assert retention >= max(backoff.HORIZON_HOURS) * 3600 + 7 * 86400


# --- alarms and the dashboard ------------------------------------------------------------------------


def _alarm(resources: dict[str, Any], name: str) -> dict[str, Any]:
    alarm: dict[str, Any] = resources[name]["Properties"]
    assert resources[name]["Type"] == "AWS::CloudWatch::Alarm"
    assert (alarm["AlarmActions"], alarm["OKActions"]) == (NOTIFY, NOTIFY)
    return alarm


@pytest.mark.parametrize(("api", "suffix"), [("RelayApi", "relay"), ("RelayKeyApi", "relay-key")])
def test_each_api_alarms_on_5xx_and_p99_latency(resources: dict[str, Any], api: str, suffix: str) -> None:
    # Given the API, named for its metrics
    assert resources[api]["Properties"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}
    dimensions = [
        {"Name": "ApiName", "Value": {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}},
        {"Name": "Stage", "Value": ref("ApiStageName")},
    ]
    # Then one alarm watches its share of 5xx answers, another its p99 latency
    errors = _alarm(resources, f"{api}ServerErrorsAlarm")
    assert (errors["MetricName"], errors["Statistic"], errors["Dimensions"]) == ("5XXError", "Average", dimensions)
    assert errors["Threshold"] == ref("ApiErrorRateThreshold")
    latency = _alarm(resources, f"{api}LatencyAlarm")
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Dimensions"]) == (
        "Latency",
        "p99",
        dimensions,
    )
    assert latency["Threshold"] == ref("ApiLatencyP99Threshold")


@ops
def test_each_function_alarms_on_throttles_and_talon_ones_error_rate(resources: dict[str, Any], op: Operation) -> None:
    # Then a throttled invocation fires an alarm
    throttles = _alarm(resources, f"{prefix(op)}ThrottlesAlarm")
    assert (throttles["Namespace"], throttles["MetricName"], throttles["Threshold"]) == ("AWS/Lambda", "Throttles", 0)
    [dimension] = throttles["Dimensions"]
    assert dimension["Name"] == "FunctionName"
    assert named_function(resources, dimension["Value"]) == f"{prefix(op)}Function"
    # And so does the share of its Talon.One calls that failed, from its own EMF counts (every record
    # failing is visible here even though the invocation itself succeeds with partial failures)
    rate = _alarm(resources, f"{prefix(op)}TalonOneErrorRateAlarm")
    metrics = {m["Id"]: m for m in rate["Metrics"]}
    assert metrics["rate"]["Expression"] == "FILL(errors, 0) / calls"
    for ident, name in (("errors", "TalonOneErrors"), ("calls", "TalonOneCalls")):
        metric = metrics[ident]["MetricStat"]["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == (ref("MetricsNamespace"), name)
        assert metric["Dimensions"] == [
            {"Name": "operation", "Value": op.name},
            {"Name": "service", "Value": "talon-relay"},
        ]
    assert rate["Threshold"] == ref("TalonErrorRateThreshold")


@queued
def test_each_work_queue_alarms_on_the_age_of_its_oldest_message(resources: dict[str, Any], op: Operation) -> None:
    age = _alarm(resources, f"{queue_id(op)}QueueAgeAlarm")
    assert (age["Namespace"], age["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{queue_id(op)}Queue", "QueueName"]}}]
    assert age["Threshold"] == ref("QueueBacklogMaxAge")


def test_every_alarm_notifies_a_topic(resources: dict[str, Any]) -> None:
    for alarm in alarms(resources):
        assert alarm["AlarmActions"] == NOTIFY


def test_the_dashboard_shows_effects_calls_errors_retries_backlog_and_dead_letters(resources: dict[str, Any]) -> None:
    # Given the dashboard's body (an !Sub of JSON)
    [(_name, dashboard)] = of_type(resources, "AWS::CloudWatch::Dashboard").items()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(text)
    titles = " | ".join(widget["properties"]["title"] for widget in body["widgets"])
    # Then it has the effects per type, Talon.One's calls, errors and retries, backlog and DLQ depth
    for words in ("Effects", "calls", "errors", "Retries", "Backlog", "oldest", "Dead-letter", "Concurrent", "p99"):
        assert words in titles
    assert "SEARCH('{${MetricsNamespace},operation,service} NOT MetricName=(" in text
    # And every queue, dead-letter queue and function of the table is on it (a GET has no queue to show)
    for op in TABLE:
        for reference in (f"${{{queue_id(op)}Queue.QueueName}}", f"${{{queue_id(op)}DeadLetterQueue.QueueName}}"):
            assert (reference in text) is op.queued
        assert f"${{{prefix(op)}Function}}" in text


# --- deploys that cannot trap ---------------------------------------------------------------------------


def test_access_logging_can_set_up_the_regions_api_gateway_role(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given ApiAccessLogging=enabled with ApiGatewayCloudWatchRole=create
    assert template["Conditions"]["CreateApiGatewayAccount"] == {
        "Fn::And": [
            {"Condition": "ApiAccessLoggingEnabled"},
            {"Fn::Equals": [ref("ApiGatewayCloudWatchRole"), "create"]},
        ]
    }
    # Then the stack creates the role and sets it for the region, and keeps both when it is deleted
    role, account = resources["ApiGatewayCloudWatchLogsRole"], resources["ApiGatewayAccount"]
    for resource in (role, account):
        assert (resource["Condition"], resource["DeletionPolicy"]) == ("CreateApiGatewayAccount", "Retain")
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchLogsRole", "Arn"]}
    # And each API's stage (which writes the access log) waits for that setting
    for api in ("RelayApi", "RelayKeyApi"):
        assert resources[api]["Properties"]["Variables"] == {
            "Fn::If": [
                "CreateApiGatewayAccount",
                {"cloudWatchRoleSetBy": ref("ApiGatewayAccount")},
                ref("AWS::NoValue"),
            ]
        }


def test_each_queue_has_a_policy_of_its_own(resources: dict[str, Any]) -> None:
    # Then every queue policy names exactly one queue, and every queue has one
    policies = of_type(resources, "AWS::SQS::QueuePolicy").values()
    named = [policy["Properties"]["Queues"] for policy in policies]
    assert all(len(queues) == 1 for queues in named)
    assert sorted(queues[0]["Ref"] for queues in named) == sorted(of_type(resources, "AWS::SQS::Queue"))
