"""An operation is data: added by docs/extending.md's checklist to a copy of the repository, the fast suite
passes there.

The copy (git's files, beside a `shared` that is this repository's reference specs) gets
`integrationGetAllCampaigns` (GET /v1/integration/campaigns: the one Integration API operation of today's
spec that talon-one-sdk 26.2 has no method for, and the relay does not serve) as a maintainer would add it:
its table entry, its answer model, and the emulator's entry. Then `make generate`, then the fast suite (unit,
contract and template tests) in the copy, with this interpreter and the copy's own `talon_relay` first on the
path. A few minutes; `make test` runs it, `make test-fast` does not (`slow`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.support import ROOT, reference_dir

pytestmark = pytest.mark.slow

#: The checklist the test follows: the section of docs/extending.md on adding an operation.
CHECKLIST = ROOT / "docs" / "extending.md"
LAYER = "layers/talon_relay/talon_relay"

# --- what the maintainer writes, by the checklist ---------------------------------------------------

#: 1. The table entry, in an API area's module (the operations folder is full: sessions holds it here).
ENTRY = """

INTEGRATION_GET_ALL_CAMPAIGNS = Operation(
    Contract(
        name="integrationGetAllCampaigns",
        method="GET",
        path="/v1/integration/campaigns",
        response="wire.models_v2:RunningCampaigns",
        query_params=(
            QueryParam("pageSize", "integer", minimum=1, maximum=1000),
            QueryParam("skip", "integer"),
            QueryParam("campaignIds", "list"),
            QueryParam("startAfter", "date-time"),
            QueryParam("startBefore", "date-time"),
            QueryParam("endAfter", "date-time"),
            QueryParam("endBefore", "date-time"),
        ),
    ),
    Delivery(cache_seconds=10),
)
"""

#: 2. Its model: a read takes no body, so its answer's (a tolerant reader).
MODELS = """

class RunningCampaigns(BaseModel):
    model_config = {"extra": "allow"}

    has_more: bool = Field(alias="hasMore")
    data: list[dict[str, Any]]
"""

#: 3. The emulator's entry: its handler, and its route with its query parameters as the spec declares them.
EMULATOR_HANDLER = '''

def integration_get_all_campaigns(call: Call) -> Outcome:
    """The running campaigns of the rules, a page of them."""
    running = [{"id": c.id, "name": c.name, "state": "running"} for c in call.backend.rules.campaigns if c.active]
    skip, size = call.query.get("skip") or 0, call.query.get("pageSize") or 50
    return Outcome(200, {"hasMore": len(running) > skip + size, "data": running[skip : skip + size]})

'''
EMULATOR_IMPORTS = """from local.emulator.model import Outcome
from local.emulator.routes import Call
"""
EMULATOR_ROUTE = """    Route(
        "integrationGetAllCampaigns",
        "GET",
        "/v1/integration/campaigns",
        200,
        integration_get_all_campaigns,
        query=(
            QueryParam("pageSize", "integer", format="int64", default=50, minimum=1, maximum=1000),
            QueryParam("skip", "integer", format="int64"),
            QueryParam("campaignIds", "array"),
            QueryParam("startAfter", "string", format="date-time"),
            QueryParam("startBefore", "string", format="date-time"),
            QueryParam("endAfter", "string", format="date-time"),
            QueryParam("endBefore", "string", format="date-time"),
        ),
    ),
"""

#: What the new operation's test cases are named by.
NEW = re.compile(r"integration_get_all_campaigns|integrationGetAllCampaigns|RunningCampaigns")


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _emulator_entry(path: Path) -> None:
    """The handler before the table, the route as the table's last entry."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(from local\.emulator import [\w, ]+\n)", lambda m: m.group(1) + EMULATOR_IMPORTS, text, count=1)
    text = text.replace("\nROUTES: tuple[Route, ...] = (", EMULATOR_HANDLER + "ROUTES: tuple[Route, ...] = (", 1)
    assert text.endswith("\n)\n"), "local/emulator/operations.py: the table no longer ends the module"
    path.write_text(text[: -len(")\n")] + EMULATOR_ROUTE + ")\n", encoding="utf-8")


def _served(path: Path) -> None:
    """The operation leaves the list of the spec's operations not served yet."""
    text = path.read_text(encoding="utf-8")
    served = re.sub(r'\n[^\n]*\n\s*"integrationGetAllCampaigns",', "", text, count=1)
    assert served != text, f"{path.name}: integrationGetAllCampaigns is no longer pending there"
    path.write_text(served, encoding="utf-8")


#: What the test changes in the copy: each file and how.
EDITS = {
    f"{LAYER}/operations/sessions.py": lambda path: _append(path, ENTRY),
    f"{LAYER}/wire/models_v2.py": lambda path: _append(path, MODELS),
    "local/emulator/operations.py": _emulator_entry,
    "tests/contract/test_table_and_spec.py": _served,
}

# --- the copy ---------------------------------------------------------------------------------------


def checklist_paths() -> set[str]:
    """The files docs/extending.md's operation checklist names (`LAYER/...` written out; a bare module
    name is in the folder named last before it, as "under `LAYER/operations/`: `sessions.py`")."""
    text = CHECKLIST.read_text(encoding="utf-8")
    section = text.split("## Adding an Integration API operation", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    folder = ""
    for name in re.findall(r"`([\w./<>-]+(?:\.py|/))`", section.replace("LAYER/", f"{LAYER}/")):
        if name.endswith("/"):
            folder = name
        else:
            found.add(name if "/" in name else folder + name)
    return found


def copy_repository(destination: Path) -> None:
    """This repository's files as git knows them (tracked, and new ones not ignored), as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.timeout(900)
def test_an_operation_added_by_the_checklist_passes_the_fast_suite(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("needs git (to list the repository's files) and make")
    # Given a copy of the repository, with the reference specs beside it as they are beside this one
    copy = tmp_path / "repo"
    copy_repository(copy)
    reference = reference_dir()
    if reference is not None:
        (tmp_path / "shared").symlink_to(reference.parent, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy / "layers" / "talon_relay"), str(copy)])}
    env.pop("PYTEST_ADDOPTS", None)
    imported = run([sys.executable, "-c", "import talon_relay; print(talon_relay.__file__)"], copy, env, timeout=60)
    assert Path(imported.stdout.strip()).is_relative_to(copy), imported.stdout + imported.stderr

    # When integrationGetAllCampaigns is added there by the checklist, in the files it names and no others
    assert set(EDITS) <= checklist_paths(), "docs/extending.md no longer names a file the checklist needs"
    for name, edit in EDITS.items():
        edit(copy / name)
    generated = run(["make", "generate", f"PY={sys.executable}"], copy, env, timeout=300)

    # Then make generate wrote its function, its sample (a read: the API's only, no queue) and its resources
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    handler = copy / "functions" / "integration_get_all_campaigns" / "integration_get_all_campaigns.py"
    assert handler.read_text().endswith('handler = lambda_handler("integrationGetAllCampaigns")\n')
    assert {p.name for p in (copy / "events" / "integration_get_all_campaigns").iterdir()} == {"api.json"}
    template = (copy / "template.yaml").read_text()
    assert "IntegrationGetAllCampaignsFunction:" in template
    assert "IntegrationGetAllCampaignsQueue:" not in template

    # When the fast suite runs in the copy (the copy's talon_relay, not this one's)
    report = tmp_path / "report.xml"
    fast = ["tests/unit", "tests/contract", "tests/template", "-q", "-m", "not slow", "-p", "no:cacheprovider"]
    suite = run([sys.executable, "-m", "pytest", *fast, f"--junitxml={report}"], copy, env, timeout=600)

    # Then it passes, the new operation's own cases among the tests that ran, none of them skipped
    assert suite.returncode == 0, suite.stdout[-6000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes = {f"{case.get('classname')}::{case.get('name')}": [o.tag for o in case] for case in cases}
    mine = {name: outcome for name, outcome in outcomes.items() if NEW.search(name)}
    assert len(mine) >= 20, sorted(mine)  # a read's: no queue, no body (a write has 30 and more)
    assert {name: outcome for name, outcome in mine.items() if outcome} == {}
