"""Module-level Powertools singletons shared by the layer and the handlers (one per container), and
the one place effects are logged.

Effects are logged one line each (operators filter on `effect` in CloudWatch Logs Insights) with the
call's context built once; their counts per effect name go into the invocation's one EMF document
(`telemetry`), beside its Talon.One calls: one metric per effect name, dimensioned by operation (and
service), the same metrics a `single_metric` per name gave.
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer

from talon_relay.wire.effects import NAMED_ARGS, Effect

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "talon-relay")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TalonRelay")


def _message(text: dict[str, Any] | str | bool | int | float) -> Any:
    """How Powertools reads a log message: JSON objects and arrays as JSON, anything else as it is.

    Powertools' default tries json.loads on every message and catches the error, about 8 us a line
    for a message such as "effect"; a message that is JSON is read exactly as before.
    """
    return json.loads(text) if isinstance(text, str) and text[:1] in ("{", "[") else text


logger = Logger(service=SERVICE, json_deserializer=_message)


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


def log_effects(
    effects: list[Effect],
    *,
    operation: str,
    session_id: str | None = None,
    profile_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, int]:
    """One structured line per effect; returns how many of each name (for `telemetry.add`).

    Attributes are never logged; the arguments only of the effects NAMED_ARGS names.
    """
    call = {
        "operation": operation,
        "session_id": session_id,
        "profile_id": profile_id,
        "correlation_id": correlation_id,
    }
    counts: dict[str, int] = {}
    for effect in effects:
        name = effect.name
        if effect.malformed:
            logger.warning("malformed effect kept as raw", extra={"effect_kind": type(effect.raw).__name__})
        logger.info(
            "effect",
            extra={
                "effect": name,
                "campaign_id": effect.campaign_id,
                "ruleset_id": effect.ruleset_id,
                "rule_index": effect.rule_index,
                "rule_name": effect.rule_name,
                # Named effects' arguments (labels, codes, SKUs, points) only: other effects, such as
                # updateAttributeValue or a webhook's payload, can carry customer data.
                "arguments": list(effect.args) if name in NAMED_ARGS else None,
                "argument_count": len(effect.args),
                "malformed": effect.malformed,
                **call,
            },
        )
        counts[name] = counts.get(name, 0) + 1
    return counts
