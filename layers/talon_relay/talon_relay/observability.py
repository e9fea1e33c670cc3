"""Module-level Powertools singletons shared by the layer and the handlers (one per process)."""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.shared.constants import LOGGER_LOG_SAMPLING_RATE
from aws_lambda_powertools.shared.functions import powertools_dev_is_set

from talon_relay.log_lines import LineFormatter, compact_json

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "talon-relay")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TalonRelay")


def _message(text: dict[str, Any] | str | bool | int | float) -> Any:
    """How Powertools reads a log message: JSON objects and arrays as JSON, anything else as it is.

    Powertools' default tries json.loads on every message and catches the error, about 8 us a line
    for a message such as "effect"; a message that is JSON is read exactly as before.
    """
    return json.loads(text) if isinstance(text, str) and text[:1] in ("{", "[") else text


def _serializer() -> Any:
    """How Powertools writes a line (json.dumps with its options), with the encoder made once
    (log_lines.compact_json); POWERTOOLS_DEV's indented lines keep Powertools' own."""
    if powertools_dev_is_set():
        return None
    return compact_json()


def _formatter() -> LineFormatter:
    """Powertools' formatter with less work per line (log_lines.py), given the keys Powertools' Logger
    gives the formatter it makes (service, sampling_rate): `clear_state` (inject_lambda_context) keeps them."""
    sampling_rate = os.environ.get(LOGGER_LOG_SAMPLING_RATE)
    return LineFormatter(
        json_deserializer=_message, json_serializer=_serializer(), service=SERVICE, sampling_rate=sampling_rate
    )


logger = Logger(service=SERVICE, logger_formatter=_formatter())


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
