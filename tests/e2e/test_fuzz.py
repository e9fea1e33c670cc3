"""schemathesis, the independent API fuzzer, against the local stack: the reference spec's five
Integration API operations, authenticated as a real caller (signed with the stack's secret), with a
fixed seed and a bounded number of examples; no request may get a server error (5xx)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings

from local.stack import LocalStack
from talon_relay.operations import OPERATIONS as TABLE
from tests.e2e.helpers import Http
from tests.support import ROOT

pytestmark = pytest.mark.e2e

#: The unmodified Swagger 2.0 file of May 2019 (its five Integration API operations), outside the repo.
SPEC_PATH = ROOT.parent / "shared" / "reference" / "talon_one_swagger-20052019.yaml"
#: The table's entries that the 2019 file may describe (its routes are /v1/; today's /v1/ operations, such as
#: loyalty's, are not in it: `five_operations` keeps those it has).
V1_ENTRIES = [op.name for op in TABLE.values() if op.path.startswith("/v1/")]
EXAMPLES_PER_MODE = 40
SEED = 20052019


def described(spec: dict[str, Any]) -> list[str]:
    """The table's entries the file describes, in table order (its five operations)."""
    ids = {op.get("operationId") for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)}
    return [name for name in V1_ENTRIES if name in ids]


def five_operations(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec reduced to the relay's operations. Their own security (Talon.One's Content-Signature)
    is dropped: the relay's callers sign with X-Relay-Signature instead, which the test adds."""
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        kept = {
            method: op for method, op in item.items() if isinstance(op, dict) and op.get("operationId") in V1_ENTRIES
        }
        for op in kept.values():
            op.pop("security", None)
        if kept:
            paths[path] = kept
    reduced = {**spec, "paths": paths}
    reduced.pop("security", None)
    return reduced


@pytest.fixture(scope="module")
def fuzzed() -> Any:
    """The reduced spec for schemathesis, and the operations it describes."""
    if not SPEC_PATH.is_file():
        pytest.skip(f"reference spec not found at {SPEC_PATH}: the fuzz run needs ../shared/reference/")
    import schemathesis

    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    assert len(described(spec)) == 5, described(spec)
    return schemathesis.openapi.from_dict(five_operations(spec)), described(spec)


def test_schemathesis_finds_no_server_error(stack: LocalStack, http: Http, fuzzed: Any) -> None:
    # Given schemathesis' generated requests (valid and invalid by the spec) for the five operations
    from schemathesis import GenerationMode
    from schemathesis.core import NotSet

    schema, operations = fuzzed
    failures: list[str] = []
    statuses: dict[int, int] = {}
    started = time.monotonic()
    for operation_id in operations:
        operation = schema.find_operation_by_id(operation_id)
        # Negative examples (invalid by the spec) need something to break: a body. A path id is any string.
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if operation_id != "deleteCustomerData" else [])
        for mode in modes:

            @seed(SEED)
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case: Any) -> None:
                # When each is sent to the relay as a signed caller sends it
                if isinstance(case.body, NotSet):
                    body = None
                elif isinstance(case.body, bytes | bytearray):
                    body = bytes(case.body)  # a negative example may be no JSON at all
                else:
                    body = json.dumps(case.body).encode()
                headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
                if body is not None and case.media_type:
                    headers.setdefault("Content-Type", case.media_type)
                answer = http.relay(case.method.upper(), case.formatted_path, body, headers)
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                # Then no answer is a server error, and every refusal is JSON with a message
                if answer.status >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {answer.status}: {answer.data[:200]!r}")
                elif answer.status >= 400:
                    assert json.loads(answer.data)["message"], answer.data

            send()
    took = time.monotonic() - started
    print(f"schemathesis: {sum(statuses.values())} requests in {took:.1f} s, statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures[:20])
    assert sum(statuses.values()) >= len(operations) * 10  # it did generate (bounded, not empty)
    assert took < 60
