"""The handlers of the three v2 operations of today (May 2026 spec): query semantics, body -> `Backend` -> answer.

- `dry=true`: the request is evaluated as usual and answered, then every change is forgotten; only
  then is `evaluableCampaignIds` honoured (only those campaigns run).
- updateCustomerSessionV2: `now` (RFC 3339) is the moment to evaluate at; it needs `dry=true` and
  must be in the future (else 400 naming `now`). The session (and its profile) is created if new.
- updateCustomerProfileV2: `runRuleEngine` (default false) runs the rules and records a
  `talon_profile_updated` event; without it the attributes are merged, `effects` is empty, nothing
  else changes, and `dry` or a `responseContent` is a 400 (the spec: they need the rule engine).
- trackEventV2: `silent` is "yes" (the spec's default: 204 without a body) or "no" (200 with the
  answer); "true"/"false" are read as "yes"/"no". `forceCompleteEvaluation=true` needs `dry=true`.
  An event has no session; an unknown profile is created, no `profileId` is an anonymous event.
"""

from __future__ import annotations

from typing import Any

from local.emulator import answers_v2
from local.emulator.errors import ApiError
from local.emulator.model import Options, Outcome, Result, SessionChange
from local.emulator.routes import Call
from local.emulator.state import Backend


def _needs_dry(parameter: str, why: str) -> ApiError:
    return ApiError(
        400, f"Invalid query parameter {parameter}: {why}", title="Invalid query parameter", parameter=parameter
    )


def _options(query: dict[str, Any], body: dict[str, Any], *, dry: bool) -> Options:
    ids = body.get("evaluableCampaignIds")
    return Options(now=query.get("now"), campaign_ids=frozenset(ids) if dry and ids is not None else None)


def _answer(backend: Backend, result: Result, content: list[str], status: int = 200) -> Outcome:
    body = answers_v2.integration_state(result, content, backend.store, backend.rules)
    return Outcome(status, body, result.effect_names)


def _dry(call: Call) -> bool:
    return call.query["dry"] is True


def _content(call: Call) -> list[str]:
    content: list[str] = call.body.get("responseContent") or []
    return content


def update_customer_session(call: Call) -> Outcome:
    backend, query, body, dry = call.backend, call.query, call.body, _dry(call)
    now = query["now"]
    if now is not None and not dry:
        raise _needs_dry("now", "it can only be used with dry=true")
    if now is not None and now <= backend.now():
        raise _needs_dry("now", "it must be a moment in the future")
    session: dict[str, Any] = body["customerSession"]
    change = SessionChange(
        profile_id=session.get("profileId"),
        coupons=session.get("couponCodes"),
        referral=session.get("referralCode"),
        state=session.get("state"),
        cart_items=session.get("cartItems"),
        additional_costs=session.get("additionalCosts"),
        identifiers=session.get("identifiers"),
        attributes=session.get("attributes"),
        at="/customerSession",
        total_pointer="/customerSession/cartItems",
    )
    with backend.transaction(commit=not dry):
        result = backend.update_session(
            call.params["customerSessionId"], change, call.application_id, _options(query, session, dry=dry)
        )
        return _answer(backend, result, _content(call))


def update_customer_profile(call: Call) -> Outcome:
    backend, query, body, dry = call.backend, call.query, call.body, _dry(call)
    run_rules = query["runRuleEngine"] is True
    if not run_rules and dry:
        raise _needs_dry("dry", "it only works with runRuleEngine=true")
    if not run_rules and "responseContent" in body:
        raise ApiError(
            400,
            "responseContent needs runRuleEngine=true",
            title="Invalid value",
            details="responseContent can only be used when the rule engine runs",
            pointer="/responseContent",
        )
    with backend.transaction(commit=not dry):
        result = backend.update_profile(
            call.params["integrationId"],
            body.get("attributes"),
            call.application_id,
            run_rules=run_rules,
            options=_options(query, body, dry=dry),
        )
        return _answer(backend, result, _content(call))


def track_event(call: Call) -> Outcome:
    backend, query, body, dry = call.backend, call.query, call.body, _dry(call)
    if query["forceCompleteEvaluation"] is True and not dry:
        raise _needs_dry("forceCompleteEvaluation", "it requires dry=true")
    silent = query["silent"] in ("yes", "true")
    with backend.transaction(commit=not dry):
        result = backend.track_event(
            body["type"],
            None,
            body.get("profileId"),
            body.get("attributes") or {},
            call.application_id,
            _options(query, body, dry=dry),
        )
        if silent:
            return Outcome(204, None, result.effect_names)
        return _answer(backend, result, _content(call))
