"""Webhooks counted by topic: EMF metrics with the receiver and the topic as dimensions.

Topics are few and bounded (a platform's list), so they make a safe dimension; nothing about the
customer does. Honours POWERTOOLS_METRICS_DISABLED, as `telemetry.emit_counts` does.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from talon_relay.observability import NAMESPACE

#: A webhook verified and queued for its mapping.
QUEUED = "WebhookQueued"
#: A webhook whose topic has no mapping: acknowledged, nothing sent.
UNMAPPED = "WebhookTopicUnmapped"
#: A webhook whose mapping neither sends nor forgets anything (an operator's mapping of no step).
NOTHING_TO_SEND = "WebhookNothingToSend"
#: A queued webhook whose mapped operations all went through.
APPLIED = "WebhookApplied"
#: A repeat of a refund or an edit applied before, found by its step's key: acknowledged, nothing sent.
REPEATED = "WebhookRepeated"


def count(name: str, *, operation: str, topic: str) -> None:
    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"operation": operation, "topic": topic},
    ):
        pass
