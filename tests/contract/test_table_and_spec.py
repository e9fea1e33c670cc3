"""Contract: the operation table and the vendor's specs agree on every Integration API operation.

Every operation of the May 2026 spec tagged `integration`, and every operation of the June 2026 split specs
(`integration-api/paths/`), is an entry of the table (on the spec's method and path) or is named in
`PENDING`, the operations not served yet. `PENDING` only shrinks: an operation leaves it when its entry
comes, and a name in it must still be the spec's. A new operation in a later spec fails here, named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from talon_relay.operations import OPERATIONS
from tests.contract.conftest import load_current_spec
from tests.support import JUNE_2026_API, reference_dir

#: Integration API operations the relay does not serve yet. Only shrinks: remove a name when its entry comes.
PENDING = frozenset(
    {
        # GET /v1/integration/campaigns: in the May 2026 spec, not a method of talon-one-sdk 26.2's IntegrationApi
        "integrationGetAllCampaigns",
    }
)

METHODS = ("get", "put", "post", "delete", "patch")


def may_2026() -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path) of every operation the May 2026 spec tags `integration`."""
    spec = load_current_spec()
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS and "integration" in op.get("tags", [])
    }


def june_2026() -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path) of every operation of the June 2026 split specs (one file per path)."""
    folder = reference_dir()
    paths = folder / JUNE_2026_API / "paths" if folder is not None else None
    if paths is None or not paths.is_dir():
        pytest.skip("the June 2026 split specs are not in shared/reference beside the repository")
    found: dict[str, tuple[str, str]] = {}
    for file in sorted(Path(paths).glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        path = text.splitlines()[0].removeprefix("# path:").strip()  # each file names its path first
        document: dict[str, Any] = yaml.safe_load(text)
        for method in METHODS:
            if isinstance(document.get(method), dict):
                found[document[method]["operationId"]] = (method.upper(), path)
    return found


def disagreements(spec: dict[str, tuple[str, str]], pending: frozenset[str]) -> list[str]:
    """Each way the table (with `pending`) and a spec's operations disagree, naming the operation."""
    problems: list[str] = []
    for name, (method, path) in sorted(spec.items()):
        op = OPERATIONS.get(name)
        if op is None and name not in pending:
            problems.append(f"{name} ({method} {path}) is in the spec but neither in the table nor PENDING")
        elif op is not None and (op.method, op.path) != (method, path):
            problems.append(f"{name}: the table has {op.method} {op.path}, the spec {method} {path}")
    return problems


def test_every_may_2026_operation_is_served_or_pending() -> None:
    assert disagreements(may_2026(), PENDING) == []


def test_every_june_2026_operation_is_served_or_pending() -> None:
    assert disagreements(june_2026(), PENDING) == []


def test_pending_only_names_operations_the_specs_have_and_the_table_does_not() -> None:
    operations = may_2026() | june_2026()
    assert sorted(PENDING - operations.keys()) == [], "names in PENDING that no spec has"
    assert sorted(PENDING & OPERATIONS.keys()) == [], "served operations still in PENDING: remove them"


def test_an_operation_a_later_spec_adds_fails_naming_it() -> None:
    # Given a later spec with one operation more
    later = may_2026() | {"getCatalogItems": ("GET", "/v1/catalogs/{catalogId}/items")}
    # Then the check names it
    (problem,) = disagreements(later, PENDING)
    assert problem.startswith("getCatalogItems (GET /v1/catalogs/{catalogId}/items)")


def test_an_entry_on_another_path_than_the_specs_fails_naming_it() -> None:
    moved = may_2026() | {"syncCatalog": ("PUT", "/v2/catalogs/{catalogId}/sync")}
    assert disagreements(moved, PENDING) == [
        "syncCatalog: the table has PUT /v1/catalogs/{catalogId}/sync, the spec PUT /v2/catalogs/{catalogId}/sync"
    ]
