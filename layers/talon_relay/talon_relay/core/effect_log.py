"""The one place effects are logged: one line each (operators filter on `effect` in CloudWatch Logs
Insights), with the call's context built once. Their counts per effect name go into the invocation's
one EMF document (`telemetry`), beside its Talon.One calls: one metric per effect name, dimensioned by
operation (and service), the same metrics a `single_metric` per name gave.
"""

from __future__ import annotations

from talon_relay.observability import logger
from talon_relay.wire.effects import NAMED_ARGS, Effect


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
