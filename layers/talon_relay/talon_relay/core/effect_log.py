"""The one place effects are logged: ONE line per answer, message "effects", listing every effect
(`effects`, each with its name, campaign, ruleset, rule and argument count) and their names flat in
`effects_named` (operators filter on it in CloudWatch Logs Insights: docs/operating.md), with the call's
context once. A Powertools record per effect cost about 28 us each (the record, findCaller, the
formatter); one per answer costs that once. Their counts per effect name go into the invocation's one
EMF document (`telemetry`), beside its Talon.One calls: one metric per effect name, dimensioned by
operation (and service), the same metrics a `single_metric` per name gave.
"""

from __future__ import annotations

from typing import Any

from talon_relay.observability import logger
from talon_relay.wire.effects import NAMED_ARGS, Effect

#: Effects per line. A CloudWatch Logs event holds 256 KB and Lambda splits a longer line, which would
#: break its JSON; a hundred effects (each a few hundred bytes) stay far below that, so an answer with
#: thousands of effects is logged in parts (`part` of `parts`), each a whole JSON line.
EFFECTS_PER_LINE = 100


def _fields(effect: Effect) -> dict[str, Any]:
    """An effect as logged: never its attributes; its arguments only if NAMED_ARGS names it."""
    name = effect.name
    return {
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
    }


def log_effects(
    effects: list[Effect],
    *,
    operation: str,
    session_id: str | None = None,
    profile_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, int]:
    """One structured line for the answer's effects (none without any; in parts of EFFECTS_PER_LINE); how
    many of each name (for `telemetry.add`). A malformed effect is also warned about on its own line.
    """
    if not effects:
        return {}
    counts: dict[str, int] = {}
    for effect in effects:
        if effect.malformed:
            logger.warning("malformed effect kept as raw", extra={"effect_kind": type(effect.raw).__name__})
        counts[effect.name] = counts.get(effect.name, 0) + 1
    parts = range(0, len(effects), EFFECTS_PER_LINE)
    for part, start in enumerate(parts, start=1):
        chunk = effects[start : start + EFFECTS_PER_LINE]
        logger.info(
            "effects",
            extra={
                "effects": [_fields(effect) for effect in chunk],
                "effects_named": [effect.name for effect in chunk],
                "effect_count": len(chunk),
                "part": part,
                "parts": len(parts),
                "operation": operation,
                "session_id": session_id,
                "profile_id": profile_id,
                "correlation_id": correlation_id,
            },
        )
    return counts
