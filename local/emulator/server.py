"""The emulator's HTTP side: routing on the raw path, auth, validation, faults, log, admin API.

A stdlib `ThreadingHTTPServer` (HTTP/1.1, keep-alive) bound to loopback only. The Integration API
lives under `/v1/`, the emulator's own interface under `/_emulator/` (no auth: loopback only).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import itertools
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from local.emulator.rules import RulesConfig, load_rules
from local.emulator.state import ApiError, Backend, Outcome, Store, rfc3339
from local.httpserver import ClosableHTTPServer
from talon_relay import models

logger = logging.getLogger("local.emulator")

_M = TypeVar("_M", bound=BaseModel)

#: Faults never sleep longer than this (seconds).
MAX_DELAY = 30.0
#: Request bodies larger than this are refused (413).
MAX_BODY = 10 * 1024 * 1024
#: Headers the request log leaves out.
SECRET_HEADERS = frozenset({"authorization", "content-signature", "cookie", "proxy-authorization"})


# --- routing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    #: the collection segment after /v1/
    collection: str
    #: name of the path parameter, None for /v1/events and /v1/referrals
    parameter: str | None
    status: int


ROUTES: tuple[Route, ...] = (
    Route("updateCustomerProfile", "PUT", "customer_profiles", "integrationId", 200),
    Route("updateCustomerSession", "PUT", "customer_sessions", "customerSessionId", 200),
    Route("trackEvent", "POST", "events", None, 201),
    Route("createReferral", "POST", "referrals", None, 201),
    Route("deleteCustomerData", "DELETE", "customer_data", "integrationId", 204),
)


def match_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route and decoded path parameter of a raw (still percent-encoded) path.

    The path is split on "/" before decoding, so `%2F` inside an id never makes a new segment.
    """
    segments = raw_path.split("/")
    candidates: list[tuple[Route, dict[str, str]]] = []
    if len(segments) in (3, 4) and segments[0] == "" and segments[1] == "v1":
        for route in ROUTES:
            if segments[2] != route.collection:
                continue
            if route.parameter is None and len(segments) == 3:
                candidates.append((route, {}))
            elif route.parameter is not None and len(segments) == 4:
                try:
                    value = unquote(segments[3], encoding="utf-8", errors="strict")
                except UnicodeDecodeError:
                    raise ApiError(
                        400,
                        f"Path parameter {route.parameter} is not valid percent-encoded UTF-8",
                        title="Invalid path parameter",
                        parameter=route.parameter,
                    ) from None
                candidates.append((route, {route.parameter: value}))
    if not candidates:
        raise ApiError(404, f"No such endpoint: {raw_path}", title="Not found", pointer="")
    for route, params in candidates:
        if route.method == method:
            if route.parameter is not None and params[route.parameter] == "":
                raise ApiError(
                    400,
                    f"Path parameter {route.parameter} must not be empty",
                    title="Invalid path parameter",
                    parameter=route.parameter,
                )
            return route, params
    allowed = ", ".join(sorted({route.method for route, _ in candidates}))
    raise ApiError(
        405,
        f"Method {method} is not allowed here (allowed: {allowed})",
        title="Method not allowed",
        pointer="",
        headers={"Allow": allowed},
    )


# --- request validation ----------------------------------------------------------------------

_BODY_MODELS: dict[str, type[BaseModel]] = {
    "updateCustomerProfile": models.NewCustomerProfile,
    "updateCustomerSession": models.NewCustomerSession,
    "trackEvent": models.NewEvent,
    "createReferral": models.NewReferral,
}


def json_pointer(location: Iterable[int | str]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """JSON of a request body, or a 400 naming where it broke."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "Request body is not valid JSON",
            title="Invalid JSON",
            details=f"{exc.msg} at line {exc.lineno} column {exc.colno}",
            pointer="",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "Request body is not valid JSON", title="Invalid JSON", details=str(exc), pointer=""
        ) from None


def validate_body(operation: str, body: bytes) -> dict[str, Any]:
    """The request's JSON object, checked against the spec's definition (400 with pointers)."""
    model = _BODY_MODELS[operation]
    data = parse_json(body) if body.strip() else {}
    if not isinstance(data, dict):
        raise ApiError(
            400,
            f"Request body must be a JSON object ({model.__name__})",
            title="Invalid body",
            pointer="",
        )
    errors: list[dict[str, Any]] = []
    if model.model_config.get("extra") == "forbid":
        known = {info.alias or name for name, info in model.model_fields.items()}
        for key in data:
            if key not in known:
                errors.append(
                    {
                        "title": "Unknown property",
                        "details": f"{model.__name__} does not allow the property {key!r}",
                        "source": {"pointer": json_pointer([key])},
                    }
                )
    try:
        model.model_validate_json(json.dumps(data), strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False, include_context=False):
            if error["type"] == "extra_forbidden":
                continue  # reported above, once
            title = "Missing property" if error["type"] == "missing" else "Invalid value"
            errors.append(
                {
                    "title": title,
                    "details": error["msg"],
                    "source": {"pointer": json_pointer(error["loc"])},
                }
            )
    if errors:
        first = errors[0]
        raise ApiError(
            400,
            f"Invalid {model.__name__}: {first['source']['pointer'] or '/'}: {first['details']}",
            errors=errors,
        )
    return data


# --- auth ------------------------------------------------------------------------------------


def parse_signature(header: str) -> tuple[int, str] | None:
    """`signer=<applicationId>; signature=<hex>` -> (applicationId, hex), None if malformed."""
    parts: dict[str, str] = {}
    for item in header.split(";"):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return None
        parts[key.strip().lower()] = value.strip()
    signer, signature = parts.get("signer"), parts.get("signature")
    if not signer or not signature or not signer.isdigit():
        return None
    return int(signer), signature.lower()


def sign(application_key_hex: str, body: bytes) -> str:
    """The Content-Signature hex an application key gives these body bytes (HMAC-MD5)."""
    return hmac.new(bytes.fromhex(application_key_hex), body, hashlib.md5).hexdigest()


# --- faults ----------------------------------------------------------------------------------


class FaultSpec(BaseModel):
    """Body of POST /_emulator/faults (camelCase or snake_case keys)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    count: int = Field(default=1, ge=1, le=10_000)
    status: int | None = Field(default=None, ge=100, le=599)
    delay: float = Field(default=0.0, ge=0, le=MAX_DELAY)
    drop: bool = False
    body: Any = None
    headers: dict[str, str] | None = None
    path: str | None = None
    method: str | None = None
    after: bool = False

    @model_validator(mode="after")
    def _meaningful(self) -> FaultSpec:
        if self.drop and self.status is not None:
            raise ValueError("drop and status exclude each other")
        if not self.drop and self.status is None and not self.delay:
            raise ValueError("a fault needs status, delay or drop")
        if self.body is not None and self.status is None:
            raise ValueError("body needs a status")
        if self.method is not None:
            self.method = self.method.upper()
        return self


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int

    def matches(self, method: str, raw_path: str) -> bool:
        if self.spec.method is not None and self.spec.method != method:
            return False
        return self.spec.path is None or raw_path.startswith(self.spec.path)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "remaining": self.remaining,
            **self.spec.model_dump(by_alias=True, exclude_none=True),
        }


# --- the request log -------------------------------------------------------------------------


@dataclass
class Exchange:
    """One Integration API request as the request log shows it."""

    id: int
    timestamp: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw_body: str | None
    operation: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    auth: str | None = None
    status: int | None = None
    effects: list[str] = field(default_factory=list)
    fault: dict[str, Any] | None = None
    dropped: bool = False
    duration_ms: float = 0.0

    def wire(self) -> dict[str, Any]:
        body = {
            "id": self.id,
            "timestamp": self.timestamp,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation,
            "params": self.params,
            "headers": self.headers,
            "auth": self.auth,
            "body": self.body,
            "status": self.status,
            "effects": self.effects,
            "fault": self.fault,
            "dropped": self.dropped,
            "durationMs": round(self.duration_ms, 3),
        }
        if self.raw_body is not None:
            body["rawBody"] = self.raw_body
        return body


@dataclass
class Reply:
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def _json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return Reply(status, json.dumps(payload).encode(), headers)


def _error_reply(error: ApiError) -> Reply:
    return _json_reply(error.status, error.body(), error.headers)


# --- the emulator ----------------------------------------------------------------------------


class Emulator:
    """A stateful Talon.One Integration API (v1) on a loopback port.

    >>> emu = Emulator(api_keys={"key"}, applications={12: "a1b2"})
    >>> base_url = emu.start()          # http://127.0.0.1:<free port>
    >>> emu.stop()
    """

    def __init__(
        self,
        rules: RulesConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        api_keys: Iterable[str] | Mapping[str, int] = (),
        applications: Mapping[int | str, str] | None = None,
        state_file: str | Path | None = None,
        bad_signature_status: int = 401,
        clock: Callable[[], datetime] | None = None,
        code_factory: Callable[[], str] | None = None,
        max_log: int = 10_000,
    ) -> None:
        self._rules = load_rules(rules)
        self._backend = Backend(self._rules, clock=clock, code_factory=code_factory)
        self._lock = threading.RLock()
        self._keys_lock = threading.Lock()
        self._api_keys: dict[str, int] = {}
        self._applications: dict[int, bytes] = {}
        self.set_keys(api_keys=api_keys, applications=applications or {})
        self.state_file = Path(state_file) if state_file is not None else None
        self.bad_signature_status = bad_signature_status
        self._log: deque[Exchange] = deque(maxlen=max_log)
        self._log_lock = threading.Lock()
        self._exchange_ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._fault_ids = itertools.count(1)
        self._faults_lock = threading.Lock()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.base_url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port); returns the base URL. Loopback hosts only."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        address = _loopback_address(host)
        self.load()
        self._stopping.clear()
        server = _HTTPServer((address, port), self)
        self._server = server
        bound_port = server.server_address[1]
        shown = f"[{address}]" if ":" in address else address
        self.base_url = f"http://{shown}:{bound_port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"talon-emulator-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Talon.One emulator listening on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, close every connection, join every thread, save the state file."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.join_handlers(timeout=5.0)
        if thread is not None:
            thread.join(timeout=5.0)
        self._server = self._thread = None
        self.base_url = None
        self.save()
        logger.info("Talon.One emulator stopped")

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Emulator:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- state, persistence ----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Profiles, sessions, events, referrals and counters (GET /_emulator/state)."""
        with self._lock:
            dump: dict[str, Any] = json.loads(json.dumps(self._backend.store.to_json()))
            return dump

    def load(self) -> None:
        """Read the state file, if there is one (done by start())."""
        if self.state_file is None or not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        with self._lock:
            self._backend.store = Store.from_json(data)

    def save(self) -> None:
        """Write the state file atomically (done after every change and by stop())."""
        if self.state_file is None:
            return
        with self._lock:
            text = json.dumps(self._backend.store.to_json(), indent=1, sort_keys=True)
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".emulator-", dir=self.state_file.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.state_file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def reset(self) -> None:
        """Forget all state, the request log and the queued faults (keys and rules stay)."""
        with self._lock:
            self._backend.store = Store()
        with self._log_lock:
            self._log.clear()
        self.clear_faults()
        self.save()

    # --- configuration ---------------------------------------------------------------------

    def set_keys(
        self,
        api_keys: Iterable[str] | Mapping[str, int] | None = None,
        applications: Mapping[int | str, str] | None = None,
    ) -> None:
        """Replace the accepted API keys and/or application keys (None leaves one as it is).

        `api_keys`: keys, or key -> applicationId; `applications`: applicationId -> hex key.
        """
        new_keys: dict[str, int] | None = None
        if api_keys is not None:
            if isinstance(api_keys, str):
                raise TypeError("api_keys must be a collection of keys, not one string")
            if isinstance(api_keys, Mapping):
                new_keys = {str(k): int(v) for k, v in api_keys.items()}
            else:
                new_keys = {str(k): self._rules.application_id for k in api_keys}
            if any(not key for key in new_keys):
                raise ValueError("an API key must not be empty")
        new_apps: dict[int, bytes] | None = None
        if applications is not None:
            new_apps = {}
            for app_id, hex_key in applications.items():
                try:
                    key = bytes.fromhex(hex_key)
                except (TypeError, ValueError):
                    raise ValueError(f"application {app_id}: key is not hex") from None
                if not key:
                    raise ValueError(f"application {app_id}: key is empty")
                new_apps[int(app_id)] = key
        with self._keys_lock:
            if new_keys is not None:
                self._api_keys = new_keys
            if new_apps is not None:
                self._applications = new_apps

    def set_rules(self, rules: RulesConfig | Mapping[str, Any] | str | Path) -> None:
        """Replace the campaign rules; state is kept."""
        loaded = load_rules(rules)
        with self._lock:
            self._rules = loaded
            self._backend.rules = loaded

    @property
    def rules(self) -> RulesConfig:
        return self._rules

    # --- faults ----------------------------------------------------------------------------

    def inject_fault(
        self,
        *,
        count: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        after: bool = False,
    ) -> dict[str, Any]:
        """Queue `count` faulty answers for matching Integration API requests (FIFO).

        status: answer that status (ErrorResponse body, or `body`) instead of processing;
        delay: sleep first (<= 30 s); drop: close the connection without an answer;
        after: process the request first (state changes), then delay/fail/drop the answer.
        path: raw path prefix filter; method: HTTP method filter.
        """
        spec = FaultSpec(
            count=count,
            status=status,
            delay=delay,
            drop=drop,
            body=body,
            headers=dict(headers) if headers is not None else None,
            path=path,
            method=method,
            after=after,
        )
        return self._add_fault(spec)

    def _add_fault(self, spec: FaultSpec) -> dict[str, Any]:
        with self._faults_lock:
            fault = Fault(next(self._fault_ids), spec, spec.count)
            self._faults.append(fault)
            return fault.wire()

    def faults(self) -> list[dict[str, Any]]:
        with self._faults_lock:
            return [fault.wire() for fault in self._faults]

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def _take_fault(self, method: str, raw_path: str) -> FaultSpec | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.matches(method, raw_path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.spec
        return None

    # --- request log -----------------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """The Integration API requests received, oldest first (no secrets)."""
        with self._log_lock:
            return [exchange.wire() for exchange in self._log]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    # --- serving ---------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(min(max(seconds, 0.0), MAX_DELAY))

    def _serve_api(self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        started = time.monotonic()
        exchange = self._new_exchange(method, raw_path, query, headers, body)
        fault = self._take_fault(method, raw_path)
        if fault is not None:
            exchange.fault = fault.model_dump(by_alias=True, exclude_none=True)
        reply: Reply | None = None
        if fault is not None and not fault.after:
            reply = self._apply_fault(fault)
        if reply is None:
            reply = self._process(exchange, method, raw_path, headers, body)
            if fault is not None and fault.after:
                reply = self._apply_fault(fault) or reply
        exchange.duration_ms = (time.monotonic() - started) * 1000
        exchange.dropped = reply.drop
        exchange.status = None if reply.drop else reply.status
        logger.info(
            "%s %s -> %s effects=[%s]",
            method,
            raw_path,
            "dropped" if reply.drop else reply.status,
            ",".join(exchange.effects),
        )
        return reply

    def _apply_fault(self, fault: FaultSpec) -> Reply | None:
        """The faulty reply, or None when the fault is only a delay."""
        if fault.delay:
            self._sleep(fault.delay)
        if fault.drop:
            return Reply(0, drop=True)
        if fault.status is None:
            return None
        headers = dict(fault.headers or {})
        if fault.status == 204:
            return Reply(204, None, headers)
        payload = fault.body
        if payload is None:
            payload = ApiError(
                fault.status,
                f"Emulated fault: HTTP {fault.status}",
                title="Emulated fault",
                details="injected through /_emulator/faults",
            ).body()
        return _json_reply(fault.status, payload, headers)

    def _new_exchange(
        self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Exchange:
        parsed: Any = None
        raw_body: str | None = None
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                raw_body = body[:2000].decode("utf-8", errors="replace")
        exchange = Exchange(
            id=next(self._exchange_ids),
            timestamp=rfc3339(datetime.now(UTC)),
            method=method,
            path=raw_path,
            query=query,
            headers={k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS},
            body=parsed,
            raw_body=raw_body,
        )
        with self._log_lock:
            self._log.append(exchange)
        return exchange

    def _process(
        self,
        exchange: Exchange,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        try:
            route, params = match_route(method, raw_path)
            exchange.operation, exchange.params = route.operation, params
            application_id, exchange.auth = self._authenticate(headers, body)
            _check_content_type(headers, body)
            data = validate_body(route.operation, body) if route.operation in _BODY_MODELS else {}
            with self._lock:
                outcome = self._dispatch(route, params, data, application_id)
                payload = None if outcome.body is None else json.dumps(outcome.body).encode()
                self.save()
        except ApiError as error:
            exchange.effects = []
            return _error_reply(error)
        exchange.effects = outcome.effects
        if payload is None:
            return Reply(outcome.status)
        return Reply(outcome.status, payload, {"Content-Type": "application/json"})

    def _dispatch(self, route: Route, params: dict[str, str], data: dict[str, Any], application_id: int) -> Outcome:
        backend = self._backend
        if route.operation == "updateCustomerProfile":
            return backend.update_profile(params["integrationId"], data, application_id)
        if route.operation == "updateCustomerSession":
            return backend.update_session(params["customerSessionId"], data, application_id)
        if route.operation == "trackEvent":
            return backend.track_event(data, application_id)
        if route.operation == "createReferral":
            return backend.create_referral(data, application_id)
        return backend.delete_customer_data(params["integrationId"])

    def _authenticate(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """(applicationId, scheme) of a request with valid credentials, else a 401/400."""
        authorization = headers.get("Authorization")
        signature_header = headers.get("Content-Signature")
        with self._keys_lock:
            api_keys, applications = self._api_keys, self._applications
        if authorization is not None:
            scheme, _, key = authorization.strip().partition(" ")
            key = key.strip()
            if scheme == "ApiKey-v1" and key in api_keys:
                return api_keys[key], "apiKey"
            if signature_header is None:
                raise ApiError(
                    401,
                    "Invalid API key" if scheme == "ApiKey-v1" else "Unsupported authorization",
                    title="Unauthorized",
                    details="expected 'Authorization: ApiKey-v1 <key>' with a valid key",
                    parameter="Authorization",
                    headers={"WWW-Authenticate": "ApiKey-v1"},
                )
        if signature_header is not None:
            parsed = parse_signature(signature_header)
            if parsed is None:
                raise ApiError(
                    self.bad_signature_status,
                    "Malformed Content-Signature header",
                    title="Unauthorized",
                    details="expected 'signer=<applicationId>; signature=<hex>'",
                    parameter="Content-Signature",
                )
            signer, signature = parsed
            key_bytes = applications.get(signer)
            expected = hmac.new(key_bytes, body, hashlib.md5).hexdigest() if key_bytes is not None else ""
            if key_bytes is None or not hmac.compare_digest(expected, signature):
                raise ApiError(
                    self.bad_signature_status,
                    "Invalid request signature",
                    title="Unauthorized",
                    details="HMAC-MD5 of the body with the application key does not match",
                    parameter="Content-Signature",
                )
            return signer, "signature"
        raise ApiError(
            401,
            "Missing credentials",
            title="Unauthorized",
            details="send 'Authorization: ApiKey-v1 <key>' or a Content-Signature",
            parameter="Authorization",
            headers={"WWW-Authenticate": "ApiKey-v1"},
        )

    # --- admin interface -------------------------------------------------------------------

    def _serve_admin(self, method: str, raw_path: str, body: bytes) -> Reply:
        try:
            return self._admin(method, raw_path.rstrip("/"), body)
        except ApiError as error:
            return _error_reply(error)

    def _admin(self, method: str, path: str, body: bytes) -> Reply:
        endpoint = (method, path.removeprefix("/_emulator"))
        if endpoint == ("GET", "/health"):
            return _json_reply(200, {"status": "ok"})
        if endpoint == ("GET", "/requests"):
            return _json_reply(200, {"requests": self.requests()})
        if endpoint == ("DELETE", "/requests"):
            self.clear_requests()
            return Reply(204)
        if endpoint == ("GET", "/faults"):
            return _json_reply(200, {"faults": self.faults()})
        if endpoint == ("POST", "/faults"):
            spec = _admin_model(FaultSpec, body)
            return _json_reply(201, {"fault": self._add_fault(spec)})
        if endpoint == ("DELETE", "/faults"):
            self.clear_faults()
            return Reply(204)
        if endpoint == ("POST", "/reset"):
            self.reset()
            return Reply(204)
        if endpoint == ("GET", "/state"):
            return _json_reply(200, self.state())
        if endpoint == ("PUT", "/keys"):
            keys = _admin_model(KeysSpec, body)
            try:
                self.set_keys(api_keys=keys.api_keys, applications=keys.applications)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, str(exc), title="Invalid keys", pointer="") from None
            with self._keys_lock:
                summary = {
                    "apiKeys": len(self._api_keys),
                    "applications": sorted(self._applications),
                }
            return _json_reply(200, summary)
        if endpoint == ("PUT", "/rules"):
            data = parse_json(body)
            try:
                rules = RulesConfig.model_validate(data)
            except ValidationError as exc:
                raise _validation_error("Invalid rules", exc) from None
            self.set_rules(rules)
            return _json_reply(200, {"campaigns": [c.id for c in rules.campaigns]})
        if endpoint == ("GET", "/rules"):
            return _json_reply(200, self._rules.model_dump(mode="json", by_alias=True))
        raise ApiError(404, f"No such emulator endpoint: {method} {path}", title="Not found")


class KeysSpec(BaseModel):
    """Body of PUT /_emulator/keys: each given field replaces that set of keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    #: keys, or key -> applicationId
    api_keys: list[str] | dict[str, int] | None = None
    #: applicationId -> hex key
    applications: dict[int | str, str] | None = None


def _validation_error(message: str, exc: ValidationError) -> ApiError:
    errors: list[dict[str, Any]] = [
        {
            "title": "Invalid value",
            "details": error["msg"],
            "source": {"pointer": json_pointer(error["loc"])},
        }
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    first = errors[0]
    return ApiError(400, f"{message}: {first['source']['pointer']}: {first['details']}", errors=errors)


def _admin_model(model: type[_M], body: bytes) -> _M:
    data = parse_json(body) if body.strip() else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(f"Invalid {model.__name__}", exc) from None


def _check_content_type(headers: Mapping[str, str], body: bytes) -> None:
    content_type = headers.get("Content-Type")
    if not body or content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            415,
            f"Unsupported Content-Type {media_type!r}: send application/json",
            title="Unsupported media type",
            parameter="Content-Type",
        )


def _loopback_address(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"host must be a loopback address, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the emulator listens on loopback only, got {host!r}")
    return str(address)


# --- HTTP plumbing ---------------------------------------------------------------------------


class _HTTPServer(ClosableHTTPServer):
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        super().__init__(address, _Handler, thread_name="talon-emulator-conn")

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TalonOneEmulator/1.0"
    sys_version = ""
    #: idle keep-alive connections are closed after this many seconds
    timeout = 30
    #: one buffered write per response (flushed by handle_one_request), and no Nagle delay
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr lines: the emulator logs one line per request itself."""

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        emulator = self.server.emulator
        try:
            body = self._read_body()
        except _BadRequest as error:
            self.close_connection = True
            reply = _error_reply(ApiError(error.status, error.message, title="Bad request"))
            self._send(reply)
            return
        target = self.path
        if not target.startswith("/"):
            parts = urlsplit(target)  # absolute-form; urlsplit does not decode the path
            raw_path, query = parts.path or "/", parts.query
        else:
            raw_path, _, query = target.partition("?")
        headers = {key: value for key, value in self.headers.items()}
        if raw_path == "/_emulator" or raw_path.startswith("/_emulator/"):
            reply = emulator._serve_admin(self.command, raw_path, body)
        else:
            reply = emulator._serve_api(self.command, raw_path, query, headers, body)
        if reply.drop:
            self.close_connection = True
            return
        self._send(reply)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _BadRequest(400, "Content-Length is not a number") from None
        if length < 0:
            raise _BadRequest(400, "Content-Length is negative")
        if length > MAX_BODY:
            raise _BadRequest(413, f"Request body larger than {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "Malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _BadRequest(413, f"Request body larger than {MAX_BODY} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.status != 204 and not 100 <= reply.status < 200:
            self.send_header("Content-Length", str(len(reply.body or b"")))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.body and reply.status != 204:
            self.wfile.write(reply.body)
