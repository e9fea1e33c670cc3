"""Module-level Powertools singletons shared by the layer and the handlers (one per container)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "talon-relay")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TalonRelay")

logger = Logger(service=SERVICE)


def emit_count(name: str, count: int, *, operation: str) -> None:
    """One EMF metric `name` with the operation as its dimension, flushed at once."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=count,
        namespace=NAMESPACE,
        default_dimensions={"operation": operation},
    ):
        pass
