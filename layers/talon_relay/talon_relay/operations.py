"""The five Integration API operations as data: route, parameters, body model, success status.

Triggers (API Gateway, SQS, schedule) stay generic by reading this table; adding a sixth operation
is one more entry here, one folder in functions/ and one entry in template.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from talon_relay.client import IntegrationClient, path_segment
from talon_relay.models import (
    APIError,
    ErrorResponse,
    ErrorSource,
    NewCustomerProfile,
    NewCustomerSession,
    NewEvent,
    NewReferral,
)

Invoke = Callable[[IntegrationClient, Mapping[str, str], Any, float | None], BaseModel | None]


class InvalidRequest(ValueError):
    """The caller's request can never succeed as sent; carries an ErrorResponse naming each fault."""

    def __init__(self, errors: list[APIError], message: str = "Invalid request") -> None:
        self.response = ErrorResponse(message=message, errors=errors)
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = []
        for err in self.response.errors or []:
            where = err.source.pointer or err.source.parameter or err.source.line or "request"
            parts.append(f"{where}: {err.details or err.title}")
        return f"{self.response.message}: " + "; ".join(parts)

    @classmethod
    def single(cls, title: str, details: str, **source: str) -> InvalidRequest:
        return cls([APIError(title=title, details=details, source=ErrorSource(**source))])


@dataclass(frozen=True)
class Request:
    """A validated call: path parameters by their spec names, and the body model (if any)."""

    params: Mapping[str, str]
    body: BaseModel | None

    def payload(self) -> dict[str, Any]:
        """What identifies the request's content (for idempotency checks and queued copies)."""
        body = None
        if self.body is not None:
            body = self.body.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {"params": dict(self.params), "body": body}

    def message(self, idempotency_key: str | None) -> dict[str, Any]:
        """The request as an SQS message in the DESIGN.md format."""
        payload = self.payload()
        message: dict[str, Any] = dict(payload["params"])
        if payload["body"] is not None:
            message["body"] = payload["body"]
        if idempotency_key:
            message["idempotencyKey"] = idempotency_key
        return message


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    path_params: tuple[str, ...]
    body_model: type[BaseModel] | None
    success_status: int
    invoke: Invoke
    #: Folder under functions/ (and the handler module's name) of the Lambda function serving it.
    function: str = ""
    #: Group key for per-customer ordering: the spec name of the id that identifies the customer.
    group_by: str | None = None
    #: Whether its queue is FIFO (per-customer order, grouped by `group_by`) or standard.
    fifo: bool = False
    #: Whether its queue is drained by the off-peak schedule instead of an SQS event source mapping.
    schedule: bool = False

    def parse(self, params: Mapping[str, Any] | None, body: Any) -> Request:
        """Validate path parameters and body; raise InvalidRequest naming every bad field."""
        errors: list[APIError] = []
        clean: dict[str, str] = {}
        params = params or {}
        for name in self.path_params:
            value = params.get(name)
            try:
                if not isinstance(value, str):
                    raise ValueError(f"{name} is required and must be a string")
                path_segment(value, name=name)
            except ValueError as exc:
                errors.append(
                    APIError(
                        title="Invalid path parameter",
                        details=str(exc),
                        source=ErrorSource(parameter=name),
                    )
                )
            else:
                clean[name] = value
        model: BaseModel | None = None
        if self.body_model is None:
            if body not in (None, "", {}):
                errors.append(
                    APIError(
                        title="Unexpected body",
                        details=f"{self.name} takes no request body",
                        source=ErrorSource(pointer=""),
                    )
                )
        elif not isinstance(body, dict):
            errors.append(
                APIError(
                    title="Invalid body",
                    details=f"body must be a JSON object ({self.body_model.__name__})",
                    source=ErrorSource(pointer=""),
                )
            )
        else:
            try:
                model = self.body_model.model_validate(body)
            except ValidationError as exc:
                errors.extend(validation_errors(exc))
        if errors:
            raise InvalidRequest(errors)
        return Request(params=clean, body=model)

    def canonical_path(self, params: Mapping[str, Any] | None) -> str:
        """The request path with each parameter percent-encoded as one segment (what is signed)."""
        params = params or {}
        return self.path.format(**{name: quote(str(params.get(name) or ""), safe="") for name in self.path_params})

    def group_id(self, request: Request) -> str | None:
        """The customer key a request belongs to (for ordering), when the operation has one."""
        if self.group_by is None:
            return None
        if self.group_by in request.params:
            return request.params[self.group_by]
        value = getattr(request.body, self.group_by, None)
        return value if isinstance(value, str) else None


def validation_errors(exc: ValidationError) -> list[APIError]:
    """Pydantic errors as spec APIErrors with JSON pointers; input values are never echoed."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        pointer = "".join(f"/{part}" for part in err["loc"])
        title = "Missing field" if err["type"] == "missing" else "Invalid field"
        if err["type"] == "extra_forbidden":
            title = "Unknown field"
        out.append(APIError(title=title, details=err["msg"], source=ErrorSource(pointer=pointer)))
    return out


UPDATE_CUSTOMER_SESSION = Operation(
    name="updateCustomerSession",
    method="PUT",
    path="/v1/customer_sessions/{customerSessionId}",
    path_params=("customerSessionId",),
    body_model=NewCustomerSession,
    success_status=200,
    invoke=lambda client, params, body, budget: client.update_customer_session(
        params["customerSessionId"], body, budget=budget
    ),
    group_by="customerSessionId",
    function="update_customer_session",
    fifo=True,
)

UPDATE_CUSTOMER_PROFILE = Operation(
    name="updateCustomerProfile",
    method="PUT",
    path="/v1/customer_profiles/{integrationId}",
    path_params=("integrationId",),
    body_model=NewCustomerProfile,
    success_status=200,
    invoke=lambda client, params, body, budget: client.update_customer_profile(
        params["integrationId"], body, budget=budget
    ),
    group_by="integrationId",
    function="update_customer_profile",
    fifo=True,
)

TRACK_EVENT = Operation(
    name="trackEvent",
    method="POST",
    path="/v1/events",
    path_params=(),
    body_model=NewEvent,
    success_status=201,
    invoke=lambda client, params, body, budget: client.track_event(body, budget=budget),
    group_by="session_id",
    function="track_event",
    fifo=True,
)

CREATE_REFERRAL = Operation(
    name="createReferral",
    method="POST",
    path="/v1/referrals",
    path_params=(),
    body_model=NewReferral,
    success_status=201,
    invoke=lambda client, params, body, budget: client.create_referral(body, budget=budget),
    function="create_referral",
)

DELETE_CUSTOMER_DATA = Operation(
    name="deleteCustomerData",
    method="DELETE",
    path="/v1/customer_data/{integrationId}",
    path_params=("integrationId",),
    body_model=None,
    success_status=204,
    invoke=lambda client, params, body, budget: client.delete_customer_data(params["integrationId"], budget=budget),
    group_by="integrationId",
    function="delete_customer_data",
    schedule=True,
)

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        UPDATE_CUSTOMER_SESSION,
        UPDATE_CUSTOMER_PROFILE,
        TRACK_EVENT,
        CREATE_REFERRAL,
        DELETE_CUSTOMER_DATA,
    )
}
