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


def _tracer() -> Tracer:
    """X-Ray via Powertools Tracer, on only when tracing is enabled and the X-Ray SDK is present.

    The layer does not ship aws-xray-sdk (it would drag a second botocore into the layer); Lambda's
    `Tracing: Active` still records each invocation, and adding the SDK turns subsegments on.
    """
    available = importlib.util.find_spec("aws_xray_sdk") is not None
    return Tracer(service=SERVICE, disabled=not available or None)


tracer = _tracer()
