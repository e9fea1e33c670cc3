"""Old layer against new, warm, in one harness: `python -m bench.ab FUNCTION... [--old REF] [--cpu]`.

A development aid (not part of `make bench`): the built layer twice, its `talon_relay` package taken
from REF (`git archive`, default main) and from the working tree, the children of both alternating
round by round (old then new, new then old) against one stand-in, moto and extension, as `make bench`
sets them up. Default: `child_warm`'s signed API case (a read's cache misses too), the Warm overhead
rows' figure "without DynamoDB" per round and the medians. `--cpu`: `child_cpu`, the relay's own CPU
per call with every answer recorded per request (host, method, path, body kind) and replayed at urllib3's
door (no I/O, no other process running between), which moves by a few microseconds where the warm rows
move by a hundred on a shared machine: every call checked as its spec says (`_cpu_spec`), with the door
calls and log bytes per call and each round's new-minus-old. `--trigger sqs`: one-record SQS events
instead of the signed API event.
The build is used as it is (`make build` first if the dependencies changed; the relay's own code of
both sides is the source, without bytecode: warm calls do not read it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import events, infra
from bench.events import OPS, Op
from bench.harness import API_KEY, SIGNING_KEY, Setup, lambda_env, prepare_sites, run_child, start, warm_cases
from bench.infra import log
from bench.run import _varied_segment, overhead_ns

PACKAGE = Path("layers/talon_relay/talon_relay")
#: child_cpu's replayed calls before the measured ones (the replay's own first-call costs: urllib3's response path)
CPU_REPLAY_WARMUP = 5


def _layer(base: Path, dest: Path, package: Path) -> Path:
    """A copy of the built layer with `package` as its talon_relay."""
    shutil.copytree(base, dest, symlinks=True)
    infra.writable_again(dest)
    shutil.rmtree(dest / "talon_relay")
    shutil.copytree(package, dest / "talon_relay", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _warm_spec(setup: Setup, op: Op, args: argparse.Namespace) -> dict[str, Any]:
    assert setup.standin is not None
    cases = [case for case in warm_cases(op) if case["name"] == "api"]
    if args.body_kb:
        event = events.with_body_kb(cases[0]["event"], args.body_kb)
        cases = [{**cases[0], "event": event, "raw": events.api_raw_request(op, event)}]
    varied = _varied_segment(cases[0]["event"]) if op.cached else None
    if varied is not None:
        cases.append({**cases[0], "name": "api_miss", "vary": varied[0], "vary_segment": varied[1]})
    return {
        "module": op.folder,
        "function_name": op.function_name,
        "url": setup.standin.fast_url,
        "api_key": API_KEY,
        "warmup": args.warmup,
        "calls": args.calls,
        "cases": cases,
    }


def _cpu_spec(setup: Setup, op: Op, args: argparse.Namespace, stdout_path: Path) -> dict[str, Any]:
    """child_cpu's spec: the trigger's events (the child gives each call its own ids) and what it checks."""
    assert setup.standin is not None
    talon = urlsplit(setup.standin.fast_url)
    if args.trigger == "sqs":
        events_ = [events.one_record(events.load_event(op.folder, "sqs"))]
        expect: dict[str, list[Any]] = {"batchItemFailures": [[]]}
    else:
        api = events.load_event(op.folder, "api")
        api = events.with_body_kb(api, args.body_kb) if args.body_kb else api
        now, count = time.time(), args.warmup + CPU_REPLAY_WARMUP + args.calls
        # each signed apart (a signature is accepted once), a tenth of a millisecond apart
        events_ = [events.sign_api_event(api, SIGNING_KEY, now - n / 1e4) for n in range(count)]
        expect = {"statusCode": [op.status]}
    return {
        "run": uuid.uuid4().hex[:12],
        "door": str(infra.BENCH / "door.py"),
        "talon_host": talon.hostname,
        "talon_port": talon.port,
        "module": op.folder,
        "function_name": op.function_name,
        "warmup": args.warmup,
        "replay_warmup": CPU_REPLAY_WARMUP,
        "calls": args.calls,
        "events": events_,
        "expect": expect,
        # every queued record and every uncached API call reaches Talon.One; a read's cache hit reaches none
        "talon_each_call": args.trigger == "sqs" or not op.cached,
        "stdout_path": str(stdout_path),
    }


def _cpu_rounds(op: Op, trigger: str, results: dict[str, list[dict[str, Any]]]) -> None:
    """Per side: the relay's own time per call (median of the rounds), the process's CPU time and the wall
    clock's, door apart; door calls and log bytes per call; each round's new minus old (the two children of
    one round ran back to back); and each side's fastest round (another process's work only adds to a round)."""
    figures = (
        ("cpu_without_door_p25_ns", "CPU time, lower quartile"),
        ("cpu_without_door_ns", "CPU time, median"),
        ("without_door_ns", "wall clock, median"),
    )
    unit = "record" if trigger == "sqs" else "call"
    for field, name in figures:
        figure = {side: [r[field] / 1e3 for r in results[side]] for side in ("old", "new")}
        pairs = [new - old for old, new in zip(figure["old"], figure["new"], strict=True)]
        print(
            f"{op.folder} {trigger}, relay {name} per {unit} (door apart): old {statistics.median(figure['old']):,.1f}"
            f" us, new {statistics.median(figure['new']):,.1f} us; new-old {statistics.median(pairs):+,.1f} us;"
            f" fastest rounds: old {min(figure['old']):,.1f} us, new {min(figure['new']):,.1f} us,"
            f" new-old {min(figure['new']) - min(figure['old']):+,.1f} us"
            f"  (rounds: old {[round(x, 1) for x in figure['old']]}, new {[round(x, 1) for x in figure['new']]},"
            f" new-old {[round(x, 1) for x in pairs]})"
        )
    for side in ("old", "new"):
        last = results[side][-1]
        calls = statistics.median(r["door_calls"] for r in results[side])
        log_bytes = statistics.median(r["log_bytes"] for r in results[side])
        door = statistics.median(r["door_cpu_ns"] / 1e3 for r in results[side])
        by_kind = ", ".join(f"{kind} {n:g}" for kind, n in last["door_calls_by_kind"].items())
        print(
            f"  {side}: {calls:g} door calls per {unit} ({door:,.1f} us CPU at the door), {log_bytes:,.0f} log bytes"
            f" per {unit}: {by_kind}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("functions", nargs="+", choices=sorted(OPS), metavar="FUNCTION")
    parser.add_argument("--old", default="main", help="the git ref of the old side (default main)")
    parser.add_argument("--rounds", type=int, default=6, help="children per side, alternating (default 6)")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cpu", action="store_true", help="the relay's own CPU, answers replayed at the door")
    parser.add_argument(
        "--trigger", choices=("api", "sqs"), default="api", help="the signed API event, or a one-record SQS event"
    )
    parser.add_argument("--body-kb", type=int, default=0, help="update_customer_session_v2's cart grown to KB")
    args = parser.parse_args(argv)
    if args.body_kb and args.functions != ["update_customer_session_v2"]:
        parser.error("--body-kb grows update_customer_session_v2's cart: name that function alone")
    if args.trigger == "sqs" and (args.body_kb or not args.cpu):
        parser.error("--trigger sqs measures with --cpu, without --body-kb (which grows the API event's cart)")
    ops = [OPS[name] for name in args.functions]
    if args.trigger == "sqs" and (unqueued := [op.folder for op in ops if not op.queued]):
        parser.error(f"--trigger sqs: {', '.join(unqueued)} has no queue (a GET's API trigger is all there is)")
    workdir = infra.scratch_dir()
    python = infra.runtime_python()
    sites, _ = prepare_sites(workdir, python, [op.folder for op in ops], "never")
    old_source = workdir / "old-source"
    old_source.mkdir()
    archive = subprocess.run(
        ["git", "archive", args.old, str(PACKAGE)], cwd=infra.ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(old_source)], input=archive.stdout, check=True)
    layers = {
        "old": _layer(sites.layer, workdir / "old" / "python", old_source / PACKAGE),
        "new": _layer(sites.layer, workdir / "new" / "python", infra.ROOT / PACKAGE),
    }
    setup = start(workdir, python, sites, 50.0)
    try:
        for op in ops:
            figures: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
            cpu: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
            log(f"{op.folder}: {args.rounds} rounds of {args.calls} calls per side, alternating")
            for round_ in range(args.rounds):
                for side in ("old", "new") if round_ % 2 == 0 else ("new", "old"):
                    env = lambda_env(setup, op, secret_arn=setup.fast_secret)
                    env["PYTHONPATH"] = env["PYTHONPATH"].replace(str(sites.layer), str(layers[side]))
                    if args.cpu:
                        # one hash seed per round, the same for both sides: a process's string hashes (its
                        # dicts' layout) move its CPU per call by up to a third, for the whole process
                        env["PYTHONHASHSEED"] = str(round_ + 1)
                        cpu[side].append(_run_cpu(setup, op, args, env))
                        continue
                    result, _ = run_child("warm", python, _warm_spec(setup, op, args), env, workdir, 600)
                    for name, case in result["cases"].items():
                        rest = overhead_ns(case) / 1e3
                        figures[side].setdefault(f"{name} (without DynamoDB)", []).append(rest)
            if cpu["old"]:
                _cpu_rounds(op, args.trigger, cpu)
            for name in figures["old"]:
                old, new = figures["old"][name], figures["new"][name]
                print(
                    f"{op.folder} {name}: old {statistics.median(old):+,.0f} us, new {statistics.median(new):+,.0f} us"
                    f"  (rounds: old {[round(x) for x in old]}, new {[round(x) for x in new]})"
                )
    finally:
        setup.close()
        sites.close()
        for layer in layers.values():
            infra.writable_again(layer)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _run_cpu(setup: Setup, op: Op, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """A child_cpu process, its stdout (the handler's logs) to a file it measures; its result.
    A call that failed its checks, a request without a recorded answer or one answered two ways fails the bench."""
    stdout_path = setup.workdir / f"{uuid.uuid4().hex}.stdout"
    spec_path, result_path = setup.workdir / f"{uuid.uuid4().hex}.json", setup.workdir / f"{uuid.uuid4().hex}.result"
    spec_path.write_text(json.dumps(_cpu_spec(setup, op, args, stdout_path)))
    source = (infra.BENCH / "child_cpu.py").read_text()
    try:
        with stdout_path.open("wb") as stdout:
            proc = subprocess.run(
                [str(setup.python), "-S", "-c", source, str(spec_path), str(result_path)],
                env=env,
                cwd=setup.workdir,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                timeout=600,
            )
    finally:
        stdout_path.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    if proc.returncode != 0:
        detail = result.get("detail") or proc.stderr.strip()[-2000:]
        raise infra.BenchError(f"cpu child ({op.folder}, {args.trigger}) failed: {detail}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
