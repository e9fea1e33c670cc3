"""Audiences, their memberships and their customers' attributes, and bulk profile updates (May 2026).

Semantics:
- createAudienceV2 gives the next id (1, 2, ...); a second audience with the same `integrationId` is a 409.
- An unknown audience is a 404 naming `audienceId` (update, delete, memberships, attributes), or naming
  the item's pointer in updateCustomerProfileAudiences, which checks every item before it applies any.
- Memberships name profiles by integration id: a profile is created on its first membership.
- updateAudienceCustomersAttributes merges the attributes into every member's profile.
- updateCustomerProfilesV2 merges each item's attributes into its profile (created if new), without
  running the rules; at most 1,000 profiles, each with a non-empty integrationId (else a 400 naming it).
"""

from __future__ import annotations

from typing import Any

from local.emulator.answers_v2 import customer_profile
from local.emulator.errors import ApiError
from local.emulator.model import Outcome
from local.emulator.routes import Call, QueryParam, Route
from local.emulator.store import rfc3339

#: the bulk operations take at most this many profiles
MAX_PROFILES = 1000
SILENT = QueryParam("silent", "string", default="yes", values=("yes", "no", "true", "false"))


def audience_id(call: Call) -> int:
    """The path's audienceId as the integer the spec makes it (a 400 naming it otherwise)."""
    text = call.params["audienceId"]
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise ApiError(400, "audienceId must be an integer", title="Invalid path parameter", parameter="audienceId")
    return int(text)


def _audience(call: Call) -> dict[str, Any]:
    found = call.backend.store.segments.audiences.get(audience_id(call))
    if found is None:
        raise ApiError(404, "Audience not found", title="Not found", parameter="audienceId")
    return found


def create_audience(call: Call) -> Outcome:
    segments, body = call.backend.store.segments, call.body
    integration_id = body.get("integrationId")
    if integration_id is not None and any(
        a.get("integrationId") == integration_id for a in segments.audiences.values()
    ):
        raise ApiError(
            409, "An audience with this integrationId exists already", title="Conflict", pointer="/integrationId"
        )
    audience = {
        "accountId": call.backend.rules.account_id,
        "id": segments.new_audience_id(),
        "created": rfc3339(call.backend.now()),
        **{key: body[key] for key in _AUDIENCE_FIELDS if key in body},
    }
    segments.audiences[audience["id"]] = audience
    segments.members[audience["id"]] = []
    return Outcome(201, dict(audience))


_AUDIENCE_FIELDS = ("name", "description", "sandbox", "integration", "integrationId", "createdIn3rdParty", "lastUpdate")


def update_audience(call: Call) -> Outcome:
    audience = _audience(call)
    audience["name"] = call.body["name"]
    return Outcome(200, dict(audience))


def delete_audience(call: Call) -> Outcome:
    audience = _audience(call)
    segments = call.backend.store.segments
    del segments.audiences[audience["id"]]
    segments.members.pop(audience["id"], None)
    return Outcome(204, None)


def delete_memberships(call: Call) -> Outcome:
    audience = _audience(call)
    call.backend.store.segments.members[audience["id"]] = []
    return Outcome(204, None)


def update_members_attributes(call: Call) -> Outcome:
    audience = _audience(call)
    backend = call.backend
    now = backend.now()
    for member in backend.store.segments.members.get(audience["id"], []):
        backend.store.profile(member, now, backend.rules.account_id).attributes.update(call.body)
    return Outcome(204, None)


def update_profile_audiences(call: Call) -> Outcome:
    backend = call.backend
    segments = backend.store.segments
    items = call.body.get("data") or []
    for index, item in enumerate(items):
        if item["audienceId"] not in segments.audiences:
            raise ApiError(404, "Audience not found", title="Not found", pointer=f"/data/{index}/audienceId")
        if not item["profileIntegrationId"]:
            raise ApiError(
                400,
                "profileIntegrationId must not be empty",
                title="Invalid value",
                pointer=f"/data/{index}/profileIntegrationId",
            )
    now = backend.now()
    for item in items:
        members = segments.members.setdefault(item["audienceId"], [])
        profile_id = item["profileIntegrationId"]
        if item["action"] == "add":
            backend.store.profile(profile_id, now, backend.rules.account_id)
            if profile_id not in members:
                members.append(profile_id)
        elif profile_id in members:
            members.remove(profile_id)
    return Outcome(204, None)


def update_customer_profiles(call: Call) -> Outcome:
    backend = call.backend
    items = call.body.get("customerProfiles") or []
    if len(items) > MAX_PROFILES:
        raise ApiError(
            400, f"At most {MAX_PROFILES} customer profiles per request", title="Too many", pointer="/customerProfiles"
        )
    for index, item in enumerate(items):
        if not item["integrationId"]:
            raise ApiError(
                400,
                "integrationId must not be empty",
                title="Invalid value",
                pointer=f"/customerProfiles/{index}/integrationId",
            )
    states = []
    for item in items:
        result = backend.update_profile(
            item["integrationId"], item.get("attributes"), call.application_id, run_rules=False
        )
        assert result.profile is not None
        states.append({"customerProfile": customer_profile(result.profile)})
    if call.query.get("silent") in ("yes", "true"):
        return Outcome(204, None)
    return Outcome(200, {"integrationStates": states})


def _audience_route(name: str, method: str, path: str, status: int, handler: Any, body: str | None = None) -> Route:
    return Route(name, method, path, status, handler, body=body, body_required=body is not None)


ROUTES: tuple[Route, ...] = (
    Route(
        "createAudienceV2",
        "POST",
        "/v2/audiences",
        201,
        create_audience,
        body="NewAudience",
        body_required=True,
        definitions={
            "NewAudience": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"minLength": 1, "type": "string"},
                    "sandbox": {"type": "boolean"},
                    "description": {"type": "string"},
                    "integration": {"type": "string"},
                    "integrationId": {"maxLength": 1000, "minLength": 1, "type": "string"},
                    "createdIn3rdParty": {"type": "boolean"},
                    "lastUpdate": {"format": "date-time", "type": "string"},
                },
            },
            "UpdateAudience": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"minLength": 1, "type": "string"}},
            },
            "AttributeQuery": {"type": "object"},
            "CustomerProfileAudienceRequest": {
                "type": "object",
                "properties": {
                    "data": {"items": {"$ref": "#/definitions/CustomerProfileAudienceRequestItem"}, "type": "array"}
                },
            },
            "CustomerProfileAudienceRequestItem": {
                "type": "object",
                "required": ["action", "audienceId", "profileIntegrationId"],
                "properties": {
                    "action": {"enum": ["add", "delete"], "type": "string"},
                    "profileIntegrationId": {"maxLength": 1000, "type": "string"},
                    "audienceId": {"format": "int64", "type": "integer"},
                },
            },
            "MultipleCustomerProfileIntegrationRequest": {
                "type": "object",
                "properties": {
                    "customerProfiles": {
                        "items": {"$ref": "#/definitions/MultipleCustomerProfileIntegrationRequestItem"},
                        "type": "array",
                    }
                },
            },
            "MultipleCustomerProfileIntegrationRequestItem": {
                "type": "object",
                "required": ["integrationId"],
                "properties": {
                    "attributes": {"properties": {}, "type": "object"},
                    "integrationId": {"maxLength": 1000, "type": "string"},
                },
            },
        },
    ),
    _audience_route("updateAudienceV2", "PUT", "/v2/audiences/{audienceId}", 200, update_audience, "UpdateAudience"),
    _audience_route("deleteAudienceV2", "DELETE", "/v2/audiences/{audienceId}", 204, delete_audience),
    _audience_route(
        "deleteAudienceMembershipsV2", "DELETE", "/v2/audiences/{audienceId}/memberships", 204, delete_memberships
    ),
    _audience_route(
        "updateAudienceCustomersAttributes",
        "PUT",
        "/v2/audience_customers/{audienceId}/attributes",
        204,
        update_members_attributes,
        "AttributeQuery",
    ),
    _audience_route(
        "updateCustomerProfileAudiences",
        "POST",
        "/v2/customer_audiences",
        204,
        update_profile_audiences,
        "CustomerProfileAudienceRequest",
    ),
    Route(
        "updateCustomerProfilesV2",
        "PUT",
        "/v2/customer_profiles",
        200,
        update_customer_profiles,
        body="MultipleCustomerProfileIntegrationRequest",
        body_required=True,
        query=(SILENT,),
    ),
)
