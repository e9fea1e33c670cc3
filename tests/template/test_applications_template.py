"""The template's side of several applications (docs/applications.md): the document reaches every function,
and each function may read the secrets the document names, only when there are any."""

from __future__ import annotations

from typing import Any

from talon_relay.operations import Operation
from tests.template.helpers import as_list, ops, prefix, ref


def test_the_applications_document_is_a_parameter_every_function_reads(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert (parameters["Applications"]["Default"], parameters["ApplicationSecretArns"]["Type"]) == (
        "",
        "CommaDelimitedList",
    )
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TALON_APPLICATIONS"] == ref("Applications")


@ops
def test_each_function_reads_the_applications_secrets_only_when_there_are_some(
    resources: dict[str, Any], op: Operation
) -> None:
    role = resources[f"{prefix(op)}FunctionRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in as_list(policy["PolicyDocument"]["Statement"])]
    # (the event bus's statements are under a condition of their own: EffectsToEventBusEnabled)
    [conditional] = [s["Fn::If"] for s in statements if "Fn::If" in s and s["Fn::If"][0] == "HasApplications"]
    condition, statement, otherwise = conditional
    assert (condition, otherwise) == ("HasApplications", ref("AWS::NoValue"))
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"] == ref("ApplicationSecretArns")


def test_each_application_named_in_alarm_applications_gets_its_error_rate_and_queue_age_alarms(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    from template.application_alarms import MAX_APPLICATIONS

    assert template["Parameters"]["AlarmApplications"]["Type"] == "CommaDelimitedList"
    for slot in range(MAX_APPLICATIONS):
        rate = resources[f"Application{slot}TalonOneErrorRateAlarm"]
        age = resources[f"Application{slot}QueueAgeAlarm"]
        # each exists only when the slot is filled, and watches that application's own metrics
        assert rate["Condition"] == age["Condition"] == f"AlarmApplication{slot}"
        assert [d["Name"] for d in age["Properties"]["Dimensions"]] == ["application", "service"]
        assert (age["Properties"]["MetricName"], age["Properties"]["Threshold"]) == (
            "QueueAgeSeconds",
            ref("QueueBacklogMaxAge"),
        )
        errors = rate["Properties"]["Metrics"][0]["MetricStat"]["Metric"]
        assert [d["Name"] for d in errors["Dimensions"]] == ["application", "service"]
        # the slot's name: the list padded with empty names, so a short list never fails Fn::Select
        [name] = [d["Value"] for d in errors["Dimensions"] if d["Name"] == "application"]
        assert name["Fn::Select"][0] == slot
        condition = template["Conditions"][f"AlarmApplication{slot}"]
        assert condition == {"Fn::Not": [{"Fn::Equals": [name, ""]}]}


def test_each_applications_queue_age_alarm_watches_the_metric_the_webhook_consumer_writes(
    template: dict[str, Any], resources: dict[str, Any], capsys: Any
) -> None:
    import json

    from talon_relay import telemetry

    # Given the document the relay writes for an application's queue age (a webhook's, in a deployment of several)
    counts = telemetry.Counts()
    counts.of("us").maximum(telemetry.QUEUE_AGE, 700)
    telemetry.flush(counts, "shopifyWebhook")
    [written] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"us"' in line]
    metrics = written["_aws"]["CloudWatchMetrics"][0]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # Then each slot's queue age alarm reads that metric: its name, its namespace, one of its dimension sets
    age = resources["Application0QueueAgeAlarm"]["Properties"]
    assert telemetry.QUEUE_AGE in [m["Name"] for m in metrics["Metrics"]] and age["MetricName"] == telemetry.QUEUE_AGE
    assert age["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"] == ref("MetricsNamespace")
    assert [d["Name"] for d in age["Dimensions"]] in metrics["Dimensions"]
    [service] = [d["Value"] for d in age["Dimensions"] if d["Name"] == "service"]
    assert service == written["service"] == variables["POWERTOOLS_SERVICE_NAME"]
    # and it fires on the age the relay measured, over QueueBacklogMaxAge, at its worst in five minutes
    assert (age["Statistic"], age["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
