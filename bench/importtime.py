"""Where a cold start's time goes: `python -m bench.importtime [FUNCTION] [--fallback] [--top N]`.

Runs one cold start of the function (default create_referral) exactly as `make bench` does (python3.13,
the built layer read-only; with the secrets extension unless --fallback), under `python -X importtime`,
and prints the slowest imports (self and cumulative time) in two parts: those the handler module's
import pulls in, and those its first request pulls in (urllib3, boto3 on the fallback path, ...). A
development aid for reading the benchmark; not part of `make bench`.
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import events
from bench.events import OPS
from bench.harness import CHILD_SOURCE, SIGNING_KEY, lambda_env, one_function, spec_files
from bench.infra import BenchError


@dataclass
class Entry:
    name: str
    depth: int
    self_us: int
    cumulative_us: int


def parse(stderr: str) -> list[Entry]:
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        out.append(Entry(name.strip(), depth, int(self_us), int(cumulative_us)))
    return out


def by_package(entries: list[Entry]) -> dict[str, int]:
    """Self microseconds summed per top-level package."""
    groups: dict[str, int] = {}
    for entry in entries:
        root = entry.name.split(".", 1)[0]
        groups[root] = groups.get(root, 0) + entry.self_us
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.importtime", description=__doc__)
    parser.add_argument("function", nargs="?", default="create_referral", choices=sorted(OPS))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--fallback", action="store_true", help="without the secrets extension (boto3)")
    args = parser.parse_args(argv)
    op = OPS[args.function]
    with one_function(op) as setup:
        spec = {
            "mode": "relay",
            "module": op.folder,
            "function_name": op.function_name,
            "event": events.sign_api_event(events.load_event(op.folder, "api"), SIGNING_KEY),
            "expect": op.status,
        }
        env = lambda_env(setup, op, secret_arn=setup.fast_secret, extension=not args.fallback)
        spec_path, result_path = spec_files(setup.workdir, spec)
        script = CHILD_SOURCE["cold"]
        command = [str(setup.python), "-S", "-X", "importtime", "-c", script, str(spec_path), str(result_path)]
        subprocess.run(command, env=env, cwd=setup.workdir, capture_output=True, timeout=120)  # warm the caches
        proc = subprocess.run(
            command,
            env=env,
            cwd=setup.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0 or not Path(result_path).exists():
            raise BenchError(proc.stderr[-2000:])
    entries = parse(proc.stderr)
    handler_index = next(i for i, e in enumerate(entries) if e.name == op.folder and e.depth == 0)
    script_index = max((i for i, e in enumerate(entries[:handler_index]) if e.name == "site"), default=-1)
    phases = {
        f"import {op.folder}": entries[script_index + 1 : handler_index + 1],
        "first request": entries[handler_index + 1 :],
    }
    for title, phase in phases.items():
        print(f"\n== {title}: {sum(e.self_us for e in phase) / 1000:.0f} ms importing {len(phase)} modules")
        print("  by top-level package (ms):")
        for root, us in sorted(by_package(phase).items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"    {us / 1000:8.1f}  {root}")
        print("  slowest modules, self time (ms):")
        for e in sorted(phase, key=lambda e: -e.self_us)[: args.top]:
            print(f"    {e.self_us / 1000:8.1f}  {e.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
