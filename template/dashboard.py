"""The relay's CloudWatch dashboard, rendered into template.yaml from the operation table.

One dashboard per stack (named after it): the effects Talon.One returned per type (the EMF metrics),
Talon.One calls, errors, throttles and retries per function, what happened to queued messages (retried
later, superseded, dead-lettered), backlog and age of every work queue, dead-letter queue depth,
concurrency and throttles of every function, and both APIs' traffic, 5xx and p99 latency.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from talon_relay import telemetry
from template.entry import OperationEntry, holds_queue, logical_prefix, queue_prefix

WIDTH, HEIGHT = 12, 6
#: The EMF metrics of the relay's own counts (telemetry.py); every other metric of the namespace is an effect.
OWN_METRICS = telemetry.NAMES
APIS = (("RelayApi", "relay"), ("RelayKeyApi", "relay-key"))


def _search(filter_: str, stat: str = "Sum", period: int = 300) -> str:
    return f"SEARCH('{{${{MetricsNamespace}},operation,service}} {filter_}', '{stat}', {period})"


def _per_application(metric: str, stat: str = "Sum") -> str:
    """A metric of every application (the dimension `application` of a deployment of several)."""
    return f"SEARCH('{{${{MetricsNamespace}},application,service}} MetricName=\"{metric}\"', '{stat}', 300)"


def _expression(expression: str, label: str, ident: str) -> list[dict[str, str]]:
    return [{"expression": expression, "label": label, "id": ident}]


def _widget(title: str, metrics: list[Any], *, stat: str = "Sum", stacked: bool = False) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stacked": stacked,
            "stat": stat,
            "period": 300,
            "metrics": metrics,
        },
    }


def widgets(ordered: list[OperationEntry]) -> list[dict[str, Any]]:
    # a GET has no queue (answered at once); a shared queue is counted once, with its consumer
    queued = [op for op in ordered if holds_queue(op)]
    work = [op for op in queued if not op.schedule]
    not_own = " OR ".join(OWN_METRICS)
    out = [
        _widget(
            "Per application (docs/applications.md): Talon.One calls and errors",
            [
                _expression(_per_application(telemetry.CALLS), "calls", "appcalls"),
                _expression(_per_application(telemetry.ERRORS), "errors", "apperrors"),
            ],
        ),
        _widget(
            "Per application: age of the oldest message received (seconds), dead-lettered",
            [
                _expression(_per_application(telemetry.QUEUE_AGE, "Maximum"), "age", "appage"),
                _expression(_per_application(telemetry.DEAD_LETTERED), "dead-lettered", "appdead"),
            ],
            stat="Maximum",
        ),
        _widget(
            "Effects Talon.One returned, per type and operation",
            [_expression(_search(f"NOT MetricName=({not_own})"), "", "effects")],
            stacked=True,
        ),
        _widget(
            "Talon.One calls per function",
            [_expression(_search(f'MetricName="{telemetry.CALLS}"'), "", "calls")],
            stacked=True,
        ),
        _widget(
            "Talon.One errors (5xx, timeouts, unreachable, credentials) and 429s",
            [
                _expression(_search(f'MetricName="{telemetry.ERRORS}"'), "errors", "errors"),
                _expression(_search(f'MetricName="{telemetry.THROTTLED}"'), "429", "throttled"),
            ],
        ),
        _widget(
            "Retries: in the call (Retry-After, backoff), and messages handed back for later",
            [
                _expression(_search(f'MetricName="{telemetry.RETRIES}"'), "in-call", "retries"),
                _expression(_search(f'MetricName="{telemetry.RETRY_LATER}"'), "later", "later"),
            ],
        ),
        _widget(
            "Messages superseded (an older update not applied) and dead-lettered by the relay",
            [
                _expression(_search(f'MetricName="{telemetry.SUPERSEDED}"'), "superseded", "superseded"),
                _expression(_search(f'MetricName="{telemetry.DEAD_LETTERED}"'), "dead-lettered", "dead"),
            ],
        ),
        _widget(
            "Erasures done per scheduled run",
            [_expression(_search(f'MetricName="{telemetry.ERASED}"'), "", "erased")],
        ),
        _widget(
            "Backlog: visible messages per queue",
            [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    f"${{{queue_prefix(op)}Queue.QueueName}}",
                ]
                for op in queued
            ],
            stat="Maximum",
        ),
        _widget(
            "Age of the oldest message per work queue (s)",
            [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"${{{queue_prefix(op)}Queue.QueueName}}"]
                for op in work
            ],
            stat="Maximum",
        ),
        _widget(
            "Dead-letter queue depth",
            [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    f"${{{queue_prefix(op)}DeadLetterQueue.QueueName}}",
                ]
                for op in queued
            ]
            + [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    "${ErasureScheduleDeadLetterQueue.QueueName}",
                ]
            ],
            stat="Maximum",
        ),
        _widget(
            "Concurrent executions per function",
            [
                ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", f"${{{logical_prefix(op)}Function}}"]
                for op in ordered
            ],
            stat="Maximum",
        ),
        _widget(
            "Lambda throttles and errors per function",
            [["AWS/Lambda", "Throttles", "FunctionName", f"${{{logical_prefix(op)}Function}}"] for op in ordered]
            + [["AWS/Lambda", "Errors", "FunctionName", f"${{{logical_prefix(op)}Function}}"] for op in ordered],
        ),
        _widget(
            "API requests and 5xx answers",
            [
                ["AWS/ApiGateway", metric, "ApiName", f"${{AWS::StackName}}-{suffix}", "Stage", "${ApiStageName}"]
                for _, suffix in APIS
                for metric in ("Count", "5XXError")
            ],
        ),
        _widget(
            "API latency p99 (ms)",
            [
                ["AWS/ApiGateway", "Latency", "ApiName", f"${{AWS::StackName}}-{suffix}", "Stage", "${ApiStageName}"]
                for _, suffix in APIS
            ],
            stat="p99",
        ),
    ]
    for index, widget in enumerate(out):
        widget.update(x=(index % 2) * WIDTH, y=(index // 2) * HEIGHT, width=WIDTH, height=HEIGHT)
    return out


def dashboard(ordered: list[OperationEntry]) -> str:
    """The RelayDashboard resource's YAML (an !Sub of its JSON body)."""
    body = json.dumps({"widgets": widgets(ordered)}, indent=1)
    return (
        "  # --- the dashboard (template/dashboard.py) "
        + "-" * 53
        + "\n\n  RelayDashboard:\n"
        + "    Type: AWS::CloudWatch::Dashboard\n"
        + "    Properties:\n"
        + "      DashboardName: !Ref AWS::StackName\n"
        + "      DashboardBody: !Sub |\n"
        + textwrap.indent(body, " " * 8)
        + "\n"
    )
