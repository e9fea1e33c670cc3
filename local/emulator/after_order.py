"""The handlers of the June 2026 operations of an order's later life: returnCartItems,
reopenCustomerSession, getCustomerSession, trackEventV3, getEventV3 (their semantics: `lifecycle`)."""

from __future__ import annotations

import copy
from typing import Any

from local.emulator import answers_v2, lifecycle
from local.emulator.errors import ApiError
from local.emulator.headers import header
from local.emulator.model import Options, Outcome, Result
from local.emulator.routes import Call
from local.emulator.store import Session

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _session(call: Call) -> Session:
    session = call.backend.store.sessions.get(call.params["customerSessionId"])
    if session is None:
        raise ApiError(404, "Customer session not found", title="Not found", parameter="customerSessionId")
    return session


def _answer(call: Call, result: Result, content: list[str]) -> Outcome:
    body = answers_v2.integration_state(result, content, call.backend.store, call.backend.rules)
    return Outcome(200, body, result.effect_names)


def return_cart_items(call: Call) -> Outcome:
    backend = call.backend
    key = header(call.headers, IDEMPOTENCY_HEADER)
    lifecycle.check_key(key)
    now = backend.now()
    digest = lifecycle.request_digest(call.params["customerSessionId"], call.body, call.query)
    if key is not None:
        kept = lifecycle.remembered(backend.kept_answers, key, digest, now)
        if kept is not None:
            return Outcome(kept[0], copy.deepcopy(kept[1]), [])
    dry = call.query.get("dry") is True
    with backend.transaction(commit=not dry):
        session = _session(call)
        evaluation = lifecycle.return_items(backend.store, session, call.body["return"]["returnedCartItems"], now)
        profile = backend._profile_of(session, now)
        result = lifecycle.finished(backend.store, "talon_session_returned", session, profile, evaluation, now)
        outcome = _answer(call, result, call.body.get("responseContent") or ["customerSession"])
    if key is not None and not dry:
        lifecycle.keep(backend.kept_answers, key, digest, now, (outcome.status, copy.deepcopy(outcome.body)))
    return outcome


def reopen_customer_session(call: Call) -> Outcome:
    backend = call.backend
    now = backend.now()
    session = _session(call)
    evaluation = lifecycle.reopen(backend.store, session, now)
    profile = backend._profile_of(session, now)
    result = lifecycle.finished(backend.store, "talon_session_reopened", session, profile, evaluation, now)
    # ReopenSessionResponse: the effects only
    body = {"effects": answers_v2.integration_state(result, [], backend.store, backend.rules)["effects"]}
    return Outcome(200, body, result.effect_names)


def get_customer_session(call: Call) -> Outcome:
    session = _session(call)
    result = Result(200, session=session, now=call.backend.now())
    body = answers_v2.integration_state(result, ["customerSession"], call.backend.store, call.backend.rules)
    return Outcome(200, body, [])


def _advanced(call: Call, event_id: int, integration_id: str) -> dict[str, Any]:
    """An advanced event as getEventV3 shows it: its integrationId, the session it is connected to."""
    event = next(e for e in call.backend.store.events if e.id == event_id)
    body = answers_v2.event_wire(event, call.backend.rules)
    body["integrationId"] = integration_id
    if "sessionId" in body:
        body["connectedSessionId"] = body.pop("sessionId")
    return body


def track_event_v3(call: Call) -> Outcome:
    backend, body, query = call.backend, call.body, call.query
    dry = query.get("dry") is True
    if query.get("forceCompleteEvaluation") is True and not dry:
        raise ApiError(
            400,
            "forceCompleteEvaluation requires dry=true",
            title="Invalid query parameter",
            parameter="forceCompleteEvaluation",
        )
    silent = query.get("silent") in ("yes", "true")
    content: list[str] = body.get("responseContent") or []
    integration_id = body["integrationId"]
    known = backend.store.advanced_events.get(integration_id)
    if known is not None:  # idempotent: registered once, the first event answered, nothing evaluated again
        if silent:
            return Outcome(204, None, [])
        answer: dict[str, Any] = {"effects": [], "createdCoupons": [], "createdReferrals": []}
        if "advancedEvent" in content:
            answer["advancedEvent"] = _advanced(call, known, integration_id)
        return Outcome(200, answer, [])
    with backend.transaction(commit=not dry):
        connected = lifecycle.connected_session(backend.store, body.get("connectedSessionId"), body["profileId"])
        attributes = dict(body.get("attributes") or {})
        result = backend.track_event(body["type"], None, body["profileId"], attributes, call.application_id, Options())
        if connected is not None:
            lifecycle.connect(connected, result.evaluation)
            if result.event is not None:
                result.event.session_id = connected.integration_id
        if result.event is not None:
            backend.store.advanced_events[integration_id] = result.event.id
        if silent:
            return Outcome(204, None, result.effect_names)
        answer = answers_v2.integration_state(
            result, [c for c in content if c != "advancedEvent"], backend.store, backend.rules
        )
        if "advancedEvent" in content and result.event is not None:
            answer["advancedEvent"] = _advanced(call, result.event.id, integration_id)
        return Outcome(200, answer, result.effect_names)


def get_event_v3(call: Call) -> Outcome:
    known = call.backend.store.advanced_events.get(call.params["integrationId"])
    if known is None:
        raise ApiError(404, "Event not found", title="Not found", parameter="integrationId")
    return Outcome(200, _advanced(call, known, call.params["integrationId"]), [])
