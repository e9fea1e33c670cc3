"""Module-level Powertools singletons shared by the layer and the handlers (one per container)."""

from __future__ import annotations

import importlib.util
import os

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "talon-relay")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TalonRelay")

logger = Logger(service=SERVICE)


def emit_count(name: str, count: int, *, operation: str) -> None:
    """One EMF metric `name` with the operation as its dimension, flushed at once.

    Honours POWERTOOLS_METRICS_DISABLED, which Powertools' single_metric itself ignores.
    """
    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=count,
        namespace=NAMESPACE,
        default_dimensions={"operation": operation},
    ):
        pass


def tracer() -> Tracer | None:
    """Powertools Tracer, only where it can record: in Lambda, tracing on, and the X-Ray SDK present.

    Created on demand (not at import) because the Tracer imports and patches the X-Ray SDK, which
    costs a cold start about a second. The layer does not ship aws-xray-sdk (it would drag a second
    botocore into the layer); Lambda's `Tracing: Active` still records each invocation, and adding
    the SDK to the layer turns Powertools subsegments on.
    """
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on")
    in_lambda = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
    if disabled or not in_lambda or importlib.util.find_spec("aws_xray_sdk") is None:
        return None
    return Tracer(service=SERVICE)
