"""The one table: rows, formatting, and bench/results.md with the machine and package versions."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
HEADERS = ("Measure", "Subject", "Median", "Baseline (same run)", "Ratio", "Target", "Result")


@dataclass(frozen=True)
class Row:
    measure: str
    subject: str
    median: str
    baseline: str
    ratio: str
    target: str
    result: str  # PASS, FAIL, info or n/a

    def cells(self) -> tuple[str, ...]:
        return (self.measure, self.subject, self.median, self.baseline, self.ratio, self.target, self.result)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ms(ns: float) -> str:
    value = ns / 1e6
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def ratio(value: float, base: float, digits: int = 2) -> str:
    return f"{value / base:.{digits}f}x" if base else "n/a"


def table(rows: list[Row]) -> str:
    """A Markdown table, padded so it also reads as a table on a terminal."""
    lines = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([fmt(HEADERS), rule, *(fmt(row.cells()) for row in rows)])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "layers", "functions", "template.yaml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (layer/functions with uncommitted changes)" if dirty else head


def versions(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


RELAY_PACKAGES = ("aws-lambda-powertools", "pydantic", "pydantic-core", "urllib3", "boto3", "botocore", "moto")


def write_results(
    rows: list[Row], *, sdk: dict[str, str], runtime_s: float, notes: list[str], python: str, placement: str
) -> str:
    """The table with its context, as written to bench/results.md; returns the text."""
    relay = versions(RELAY_PACKAGES)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "# talon-relay benchmark",
        "",
        f"- Date: {started}; `make bench` took {runtime_s:.0f} s",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python: CPython {python} for everything measured (relay, floors and SDK alike); harness on "
        f"{platform.python_implementation()} {platform.python_version()}",
        f"- Placement: {placement}",
        f"- Code: {git_revision()}",
        "- Relay packages: " + ", ".join(f"{k} {v}" for k, v in relay.items()),
        "- Baseline packages (bench/.venv-sdk): " + ", ".join(f"{k} {v}" for k, v in sdk.items()),
        "",
        table(rows),
        "",
        *(f"- {note}" for note in notes),
        "",
    ]
    text = "\n".join(header)
    RESULTS.write_text(text)
    return text
