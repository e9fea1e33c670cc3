"""The way back: an answer's effects and Talon.One's notifications as events on the relay's bus.

Every effect of every answer and every notification is one EventBridge entry (docs/events.md):

| kind         | Source                      | DetailType                                  | detail `id`               |
| ------------ | --------------------------- | ------------------------------------------- | ------------------------- |
| effect       | `talon-relay.effects`       | the effect's type (`addLoyaltyPoints`, ...) | `effect:<sha256 prefix>`  |
| notification | `talon-relay.notifications` | its `NotificationType` (`TierUpgrade`, ...) | `notification:<X-UUID>`   |

The detail (schemas/events/*.schema.json) names the application, profile and session when the answer
or notification does, and holds the effect or the notification exactly as Talon.One sent it. Its `id`
is stable: the same effect of the same request (its idempotency key, else its correlation id, and its
place in the answer), or the same notification (`X-UUID`), always has the same id, so a subscriber
recognises a duplicate.

Publishing effects happens in the call that got the answer, after it (one PutEvents per 10 effects);
it never fails the call: what the bus refuses after the retries of `aws.events` is dead-lettered with
its reason. A notification is published from its queue: a refusal there is retried from the queue
(BusUnavailable), for hours, before the notification is dead-lettered.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from talon_relay.aws import events
from talon_relay.errors import BusUnavailable, InvalidRequest
from talon_relay.observability import logger
from talon_relay.wire.effects import Effect

if TYPE_CHECKING:
    from talon_relay.container import Container

EFFECTS_SOURCE = "talon-relay.effects"
NOTIFICATIONS_SOURCE = "talon-relay.notifications"
#: A detail-type as EventBridge rules match it; anything else (absent, odd characters) is "unknown".
_DETAIL_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")
UNKNOWN = "unknown"
_SURROGATE = re.compile("[\ud800-\udfff]")


def detail_type(name: Any) -> str:
    return name if isinstance(name, str) and _DETAIL_TYPE.match(name) else UNKNOWN


def _first(value: Any, *paths: tuple[str | int, ...]) -> Any:
    """The first value found at one of `paths` (keys and list indexes) of a parsed body."""
    for path in paths:
        node = value
        for step in path:
            if isinstance(step, int):
                node = node[step] if isinstance(node, list) and len(node) > step else None
            else:
                node = node.get(step) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, dict | list):
            return node
    return None


def effect_id(
    *, operation: str, key: str | None, session_id: str | None, profile_id: str | None, index: int, raw: Any
) -> str:
    text = json.dumps([operation, key, session_id, profile_id, index, raw], sort_keys=True, default=str)
    return "effect:" + hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:32]


def effect_entries(
    bus: str,
    effects: list[Effect],
    *,
    operation: str,
    key: str | None,
    application_id: Any = None,
    session_id: str | None = None,
    profile_id: str | None = None,
) -> list[events.Entry]:
    """One entry per effect, in the answer's order."""
    entries = []
    for index, effect in enumerate(effects):
        detail = {
            "id": effect_id(
                operation=operation, key=key, session_id=session_id, profile_id=profile_id, index=index, raw=effect.raw
            ),
            "kind": "effect",
            "type": effect.name,
            "operation": operation,
            "applicationId": application_id,
            "profileId": profile_id,
            "sessionId": session_id,
            "campaignId": effect.campaign_id,
            "rulesetId": effect.ruleset_id,
            "ruleIndex": effect.rule_index,
            "ruleName": effect.rule_name,
            "index": index,
            "effect": effect.raw,
        }
        entries.append(_entry(bus, EFFECTS_SOURCE, detail_type(effect.name), detail))
    return entries


def notification_facts(body: Any) -> dict[str, Any]:
    """What a notification says about whose it is: its application, profile and session, when it says."""
    return {
        "applicationId": _first(body, ("ApplicationID",), ("applicationId",), ("Data", 0, "campaign", "applicationId")),
        "profileId": _first(
            body,
            ("ProfileIntegrationID",),
            ("Data", 0, "CustomerProfileID"),
            ("Data", 0, "ProfileIntegrationID"),
            ("ProfileIntegrationIDs", 0),
        ),
        "sessionId": _first(body, ("SessionIntegrationID",)),
    }


def notification_entry(bus: str, body: Any, *, uuid: str, received_at: str | None) -> events.Entry:
    """One entry for a notification, whatever its type (an unknown one as it came: detail-type `unknown`
    when it names none)."""
    kind = body.get("NotificationType") if isinstance(body, dict) else None
    detail = {
        "id": f"notification:{uuid}",
        "kind": "notification",
        "type": kind if isinstance(kind, str) else None,
        **notification_facts(body),
        "receivedAt": received_at,
        "notification": body,
    }
    return _entry(bus, NOTIFICATIONS_SOURCE, detail_type(kind), detail)


def _entry(bus: str, source: str, kind: str, detail: dict[str, Any]) -> events.Entry:
    """One entry, its detail as UTF-8 JSON: EventBridge counts the bytes, and \\u escapes made a notification in
    another script two to three times its size (refused past 256 KB). A lone surrogate (not UTF-8) stays escaped."""
    text = json.dumps(detail, default=str, ensure_ascii=False)
    if not text.isascii() and _SURROGATE.search(text):
        text = json.dumps(detail, default=str)
    return {"EventBusName": bus, "Source": source, "DetailType": kind, "Detail": text}


def publish_effects(
    container: Container,
    effects: list[Effect],
    *,
    operation: str,
    key: str | None,
    application_id: Any = None,
    session_id: str | None = None,
    profile_id: str | None = None,
) -> int:
    """Publish an answer's effects; returns how many were published. Never raises: the request was
    applied, so what the bus refuses is dead-lettered with its reason (or logged as lost)."""
    cfg = container.settings()
    if not cfg.event_bus_name or not effects:
        return 0
    try:
        entries = effect_entries(
            cfg.event_bus_name,
            effects,
            operation=operation,
            key=key,
            application_id=application_id,
            session_id=session_id,
            profile_id=profile_id,
        )
        refused = events.put(container, entries)
        if refused:
            events.dead_letter(container, cfg.events_dead_letter_queue_url, refused, operation=operation)
        return len(entries) - len(refused)
    except Exception as exc:
        logger.exception("could not publish the answer's effects", extra={"reason": type(exc).__name__})
        return 0


def publish_notification(container: Container, body: Any, *, uuid: str, received_at: str | None) -> str:
    """Publish one notification; returns its event id. BusUnavailable when the bus refused it (the
    notification's queue retries it later, then dead-letters it with this reason)."""
    cfg = container.settings()
    entry = notification_entry(cfg.event_bus_name or "", body, uuid=uuid, received_at=received_at)
    if not cfg.event_bus_name:
        logger.warning(
            "EVENT_BUS_NAME is not set: notification not published", extra={"detail_type": entry["DetailType"]}
        )
        return f"notification:{uuid}"
    size = events.entry_size(entry)
    if size > events.MAX_REQUEST_BYTES:  # never publishable: dead-lettered now, not retried for hours
        problem = f"the notification is {size:,} bytes as an event; EventBridge takes {events.MAX_REQUEST_BYTES:,}"
        raise InvalidRequest.single("Notification too large", problem, pointer="")
    refused = events.put(container, [entry])
    if refused:
        raise BusUnavailable(f"the bus refused the notification: {refused[0].reason}")
    return f"notification:{uuid}"
