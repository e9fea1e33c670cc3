"""Where a cold start's time goes: `python -m bench.importtime [FUNCTION] [--fallback] [--top N]`.

Runs one cold start of the function (default create_referral) exactly as `make bench` does (python3.13,
the built layer read-only; with the secrets extension unless --fallback; with --sqs, sync_catalog's
coalesced SQS batch of the bench's cold row instead of the API event), under `python -X importtime`,
and prints the slowest imports (self and cumulative time) in two parts: those the handler module's
import pulls in, and those its first request pulls in (urllib3, boto3 on the fallback path, ...). A
development aid for reading the benchmark; not part of `make bench`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import events
from bench.events import OPS
from bench.harness import CHILD_SOURCE, SIGNING_KEY, lambda_env, one_function, spec_files
from bench.infra import BenchError
from bench.run import CATALOG_BATCH


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
    parser.add_argument("--raw", metavar="FILE", help="also write `-X importtime`'s own lines there (the tree)")
    parser.add_argument("--sqs", action="store_true", help="sync_catalog's coalesced SQS batch (the bench's row)")
    args = parser.parse_args(argv)
    op = OPS["sync_catalog" if args.sqs else args.function]
    with one_function(op) as setup:

        def command(run: str) -> tuple[list[str], Path]:
            """The child's command line and result file, its event new (the table, as deployed, accepts each
            signature once and answers a message key it applied from its record)."""
            spec: dict[str, object] = {"mode": "relay", "module": op.folder, "function_name": op.function_name}
            if args.sqs:  # the cold row's batch (bench/run.py)
                spec.update(event=events.fresh_keys(events.catalog_batch(CATALOG_BATCH), run), sqs=True)
            else:
                spec["event"] = events.sign_api_event(events.load_event(op.folder, "api"), SIGNING_KEY)
            spec_path, result_path = spec_files(setup.workdir, {**spec, "expect": op.status})
            script = CHILD_SOURCE["cold"]
            return [
                str(setup.python),
                "-S",
                "-X",
                "importtime",
                "-c",
                script,
                str(spec_path),
                str(result_path),
            ], result_path

        env = lambda_env(setup, op, secret_arn=setup.fast_secret, extension=not args.fallback)
        warmup, _ = command("importtime-warmup")
        subprocess.run(warmup, env=env, cwd=setup.workdir, capture_output=True, timeout=120)  # warm the caches
        measured, result_path = command("importtime")
        proc = subprocess.run(
            measured,
            env=env,
            cwd=setup.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0 or not Path(result_path).exists():
            detail = json.loads(Path(result_path).read_text()).get("detail") if Path(result_path).exists() else ""
            other = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))
            raise BenchError(detail or other[-2000:])
    if args.raw:
        Path(args.raw).write_text(proc.stderr)
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
