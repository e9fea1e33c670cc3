"""Helpers of the emulator tests: an HTTP client for the emulator, spec checks, constants."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft4Validator,
    FormatChecker,
)

from local.emulator import Emulator, sign

ROOT = Path(__file__).resolve().parents[2]

API_KEY = "test-api-key-0001"
APP_ID = 12
APP_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
JSON = "application/json"


@dataclass
class Answer:
    status: int
    body: Any
    headers: urllib3.HTTPHeaderDict
    raw: bytes


class Client:
    """Talks to the emulator over real HTTP (one keep-alive pool), ApiKey-v1 unless told."""

    def __init__(self, base_url: str, pool: urllib3.PoolManager) -> None:
        self.base_url = base_url
        self.pool = pool

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        auth: str | None = "apikey",
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent: dict[str, str] = {}
        if data is not None:
            sent["Content-Type"] = JSON
        if auth == "apikey":
            sent["Authorization"] = f"ApiKey-v1 {API_KEY}"
        elif auth == "hmac":
            sent["Content-Signature"] = f"signer={APP_ID}; signature={sign(APP_KEY, data or b'')}"
        sent.update(headers or {})
        response = self.pool.request(
            method,
            self.base_url + path,
            body=data,
            headers=sent,
            retries=False,
            timeout=timeout,
        )
        parsed = json.loads(response.data) if response.data else None
        return Answer(response.status, parsed, response.headers, response.data)

    # the five operations, body as the wire JSON
    def profile(self, integration_id: str, body: Any, **kw: Any) -> Answer:
        return self.request("PUT", f"/v1/customer_profiles/{quote(integration_id)}", body, **kw)

    def session(self, session_id: str, body: Any, **kw: Any) -> Answer:
        return self.request("PUT", f"/v1/customer_sessions/{quote(session_id)}", body, **kw)

    def event(self, body: Any, **kw: Any) -> Answer:
        return self.request("POST", "/v1/events", body, **kw)

    def referral(self, body: Any, **kw: Any) -> Answer:
        return self.request("POST", "/v1/referrals", body, **kw)

    def delete(self, integration_id: str, **kw: Any) -> Answer:
        return self.request("DELETE", f"/v1/customer_data/{quote(integration_id)}", **kw)

    def admin(self, method: str, path: str, body: Any = None) -> Answer:
        return self.request(method, f"/_emulator/{path}", body, auth=None)

    # the three v2 operations; query is the raw query string ("dry=true&now=...")
    def session_v2(self, session_id: str, body: Any, query: str = "", **kw: Any) -> Answer:
        return self.request("PUT", f"/v2/customer_sessions/{quote(session_id)}{_q(query)}", body, **kw)

    def profile_v2(self, integration_id: str, body: Any, query: str = "", **kw: Any) -> Answer:
        return self.request("PUT", f"/v2/customer_profiles/{quote(integration_id)}{_q(query)}", body, **kw)

    def event_v2(self, body: Any, query: str = "", **kw: Any) -> Answer:
        return self.request("POST", f"/v2/events{_q(query)}", body, **kw)


class PausingEmulator(Emulator):
    """An emulator whose waits (a delay fault, the latency setting) are the test's `pause(seconds)`: a fake
    clock's sleep, or a hold the test lets go of, instead of a wait on the wall clock."""

    def __init__(self, pause: Callable[[float], object], **options: Any) -> None:
        super().__init__(**options)
        self._test_pause = pause

    def pause(self, seconds: float) -> bool:
        self._test_pause(seconds)
        return False


@contextmanager
def serving(emulator: Emulator) -> Iterator[Client]:
    """`emulator` started, and a client for it; stopped afterwards."""
    emulator.start()
    pool = urllib3.PoolManager(maxsize=8)
    try:
        assert emulator.base_url is not None
        yield Client(emulator.base_url, pool)
    finally:
        pool.clear()
        emulator.stop()


def _q(query: str) -> str:
    return f"?{query}" if query else ""


def quote(value: str) -> str:
    from urllib.parse import quote as _quote

    return _quote(value, safe="")


class SpecCheck:
    def __init__(self, definitions: dict[str, Any]) -> None:
        self.definitions = definitions

    def __call__(self, definition: str, instance: Any) -> None:
        """Fail with every violation of the spec's definition (date-time formats included)."""
        schema = {"$ref": f"#/definitions/{definition}", "definitions": self.definitions}
        validator = Draft4Validator(schema, format_checker=FormatChecker())
        problems = [
            f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(instance)
        ]
        assert not problems, f"{definition} violates the spec: {problems}"


class OpenApiCheck:
    """SpecCheck for an OpenAPI 3.0 file's components/schemas (`nullable` read as JSON Schema)."""

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = _nullable(schemas)

    def __call__(self, schema: str, instance: Any) -> None:
        document = {"$ref": f"#/components/schemas/{schema}", "components": {"schemas": self.schemas}}
        validator = Draft4Validator(document, format_checker=FormatChecker())
        problems = [
            f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(instance)
        ]
        assert not problems, f"{schema} violates the spec: {problems}"


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _nullable(value) for key, value in node.items() if key != "nullable"}
        if node.get("nullable") is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    return node


def effects_of(answer: Answer) -> list[list[Any]]:
    return [effect[3] for effect in answer.body["event"]["effects"]]


def effect_names(answer: Answer) -> list[str]:
    return [body[0] for body in effects_of(answer)]
