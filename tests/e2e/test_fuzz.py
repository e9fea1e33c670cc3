"""schemathesis, the independent API fuzzer, against the local stack: every Integration API operation of the
operation table, as the vendor's specs describe it (May 2026; the 2019 file for the v1 operations May no
longer has; the June 2026 split specs for the v3 events), authenticated as a real caller (signed with the
stack's secret), with a fixed seed and a bounded number of examples.

No request may get a server error (5xx) or a stack trace; every refusal is JSON naming what is wrong; and
nothing malformed reaches Talon.One: every request the emulator received passes the emulator's own
checks of the spec (route, query, body). `make test` runs a few examples per operation and mode
(FUZZ_EXAMPLES, default 3); `make fuzz` runs many more (docs/testing.md).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, seed, settings

from local.stack import LocalStack
from talon_relay.operations import OPERATIONS as TABLE
from tests.e2e.helpers import Http
from tests.support import OPENAPI_2026, SWAGGER_2019, june_2026_operation, reference_spec

pytestmark = pytest.mark.e2e

#: Examples per operation and generation mode (valid, and invalid by the spec): few in `make test`.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
SEED = 20260507
#: The bound of the `make test` run (the default examples), all operations together.
BOUND_SECONDS = 90.0
#: The table's Integration API operations (a webhook receiver is the platform's, not the vendor's API).
INTEGRATION_API = [op for op in TABLE.values() if op.webhook is None]


def plain(value: Any) -> Any:
    """The spec with YAML's timestamps (examples, defaults) as the ISO text they were written as."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def reduced(spec: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The spec reduced to the operations `names`. Their own security (Talon.One's key or signature) is
    dropped: the relay's callers sign with X-Relay-Signature instead, which the test adds."""
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        kept = {method: op for method, op in item.items() if isinstance(op, dict) and op.get("operationId") in names}
        for op in kept.values():
            op.pop("security", None)
        if kept:
            shared = {"parameters": item["parameters"]} if "parameters" in item else {}
            paths[path] = {**shared, **kept}
    out = {**spec, "paths": paths}
    out.pop("security", None)
    return out


def described(spec: dict[str, Any]) -> set[str]:
    """The operationIds the spec describes."""
    return {
        str(op.get("operationId")) for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)
    }


def june_document(names: list[str]) -> dict[str, Any]:
    """An OpenAPI 3.1 document of the table's operations `names` as the June 2026 split specs have them."""
    paths: dict[str, Any] = {}
    for op in INTEGRATION_API:
        if op.name in names:
            found = june_2026_operation(op.path, op.method)
            assert found is not None, f"{op.name} is in no spec"
            found.pop("security", None)
            paths.setdefault(op.path, {})[op.method.lower()] = found
    return {"openapi": "3.1.0", "info": {"title": "June 2026 (v3 events)", "version": "2026-06"}, "paths": paths}


@pytest.fixture(scope="module")
def fuzzed() -> list[tuple[Any, str]]:
    """(schemathesis schema, operationId) for every Integration API operation of the table."""
    import schemathesis

    names = {op.name for op in INTEGRATION_API}
    may = plain(reference_spec(OPENAPI_2026))
    from_may = names & described(may)
    old = plain(reference_spec(SWAGGER_2019))
    from_2019 = (names - from_may) & described(old)
    from_june = sorted(names - from_may - from_2019)
    schemas = [
        (schemathesis.openapi.from_dict(reduced(may, from_may)), sorted(from_may)),
        (schemathesis.openapi.from_dict(reduced(old, from_2019)), sorted(from_2019)),
        (schemathesis.openapi.from_dict(june_document(from_june)), from_june),
    ]
    pairs = [(schema, name) for schema, group in schemas for name in group]
    assert sorted(name for _, name in pairs) == sorted(names)  # every operation, none twice
    return pairs


def has_input(operation: Any) -> bool:
    """Whether an invalid example can break something: a body or a query parameter (a path id is any text)."""
    definition = operation.definition.raw
    parameters = definition.get("parameters", [])
    return "requestBody" in definition or any(p.get("in") in {"body", "query"} for p in parameters)


def refusal_problem(status: int, data: bytes) -> str | None:
    """What is wrong with a 4xx answer: it must be JSON with a message, and a 400 must name each fault."""
    try:
        answer = json.loads(data)
    except ValueError:
        return "not JSON"
    if not isinstance(answer, dict) or not answer.get("message"):
        return "no message"
    if status == 400:
        errors = answer.get("errors")
        if not errors or not all(isinstance(e, dict) and (e.get("details") or e.get("title")) for e in errors):
            return "a 400 that does not name what is wrong (errors[].details)"
    return None


#: The emulator's words for a property a closed schema of the spec does not have (the 2019 file's): the
#: relay's request models are open on purpose, so a caller's unknown field reaches Talon.One, which judges it.
UNKNOWN_PROPERTY = "does not allow the property"


def malformed_at_talon_one(entry: dict[str, Any]) -> str | None:
    """Why the emulator's own checks of the spec refuse a request it received (None: they pass it)."""
    from local.emulator.errors import ApiError
    from local.emulator.operations import ROUTES
    from local.emulator.routes import match_route
    from local.emulator.validation import query_values, validate_body

    try:
        route, _ = match_route(ROUTES, entry["method"], entry["path"])
        if route.query:
            query_values(route, entry.get("query") or "")
        if route.body is not None:
            validate_body(route, base64.b64decode(entry["bodyBase64"]))
    except ApiError as error:
        problems = error.errors or [{"details": str(error)}]
        if all(UNKNOWN_PROPERTY in str(problem.get("details", "")) for problem in problems):
            return None  # an unknown field: let through to Talon.One on purpose (open models: wire/models_v2.py)
        return f"{entry['method']} {entry['path']}: {error}"
    return None


class Run:
    """What the fuzzer's requests got: statuses, requests per operation, and each fault found."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.failures: list[str] = []
        self.statuses: dict[int, int] = {}
        self.per_operation: dict[str, int] = {}

    def send(self, operation_id: str, case: Any) -> None:
        """One generated request sent to the relay as a signed caller sends it, and its answer judged."""
        from schemathesis.core import NotSet

        if isinstance(case.body, NotSet):
            body = None
        elif isinstance(case.body, bytes | bytearray):
            body = bytes(case.body)  # a negative example may be no JSON at all
        else:
            body = json.dumps(case.body).encode()
        headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
        if body is not None and case.media_type:
            headers.setdefault("Content-Type", case.media_type)
        path = case.formatted_path
        if case.query:
            path += "?" + urlencode(case.query, doseq=True)
        answer = self.http.relay(case.method.upper(), path, body, headers)
        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        self.per_operation[operation_id] = self.per_operation.get(operation_id, 0) + 1
        where = f"{operation_id}: {case.method} {path} -> {answer.status}: {answer.data[:300]!r}"
        if answer.status >= 500:
            self.failures.append(where)
        elif b"Traceback" in answer.data or b'File "' in answer.data:
            self.failures.append(f"stack trace: {where}")
        elif answer.status >= 400 and (problem := refusal_problem(answer.status, answer.data)):
            self.failures.append(f"{problem}: {where}")


def fuzz(run: Run, operation: Any, operation_id: str, mode: Any) -> None:
    """`EXAMPLES` generated requests of one operation and mode (seeded), each sent by `run`."""
    from hypothesis.errors import Unsatisfiable

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        run.send(operation_id, case)

    with contextlib.suppress(Unsatisfiable):  # no invalid example exists for this operation's inputs
        send()


def test_schemathesis_finds_no_server_error_and_nothing_malformed_reaches_talon_one(
    stack: LocalStack, http: Http, fuzzed: list[tuple[Any, str]]
) -> None:
    # Given schemathesis' generated requests (valid and invalid by the spec) for every operation
    from schemathesis import GenerationMode

    run = Run(http)
    already = len(stack.emulator.requests())
    started = time.monotonic()
    # When each is sent to the relay as a signed caller sends it
    for schema, operation_id in fuzzed:
        operation = schema.find_operation_by_id(operation_id)
        fuzz(run, operation, operation_id, GenerationMode.POSITIVE)
        if has_input(operation):
            fuzz(run, operation, operation_id, GenerationMode.NEGATIVE)
    took = time.monotonic() - started
    # Then no answer was a server error or showed a stack trace, and every refusal named its fault (Run.send)
    # And nothing the relay let through was malformed by the spec at Talon.One
    received = stack.emulator.requests()[already:]
    failures = run.failures + [
        f"malformed at Talon.One: {why}" for entry in received if (why := malformed_at_talon_one(entry))
    ]
    print(
        f"schemathesis: {sum(run.statuses.values())} requests over {len(run.per_operation)} operations in"
        f" {took:.1f} s, statuses {dict(sorted(run.statuses.items()))}, {len(received)} reached Talon.One"
    )
    assert not failures, "\n".join(failures[:30])
    assert set(run.per_operation) == {name for _, name in fuzzed}  # every operation was fuzzed (bounded, not empty)
    if EXAMPLES <= 3:
        assert took < BOUND_SECONDS
