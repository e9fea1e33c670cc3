"""`make help` as a newcomer meets it: every target the Makefile declares, one line each, and `make`
alone shows the same list instead of doing something."""

from __future__ import annotations

import re
import subprocess

from tests.support import ROOT

#: A rule line: `name [name ...]:` (not `name :=`, not a special target such as .PHONY, not `$(PY):`)
RULE = re.compile(r"^([A-Za-z][\w-]*(?:[ \t]+[A-Za-z][\w-]*)*)[ \t]*:(?!=)", re.MULTILINE)
PHONY = re.compile(r"^\.PHONY[ \t]*:(.*)$", re.MULTILINE)
LISTED = re.compile(r"^  (\S+) +(\S.*)$")


def declared_targets() -> set[str]:
    """Every target the Makefile names in a rule or in a .PHONY line."""
    text = (ROOT / "Makefile").read_text()
    targets = {name for match in RULE.finditer(text) for name in match.group(1).split()}
    targets |= {name for match in PHONY.finditer(text) for name in match.group(1).split()}
    return targets


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def listed(output: str) -> dict[str, str]:
    """The `  target  description` lines of `make help`, as target -> description."""
    lines = [LISTED.match(line) for line in output.splitlines()]
    return {match.group(1): match.group(2) for match in lines if match}


def test_make_help_lists_every_declared_target_with_one_line() -> None:
    # Given the targets the Makefile declares (the ones a developer or CI calls)
    targets = declared_targets()
    assert {"install", "test", "lint", "build", "run", "help"} <= targets
    # When `make help` runs
    result = make("help")
    # Then it lists each of them exactly once, each with a description, and nothing else
    assert result.returncode == 0, result.stderr
    entries = listed(result.stdout)
    names = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(names) == len(set(names)), names
    assert set(entries) == targets, f"missing: {targets - set(entries)}, extra: {set(entries) - targets}"
    assert all(len(description) > 10 for description in entries.values()), entries


def test_make_alone_shows_the_help_and_runs_nothing() -> None:
    # When `make` runs without a target
    alone = make()
    # Then it prints the same list as `make help` (no venv created, no test run)
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout == make("help").stdout
    assert "install" in listed(alone.stdout)
