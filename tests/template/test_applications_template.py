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
