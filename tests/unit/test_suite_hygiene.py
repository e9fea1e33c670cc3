"""The fast suite (every test outside tests/e2e) does not wait on the wall clock, nor time itself with it.

Where a behaviour depends on time, time is injected (tests.support.FakeClock through `clock=`, `sleep=`,
`now=` or `monotonic=` parameters; Emulator.pause; the sqs_clock fixture for moto's SQS), so "after 30
seconds" is a clock advance; and what a timing check stood for is asserted directly: the waits slept, the
attempts made, the timeouts set, the visibility read back. Checked on the syntax tree of every file of the
fast suite and its helpers: no sleep call, no idle wait on a fresh Event, no reading of the clocks that only
ever measure elapsed time, no wall-clock reading in an assert or a loop's condition, no assert on an
elapsed, took or duration value.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

#: The time module's clocks a test reads only to measure elapsed time or to busy-wait.
MEASURING_CLOCKS = frozenset(
    {
        "monotonic",
        "monotonic_ns",
        "perf_counter",
        "perf_counter_ns",
        "process_time",
        "process_time_ns",
        "thread_time",
        "thread_time_ns",
    }
)
#: Wall-clock readings (time.time(), datetime.now(), ...): fine to make a timestamp, not to check a duration.
WALL_CLOCK_READINGS = frozenset({"time", "time_ns", "now", "utcnow", "today"})
ELAPSED = re.compile(r"elapsed|took|duration", re.IGNORECASE)

#: (file relative to tests/, rule) -> why it cannot be avoided. Nothing needs one: keep it that way.
ALLOWED: dict[tuple[str, str], str] = {}


def fast_suite_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if path.relative_to(TESTS).parts[0] != "e2e")


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _reads_the_wall_clock(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if not isinstance(inner, ast.Call) or not isinstance(inner.func, ast.Attribute):
            continue
        owner = inner.func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        if inner.func.attr in WALL_CLOCK_READINGS and owner_name in {"time", "datetime", "date"}:
            return True
    return False


def _names_an_elapsed_time(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        name = inner.id if isinstance(inner, ast.Name) else inner.attr if isinstance(inner, ast.Attribute) else None
        if name is not None and ELAPSED.search(name):
            return True
    return False


def wall_clock_uses(source: str) -> list[tuple[int, str]]:
    """(line, rule) of every use of the wall clock in a test file's source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            callee = _callee(node)
            if callee == "sleep":
                found.append((node.lineno, "sleep"))
            elif callee == "wait" and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Call) and _callee(owner) == "Event":
                    found.append((node.lineno, "idle wait on a fresh Event"))
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "time" and node.attr in MEASURING_CLOCKS:
                found.append((node.lineno, f"time.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            for alias in node.names:
                if alias.name in MEASURING_CLOCKS | {"sleep"}:
                    found.append((node.lineno, f"time.{alias.name}"))
        elif isinstance(node, ast.Assert):
            if _reads_the_wall_clock(node.test):
                found.append((node.lineno, "wall clock in an assert"))
            if _names_an_elapsed_time(node.test):
                found.append((node.lineno, "assert on an elapsed time"))
        elif isinstance(node, ast.While) and _reads_the_wall_clock(node.test):
            found.append((node.lineno, "busy-wait on the wall clock"))
    return sorted(found)


def test_the_fast_suite_neither_sleeps_nor_times_itself() -> None:
    # Given every Python file of the fast suite and its helpers
    files = fast_suite_files()
    assert TESTS / "unit" / "test_retries.py" in files and TESTS / "support.py" in files
    assert not any("e2e" in path.relative_to(TESTS).parts for path in files)
    # When each is read for uses of the wall clock
    problems = [
        f"{path.relative_to(TESTS)}:{line}: {rule}"
        for path in files
        for line, rule in wall_clock_uses(path.read_text(encoding="utf-8"))
        if (str(path.relative_to(TESTS)), rule) not in ALLOWED
    ]
    # Then there is none: inject a clock (tests.support.FakeClock) and assert what the timing stood for
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import time\ntime.sleep(0.1)", "sleep"),
        ("from time import sleep\nsleep(1)", "time.sleep"),
        ("import asyncio\nasync def f():\n    await asyncio.sleep(1)", "sleep"),
        ("import threading\nthreading.Event().wait(0.5)", "idle wait on a fresh Event"),
        ("import time\nstarted = time.monotonic()", "time.monotonic"),
        ("import time\nt = time.perf_counter()", "time.perf_counter"),
        ("import time\nassert time.time() - t < 2", "wall clock in an assert"),
        ("assert elapsed < 4.0", "assert on an elapsed time"),
        ("assert result.duration_ms >= 300", "assert on an elapsed time"),
        ("import time\nwhile time.time() < deadline:\n    pass", "busy-wait on the wall clock"),
        ("from datetime import datetime\nassert datetime.now() > moment", "wall clock in an assert"),
    ],
)
def test_each_use_of_the_wall_clock_is_found(source: str, rule: str) -> None:
    # Given a test's source using the wall clock, then the check names the rule it breaks
    assert rule in [found for _, found in wall_clock_uses(source)]


@pytest.mark.parametrize(
    "source",
    [
        "clock.advance(30)",
        "client = IntegrationClient(url, auth, clock=clock, sleep=clock.sleep)",
        "assert clock.slept == [1.0]",
        "import time\nexpires = int(time.time()) + 600",
        "assert waiting.wait(timeout=5)",
        "emu = Emulator(monotonic=clock)",
    ],
)
def test_an_injected_clock_and_a_timestamp_are_not_uses_of_the_wall_clock(source: str) -> None:
    # Given a test's source that advances a fake clock, injects it, or makes a timestamp, then nothing is found
    assert wall_clock_uses(source) == []
