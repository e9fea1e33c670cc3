"""The template's defaults that cost money, and the list prices the bench's Cost row uses (docs/cost.md).

What is on by default is read by something (an alarm, a widget, the relay itself); what nothing reads is
off: X-Ray (XRayTracing) and API Gateway's per-route detailed metrics. bench/prices.json keeps the list
prices with their date and source, priced against what the template deploys (memory, arm64).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from bench import cost
from tests.template.helpers import default

APIS = ("RelayApi", "RelayKeyApi")


def _api_gateway_metrics(template: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(metric, dimension names) of every AWS/ApiGateway metric an alarm or the dashboard reads."""
    found: list[tuple[str, list[str]]] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::CloudWatch::Alarm" and props.get("Namespace") == "AWS/ApiGateway":
            found.append((props["MetricName"], [d["Name"] for d in props.get("Dimensions", [])]))
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = json.dumps(props["DashboardBody"])
            for line in re.findall(r'\[\\?"AWS/ApiGateway[^\]]*\]', body):
                parts = [part.strip('\\" ') for part in line.strip("[]").split(",")]
                found.append((parts[1], parts[2::2]))
    return found


def test_xray_tracing_is_off_by_default(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    # Given the template's parameters and the functions' globals
    function_globals = template["Globals"]["Function"] if "Globals" in template else None

    # Then nothing is traced unless XRayTracing=enabled (nothing in the stack reads traces)
    assert default(parameters, "XRayTracing") == "disabled"
    assert parameters["XRayTracing"]["AllowedValues"] == ["enabled", "disabled"]
    if function_globals is not None:
        assert function_globals["Tracing"] == {"Fn::If": ["XRayTracingEnabled", "Active", "PassThrough"]}


def test_no_per_route_api_metrics_and_nothing_reads_them(resources: dict[str, Any], template: dict[str, Any]) -> None:
    # Given both REST APIs' method settings, and every API Gateway metric an alarm or widget reads
    settings = [setting for api in APIS for setting in resources[api]["Properties"]["MethodSettings"]]
    read = _api_gateway_metrics(template)

    # Then no route has detailed metrics (billed per metric, per route)
    assert settings and all(setting["MetricsEnabled"] is False for setting in settings)
    # And what is read are the stage's own metrics (ApiName, Stage), which API Gateway sends without them
    assert read
    for metric, dimensions in read:
        assert set(dimensions) <= {"ApiName", "Stage"}, (metric, dimensions)


def test_prices_are_dated_sourced_list_prices_of_the_region() -> None:
    # Given the list prices the bench's Cost row multiplies its measured units by
    table = cost.prices()

    # Then each has a price, a unit and an AWS pricing page, in us-east-1, on a stated date
    assert table["region"] == "us-east-1" and table["currency"] == "USD"
    assert date.fromisoformat(table["as_of"]).year >= 2025  # (a parseable date)
    for name, price in table["prices"].items():
        assert price["usd"] > 0, name
        assert price["unit"], name
        assert price["source"].startswith("https://aws.amazon.com/"), name
    # And every assumption says why it is not measured
    assert all(assumption["why"] for assumption in table["assumptions"].values())


def test_cost_is_priced_at_the_memory_and_architecture_deployed(template: dict[str, Any]) -> None:
    # Given the functions' memory and architecture
    function_globals = template["Globals"]["Function"]

    # Then the Cost row prices the GB-seconds of that memory, on arm64
    assert function_globals["MemorySize"] / 1024 == cost.MEMORY_GB
    assert function_globals["Architectures"] == ["arm64"]
    assert "lambda_gb_second_arm64" in cost.prices()["prices"]
