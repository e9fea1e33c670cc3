"""The handlers of the achievement operations: a profile's achievements and an achievement's history.

An achievement (`rules.Achievement`, locally one in default_rules.json) counts the profile's events of
its `eventType` toward its `target`: no event yet is `not_started`, fewer than the target `inprogress`,
the target reached `completed` (on the event that reached it). Nothing is stored: progress is read from
the events the emulator keeps.
"""

from __future__ import annotations

from typing import Any

from local.emulator.entities import rfc3339
from local.emulator.errors import ApiError
from local.emulator.ledgers import page
from local.emulator.model import Outcome
from local.emulator.routes import Call
from local.emulator.rules import Achievement

#: When the local achievements were created (a fixed moment: answers are the same run after run).
CREATED = "2026-01-01T00:00:00.000000Z"


def _profile(call: Call) -> str:
    integration_id = call.params["integrationId"]
    if integration_id not in call.backend.store.profiles:
        raise ApiError(404, "Customer profile not found", title="Not found", parameter="integrationId")
    return integration_id


def _progress(call: Call, achievement: Achievement, profile_id: str) -> dict[str, Any]:
    """The AchievementProgress of the profile, with the achievement's definition (what the SDK reads)."""
    events = [e for e in call.backend.store.events if e.profile_id == profile_id and e.type == achievement.event_type]
    done = len(events) >= achievement.target
    progress: dict[str, Any] = {
        "status": "completed" if done else ("inprogress" if events else "not_started"),
        "progress": float(min(len(events), achievement.target)),
    }
    if events:
        progress["startDate"] = rfc3339(events[0].created)
    if done:
        progress["completionDate"] = rfc3339(events[achievement.target - 1].created)
    return progress


def _definition(achievement: Achievement) -> dict[str, Any]:
    return {
        "achievementId": achievement.id,
        "name": achievement.name,
        "title": achievement.title,
        "description": achievement.description,
        "campaignId": achievement.campaign_id,
        "target": float(achievement.target),
        "achievementRecurrencePolicy": "no_recurrence",
        "achievementActivationPolicy": "user_action",
    }


def _listed(values: Any) -> list[str] | None:
    return None if not values else [str(v) for v in values]


def get_customer_achievements(call: Call) -> Outcome:
    profile_id = _profile(call)
    ids, campaigns = _listed(call.query.get("achievementIds")), _listed(call.query.get("campaignIds"))
    statuses = _listed(call.query.get("achievementStatus"))
    progress_statuses = _listed(call.query.get("currentProgressStatus"))
    found: list[dict[str, Any]] = []
    for achievement in call.backend.rules.achievements:
        progress = _progress(call, achievement, profile_id)
        if (
            (ids is not None and str(achievement.id) not in ids)
            or (campaigns is not None and str(achievement.campaign_id) not in campaigns)
            or (statuses is not None and "active" not in statuses)
            or (progress_statuses is not None and progress["status"] not in progress_statuses)
        ):
            continue
        found.append(
            {
                "id": achievement.id,
                "created": CREATED,
                "name": achievement.name,
                "title": achievement.title,
                "description": achievement.description,
                "target": float(achievement.target),
                "recurrencePolicy": "no_recurrence",
                "activationPolicy": "user_action",
                "campaignId": achievement.campaign_id,
                "status": "active",
                "currentProgress": progress,
            }
        )
    data, _ = page(found, call.query, 1000)
    return Outcome(200, {"totalResultSize": len(found), "data": data})


def get_customer_achievement_history(call: Call) -> Outcome:
    profile_id = _profile(call)
    wanted = call.params["achievementId"]
    achievement = next((a for a in call.backend.rules.achievements if str(a.id) == wanted), None)
    if achievement is None:
        raise ApiError(404, "Achievement not found", title="Not found", parameter="achievementId")
    progress = _progress(call, achievement, profile_id)
    statuses = _listed(call.query.get("progressStatus"))
    entries = [] if progress["status"] == "not_started" else [{**progress, **_definition(achievement)}]
    entries = [e for e in entries if statuses is None or e["status"] in statuses]
    data, _ = page(entries, call.query, 1000)
    return Outcome(200, {"totalResultSize": len(entries), "data": data})
