"""Test support shared by the suites: real local servers (moto, HTTP) and Talon.One-shaped bodies."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.containers import LambdaContext
from local.samples import integration_state, integration_state_v2, referral
from talon_relay.operations import CREATE_REFERRAL, OPERATIONS, V1_EFFECTS, V2_EFFECTS, Operation

__all__ = [
    "LambdaContext",
    "answer_every_route",
    "integration_state",
    "integration_state_v2",
    "referral",
    "success_answer",
]

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def success_answer(op: Operation) -> dict[str, Any] | None:
    """What Talon.One answers an entry's request with on success: the shape its contract says."""
    if op.success_status == 204:
        return None
    if op.effects_at == V1_EFFECTS:
        return integration_state()
    if op.effects_at == V2_EFFECTS:
        return integration_state_v2()
    if op.response == CREATE_REFERRAL.response:
        return referral()
    return {}


def answer_every_route(httpserver: Any) -> None:
    """A Talon.One (a pytest_httpserver) answering every Integration API entry's route with its success,
    whatever the ids in the path."""
    for op in OPERATIONS.values():
        if op.webhook is None:
            route = re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+", re.escape(op.path)) + "$", re.DOTALL)
            answer = success_answer(op)
            expectation = httpserver.expect_request(route, method=op.method)
            if answer is None:
                expectation.respond_with_data("", status=op.success_status)
            else:
                expectation.respond_with_json(answer, status=op.success_status)


def load_event(operation_folder: str, name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / operation_folder / f"{name}.json").read_text())
    return event


class FakeClock:
    """A monotonic clock that moves only when told, for code that takes a `clock` (and a `sleep`):
    "after 30 seconds" is `advance(30)`, and a wait the code makes is `sleep`, recorded in `slept`.
    Thread-safe: a stand-in server's thread may advance it while the code under test reads it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


class SilentServer:
    """A loopback server that accepts connections and never answers (a Talon.One that hangs) until closed:
    the client's read timeout is what ends a call to it."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._sock.accept()
            except OSError:  # closed
                return
            self._connections.append(connection)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, which then ends
        self._sock.close()
        for connection in self._connections:
            connection.close()


class LogCapture:
    """Everything the layer's Powertools logger writes, as the JSON lines CloudWatch would get."""

    def __init__(self) -> None:
        import io

        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def effects(self) -> list[dict[str, Any]]:
        """Every effect logged, in order, each with its answer's call context (`effect_entries`)."""
        return effect_entries(self.records())


def effect_entries(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The effects of the "effects" lines (one line per answer), each beside its line's call context."""
    context = ("operation", "session_id", "profile_id", "correlation_id", "level")
    return [
        {key: record.get(key) for key in context} | effect
        for record in records
        if record.get("message") == "effects"
        for effect in record["effects"]
    ]


# --- the vendor's reference specs (../shared/reference; tests only, the product never reads them) ----

SWAGGER_2019 = "talon_one_swagger-20052019.yaml"
OPENAPI_2020 = "talon_one_openapi-v2.0.0.yaml"
OPENAPI_2026 = "talon_one_openapi-v25.17.0.yaml"


def reference_dir() -> Path | None:
    """shared/reference beside the repository, or beside a folder holding it (a git worktree)."""
    for folder in ROOT.parents:
        if (folder / "shared" / "reference" / SWAGGER_2019).is_file():
            return folder / "shared" / "reference"
    return None


class _SpecLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader (libyaml's when there) that reads the 2026 file's plain `=` example key as the
    text it is (PyYAML takes it for the YAML 1.1 "value" tag; see the reference README)."""


_SpecLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@cache
def reference_spec(name: str) -> dict[str, Any]:
    """A reference spec as data; the calling test (or module) is skipped, saying why, without it."""
    folder = reference_dir()
    if folder is None:
        reason = f"reference specs not found in shared/reference beside {ROOT}: these tests need them"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason, allow_module_level=True)
    loaded = yaml.load((folder / name).read_text(encoding="utf-8"), Loader=_SpecLoader)
    assert isinstance(loaded, dict)
    return loaded


#: Every function handler the function tests loaded (tests/functions/conftest.py `load_handler`).
LOADED_HANDLERS: list[Any] = []


def reset_handlers() -> None:
    """Start every loaded function afresh, as a new Lambda container would: its container reset (settings
    read again from the environment a test changed, clients and secrets dropped)."""
    from talon_relay.container import forget_shared_caches

    for handler in LOADED_HANDLERS:
        handler.container.reset()
    forget_shared_caches()


# --- the June 2026 split specs (OpenAPI 3.1, one file per path, $refs between files) ------------------

JUNE_2026_API = "talon_one_specs-2026-06/integration-api"


def _resolved(value: Any, resolver: Any) -> Any:
    """`value` with every `$ref` replaced by what it names (relative to the file it is in)."""
    if isinstance(value, dict):
        if "$ref" in value:
            found = resolver.lookup(value["$ref"])
            return _resolved(found.contents, found.resolver)
        return {key: _resolved(item, resolver) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, resolver) for item in value]
    return value


def june_2026_operation(path: str, method: str) -> dict[str, Any] | None:
    """The operation on `method path` in the June 2026 split specs, its `$ref`s resolved with `referencing`
    (None: the specs are not there, or have no such operation)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    folder = reference_dir()
    if folder is None:
        return None
    file = folder / JUNE_2026_API / "paths" / (path.strip("/").replace("/", "-") + ".yaml")
    if not file.is_file():
        return None

    def retrieve(uri: str) -> Resource[Any]:
        text = Path(uri.removeprefix("file://")).read_text(encoding="utf-8")
        return Resource.from_contents(yaml.safe_load(text), default_specification=DRAFT202012)

    document = yaml.safe_load(file.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    resolver = registry.with_resource(file.as_uri(), resource).resolver(base_uri=file.as_uri())
    operation = document.get(method.lower())
    return None if not isinstance(operation, dict) else _resolved(operation, resolver)


def flat_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """An object schema's properties and required names, its `allOf` parts merged."""
    properties: dict[str, Any] = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        more, needed = flat_schema(part)
        properties.update(more)
        required |= needed
    return properties, required
