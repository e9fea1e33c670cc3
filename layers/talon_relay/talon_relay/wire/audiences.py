"""Audiences and writes of many customers at once: request models, and the audience answer (library use).

Names and constraints follow `talon_one_openapi-v25.17.0.yaml` (May 2026); checked strictly, open to
fields the relay does not know (the June 2026 split specs add `subscribedApplicationsIds` to both audience
bodies: it passes through unchecked, tests/contract/test_spec_audiences.py says so).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from talon_relay.wire.base import STRICT, DateTime, Int64, RequestModel, ResponseModel, examples


class _Part(BaseModel):
    model_config = STRICT


class NewAudience(RequestModel):
    model_config = examples(
        {"name": "Newsletter subscribers", "description": "Opted in at checkout"},
        {"name": "VIP", "integration": "mparticle", "integrationId": "mp-vip-1", "createdIn3rdParty": True},
    )

    name: str = Field(min_length=1)
    description: str | None = None
    sandbox: bool | None = None
    integration: str | None = None
    integration_id: str | None = Field(default=None, min_length=1, max_length=1000)
    created_in3rd_party: bool | None = Field(default=None, alias="createdIn3rdParty")
    last_update: DateTime | None = None


class UpdateAudience(RequestModel):
    model_config = examples({"name": "Newsletter subscribers (EU)"}, {"name": "VIP 2026"})

    name: str = Field(min_length=1)


class AttributeQuery(RequestModel):
    """The customers' attributes to set on every member of an audience: the spec leaves the object open."""

    model_config = examples({"tier": "gold"}, {"newsletter": True, "segment": "eu"})


class CustomerProfileAudienceRequestItem(_Part):
    action: Literal["add", "delete"]
    profile_integration_id: str = Field(max_length=1000)
    audience_id: Int64


class CustomerProfileAudienceRequest(RequestModel):
    model_config = examples(
        {"data": [{"action": "add", "profileIntegrationId": "p-1", "audienceId": 1}]},
        {
            "data": [
                {"action": "add", "profileIntegrationId": "p-2", "audienceId": 1},
                {"action": "delete", "profileIntegrationId": "p-1", "audienceId": 1},
            ]
        },
    )

    data: list[CustomerProfileAudienceRequestItem] | None = None


class MultipleCustomerProfileIntegrationRequestItem(_Part):
    attributes: dict[str, Any] | None = None
    integration_id: str = Field(max_length=1000)


class MultipleCustomerProfileIntegrationRequest(RequestModel):
    model_config = examples(
        {"customerProfiles": [{"integrationId": "p-1", "attributes": {"tier": "gold"}}]},
        {
            "customerProfiles": [
                {"integrationId": "p-2", "attributes": {"tier": "silver"}},
                {"integrationId": "p-3", "attributes": {"newsletter": True}},
            ]
        },
    )

    customer_profiles: list[MultipleCustomerProfileIntegrationRequestItem] | None = None


# --- answers (library use: the relay passes them on as sent) -----------------------------------------


class Audience(ResponseModel):
    account_id: int
    id: int
    created: str
    name: str
    description: str | None = None
    sandbox: bool | None = None
    integration: str | None = None
    integration_id: str | None = None
    created_in3rd_party: bool | None = Field(default=None, alias="createdIn3rdParty")
    last_update: str | None = None


class MultipleCustomerProfileIntegrationResponseV2(ResponseModel):
    integration_states: list[dict[str, Any]] | None = None
