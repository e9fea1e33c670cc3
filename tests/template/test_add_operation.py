"""An operation is data: added by docs/extending.md's checklist to a copy of the repository, the fast suite
passes there.

The copy (git's files, beside a `shared` that is this repository's reference specs) gets
`linkLoyaltyCardToProfile` (POST /v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/link_profile,
today's spec) as a maintainer would add it: its table entry, its request model with sample bodies, and
the emulator's entry. Then `make generate`, then
the fast suite (unit, contract and template tests) in the copy, with this interpreter and the copy's own
`talon_relay` first on the path. About a minute; `make test` runs it, `make test-fast` does not (`slow`).
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

#: 1. The table entry, in its API area's module (a new area would be a new module; sessions holds it here).
ENTRY = """

LINK_LOYALTY_CARD_TO_PROFILE = Operation(
    Contract(
        name="linkLoyaltyCardToProfile",
        method="POST",
        path="/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/link_profile",
        body="wire.models_v2:LoyaltyCardRegistration",
        success_status=200,
        body_required=True,
        examples={"loyaltyProgramId": "1", "loyaltyCardId": "card-0001"},
    ),
    Delivery(),
)
"""

#: 2. The request model and its sample bodies.
MODELS = """

class LoyaltyCardRegistration(RequestModel):
    model_config = examples({"integrationId": "p-1"}, {"integrationId": "p-2"})

    integration_id: str
"""

#: 3. The emulator's entry: its handler, and its route with its body's definitions (from the spec).
EMULATOR_HANDLER = '''

def link_loyalty_card_to_profile(call: Call) -> Outcome:
    """The card linked to the profile (the emulator keeps no cards: the answer names both)."""
    card = {"cardIdentifier": call.params["loyaltyCardId"], "profiles": [{"integrationId": call.body["integrationId"]}]}
    return Outcome(200, card)

'''
EMULATOR_IMPORTS = """from local.emulator.model import Outcome
from local.emulator.routes import Call
"""
EMULATOR_ROUTE = """    Route(
        "linkLoyaltyCardToProfile",
        "POST",
        "/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/link_profile",
        200,
        link_loyalty_card_to_profile,
        body="LoyaltyCardRegistration",
        body_required=True,
        definitions={
            "LoyaltyCardRegistration": {
                "type": "object",
                "required": ["integrationId"],
                "properties": {"integrationId": {"type": "string"}},
            },
        },
    ),
"""


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _emulator_entry(path: Path) -> None:
    """The handler before the table, the route as the table's last entry."""
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "from local.emulator import v1, v2\n", f"from local.emulator import v1, v2\n{EMULATOR_IMPORTS}", 1
    )
    text = text.replace("\nROUTES: tuple[Route, ...] = (", EMULATOR_HANDLER + "ROUTES: tuple[Route, ...] = (", 1)
    assert text.endswith("\n)\n"), "local/emulator/operations.py: the table no longer ends the module"
    path.write_text(text[: -len(")\n")] + EMULATOR_ROUTE + ")\n", encoding="utf-8")


#: What the test changes in the copy: each file and how.
EDITS = {
    f"{LAYER}/operations/sessions.py": lambda path: _append(path, ENTRY),
    f"{LAYER}/wire/models_v2.py": lambda path: _append(path, MODELS),
    "local/emulator/operations.py": _emulator_entry,
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

    # When linkLoyaltyCardToProfile is added there by the checklist, in the files it names and no others
    assert set(EDITS) <= checklist_paths(), "docs/extending.md no longer names a file the checklist needs"
    for name, edit in EDITS.items():
        edit(copy / name)
    generated = run(["make", "generate", f"PY={sys.executable}"], copy, env, timeout=300)

    # Then make generate wrote its function, its samples, its checker and its resources
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    handler = copy / "functions" / "link_loyalty_card_to_profile" / "link_loyalty_card_to_profile.py"
    assert handler.read_text().endswith('handler = lambda_handler("linkLoyaltyCardToProfile")\n')
    assert {p.name for p in (copy / "events" / "link_loyalty_card_to_profile").iterdir()} == {"api.json", "sqs.json"}
    assert "LinkLoyaltyCardToProfileFunction:" in (copy / "template.yaml").read_text()
    assert '"wire.models_v2:LoyaltyCardRegistration"' in (copy / LAYER / "core" / "checkers.json").read_text()

    # When the fast suite runs in the copy (the copy's talon_relay, not this one's)
    report = tmp_path / "report.xml"
    fast = ["tests/unit", "tests/contract", "tests/template", "-q", "-m", "not slow", "-p", "no:cacheprovider"]
    suite = run([sys.executable, "-m", "pytest", *fast, f"--junitxml={report}"], copy, env, timeout=600)

    # Then it passes, the new operation's own cases among the tests that ran, none of them skipped
    assert suite.returncode == 0, suite.stdout[-6000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes = {f"{case.get('classname')}::{case.get('name')}": [o.tag for o in case] for case in cases}
    new = re.compile(r"link_loyalty_card_to_profile|linkLoyaltyCardToProfile|LoyaltyCardRegistration")
    mine = {name: outcome for name, outcome in outcomes.items() if new.search(name)}
    assert len(mine) >= 30, sorted(mine)
    assert {name: outcome for name, outcome in mine.items() if outcome} == {}
