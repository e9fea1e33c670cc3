"""The emulator's own interface under `/_emulator/` (no auth: loopback only; never logged).

GET    /_emulator/health      {"status": "ok"}
GET    /_emulator/requests    {"requests": [...]}     DELETE: clear the log
GET    /_emulator/faults      {"faults": [...]}       POST: queue one (201)   DELETE: clear them
GET    /_emulator/concurrency {"inFlight", "peak"}    DELETE: peak back to what is in flight (204)
POST   /_emulator/reset       forget state, log and faults (204)
GET    /_emulator/state       profiles, sessions, events, referrals, counters
PUT    /_emulator/keys        {"apiKeys": [...] | {key: appId}, "applications": {appId: hex}}
GET    /_emulator/rules       PUT: replace the rules (state kept)
GET    /_emulator/settings    {"era", "badSignatureStatus", "latencyMs"}   PUT: change any (200 with all)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from local.emulator.errors import ApiError, json_pointer
from local.emulator.faults import MAX_DELAY, FaultSpec
from local.emulator.http import Reply, error_reply, json_reply
from local.emulator.jsonio import parse_json
from local.emulator.loyalty import Era
from local.emulator.rules import RulesConfig

_M = TypeVar("_M", bound=BaseModel)


class KeysSpec(BaseModel):
    """Body of PUT /_emulator/keys: each given field replaces that set of keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    #: keys, or key -> applicationId
    api_keys: list[str] | dict[str, int] | None = None
    #: applicationId -> hex key
    applications: dict[int | str, str] | None = None


class SettingsSpec(BaseModel):
    """Body of PUT /_emulator/settings: each given field replaces that setting."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    era: Era | None = None
    bad_signature_status: Literal[400, 401] | None = None
    #: every Integration API request waits this long before it is served (a remote Talon.One's latency)
    latency_ms: float | None = Field(default=None, ge=0, le=MAX_DELAY * 1000)


class Target(Protocol):
    """What the admin interface needs of the emulator."""

    @property
    def rules(self) -> RulesConfig: ...

    def requests(self) -> list[dict[str, Any]]: ...
    def clear_requests(self) -> None: ...
    def faults(self) -> list[dict[str, Any]]: ...
    def add_fault(self, spec: FaultSpec) -> dict[str, Any]: ...
    def clear_faults(self) -> None: ...
    def concurrency(self) -> dict[str, int]: ...
    def reset_concurrency(self) -> None: ...
    def reset(self) -> None: ...
    def state(self) -> dict[str, Any]: ...
    def set_keys(
        self,
        api_keys: Iterable[str] | Mapping[str, int] | None = None,
        applications: Mapping[int | str, str] | None = None,
    ) -> None: ...
    def keys_summary(self) -> dict[str, Any]: ...
    def set_rules(self, rules: RulesConfig) -> None: ...
    def settings(self) -> dict[str, Any]: ...
    def set_settings(
        self, *, era: str | None = None, bad_signature_status: int | None = None, latency_ms: float | None = None
    ) -> None: ...


def validation_error(message: str, exc: ValidationError) -> ApiError:
    errors: list[dict[str, Any]] = [
        {"title": "Invalid value", "details": error["msg"], "source": {"pointer": json_pointer(error["loc"])}}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    first = errors[0]
    return ApiError(400, f"{message}: {first['source']['pointer']}: {first['details']}", errors=errors)


def _model(model: type[_M], body: bytes) -> _M:
    data = parse_json(body) if body.strip() else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(f"Invalid {model.__name__}", exc) from None


def serve_admin(target: Target, method: str, raw_path: str, body: bytes) -> Reply:
    try:
        return _admin(target, method, raw_path.rstrip("/").removeprefix("/_emulator"), body)
    except ApiError as error:
        return error_reply(error)
    except ValueError:  # an answer that would hold NaN/Infinity is never sent
        return error_reply(ApiError(500, "The answer would hold a number out of range", title="Internal error"))


def _admin(target: Target, method: str, path: str, body: bytes) -> Reply:
    endpoint = (method, path)
    if endpoint == ("GET", "/health"):
        return json_reply(200, {"status": "ok"})
    if endpoint == ("GET", "/requests"):
        return json_reply(200, {"requests": target.requests()})
    if endpoint == ("DELETE", "/requests"):
        target.clear_requests()
        return Reply(204)
    if endpoint == ("GET", "/faults"):
        return json_reply(200, {"faults": target.faults()})
    if endpoint == ("POST", "/faults"):
        return json_reply(201, {"fault": target.add_fault(_model(FaultSpec, body))})
    if endpoint == ("DELETE", "/faults"):
        target.clear_faults()
        return Reply(204)
    if endpoint == ("GET", "/concurrency"):
        return json_reply(200, target.concurrency())
    if endpoint == ("DELETE", "/concurrency"):
        target.reset_concurrency()
        return Reply(204)
    if endpoint == ("POST", "/reset"):
        target.reset()
        return Reply(204)
    if endpoint == ("GET", "/state"):
        return json_reply(200, target.state())
    if endpoint == ("PUT", "/keys"):
        keys = _model(KeysSpec, body)
        try:
            target.set_keys(api_keys=keys.api_keys, applications=keys.applications)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), title="Invalid keys", pointer="") from None
        return json_reply(200, target.keys_summary())
    if endpoint == ("PUT", "/rules"):
        data = parse_json(body)
        try:
            rules = RulesConfig.model_validate(data)
        except ValidationError as exc:
            raise validation_error("Invalid rules", exc) from None
        target.set_rules(rules)
        return json_reply(200, {"campaigns": [c.id for c in rules.campaigns]})
    if endpoint == ("GET", "/rules"):
        return json_reply(200, target.rules.model_dump(mode="json", by_alias=True))
    if endpoint == ("GET", "/settings"):
        return json_reply(200, target.settings())
    if endpoint == ("PUT", "/settings"):
        spec = _model(SettingsSpec, body)
        target.set_settings(era=spec.era, bad_signature_status=spec.bad_signature_status, latency_ms=spec.latency_ms)
        return json_reply(200, target.settings())
    raise ApiError(404, f"No such emulator endpoint: {method} /_emulator{path}", title="Not found")
