"""`make bench`: cold start, warm overhead, batch throughput, memory and size, as one table.

Every figure is a median over repeated runs, measured side by side with its baseline in this run:
cold starts interleave the five functions, the official SDK and a bare urllib3 script round by round
(in shuffled order); warm calls alternate call by call with raw urllib3; a batch alternates with a
single-record invocation. Nothing here is a test (make test never runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import erasure, events, infra, report
from bench.events import OPS, Op
from bench.infra import BENCH, FUNCTIONS, LAYER, REGION, BenchError, LocalAws, Sites, StandIn, log
from bench.report import Row, ms, ratio, verdict

API_KEY = "bench-api-key-0123456789abcdef"
SIGNING_KEY = "bench-caller-signing-key-0123456789"
CHILD_SOURCE = {kind: (BENCH / f"child_{kind}.py").read_text() for kind in ("cold", "warm", "batch", "erasure")}
MB = 1_000_000  # sizes in decimal MB
RSS_LIMIT_MB = 90.0
LAYER_LIMIT_MB = 15.0


@dataclass
class Setup:
    """Everything the measurements share, torn down by `close`."""

    workdir: Path
    sites: Sites
    standin: StandIn | None = None
    aws: LocalAws | None = None
    fast_secret: str = ""
    slow_secret: str = ""
    signing_secret: str = ""
    queues: dict[str, tuple[str, str]] = field(default_factory=dict)

    def close(self) -> None:
        if self.standin is not None:
            self.standin.stop()
            self.standin = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None


def start(workdir: Path, delay_ms: float) -> Setup:
    setup = Setup(workdir, Sites.create(workdir / "sites"))
    try:
        setup.standin = StandIn.start(delay_ms)
        setup.aws = LocalAws.start()
        credentials = {"apiKey": API_KEY}
        setup.fast_secret = setup.aws.create_secret(
            "talon-relay/talon-one", {"baseUrl": setup.standin.fast_url, **credentials}
        )
        setup.slow_secret = setup.aws.create_secret(
            "talon-relay/talon-one-slow", {"baseUrl": setup.standin.slow_url, **credentials}
        )
        setup.signing_secret = setup.aws.create_secret("talon-relay/caller-signing", {"current": SIGNING_KEY})
        for folder in OPS:
            setup.queues[folder] = (
                setup.aws.create_queue(f"bench-{folder}"),
                setup.aws.create_queue(f"bench-{folder}-dlq"),
            )
    except BaseException:
        setup.close()
        raise
    return setup


def base_env(workdir: Path) -> dict[str, str]:
    """A clean environment: no developer AWS profile, no inherited PYTHON* variables."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir), "LANG": "C.UTF-8", "TZ": "UTC"}


def lambda_env(setup: Setup, op: Op, *, secret_arn: str, nopyc: bool = False) -> dict[str, str]:
    """The function's environment as template.yaml gives it in Lambda, pointed at local servers.

    sys.path as in Lambda: the function's folder, the layer, the runtime's boto3. With `nopyc`, the
    layer is a copy that never gets bytecode (Lambda's /opt is read-only and sam build ships none).
    """
    assert setup.aws is not None
    queue_url, dlq_url = setup.queues[op.folder]
    sites = setup.sites
    path = [FUNCTIONS / op.folder, *([sites.layer_nopyc] if nopyc else [LAYER, sites.layer]), sites.runtime]
    env = {
        **base_env(setup.workdir),
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        "AWS_ENDPOINT_URL": setup.aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": op.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "TALON_SECRET_ARN": secret_arn,
        "TALON_SECRET_MAX_AGE": "300",
        "POWERTOOLS_SERVICE_NAME": "talon-relay",
        "POWERTOOLS_METRICS_NAMESPACE": "TalonRelay",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # In Lambda tracer() is None: the layer ships no aws-xray-sdk. The project's venv has it (a
        # dev dependency), so say so explicitly to take the same path as Lambda.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "QUEUE_URL": queue_url,
        "DEAD_LETTER_QUEUE_URL": dlq_url,
        "CALLER_AUTH": "required",
        "CALLER_SIGNING_SECRET_ARN": setup.signing_secret,
    }
    if nopyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_child(
    kind: str, python: Path, spec: dict[str, Any], env: dict[str, str], workdir: Path, timeout: float
) -> tuple[dict[str, Any], int]:
    """Run a child script in a fresh process; returns its result and the instant it was started."""
    name = uuid.uuid4().hex
    spec_path, result_path = workdir / f"{name}.spec.json", workdir / f"{name}.result.json"
    spec_path.write_text(json.dumps(spec))
    # -S: no site-packages of the interpreter's venv; PYTHONPATH alone says what the child sees.
    command = [str(python), "-S", "-c", CHILD_SOURCE[kind], str(spec_path), str(result_path)]
    started = time.monotonic_ns()
    try:
        proc = subprocess.run(
            command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{kind} child ({spec.get('module') or spec.get('mode')}) ran over {timeout:.0f} s") from None
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    if proc.returncode != 0:
        detail = result.get("detail") or proc.stderr.strip()[-2000:]
        raise BenchError(f"{kind} child ({spec.get('module') or spec.get('mode')}) failed: {detail}")
    spec_path.unlink()
    result_path.unlink()
    return result, started


# --- 1 and 4: cold start and peak RSS --------------------------------------------------------------


@dataclass
class ColdTarget:
    name: str
    python: Path
    env: dict[str, str]
    spec: dict[str, Any]
    signed: bool = False
    samples: list[dict[str, float]] = field(default_factory=list)

    def run_once(self, workdir: Path) -> dict[str, float]:
        spec = dict(self.spec)
        if self.signed:
            spec["event"] = events.sign_api_event(spec["event"], SIGNING_KEY)
        result, started = run_child("cold", self.python, spec, self.env, workdir, timeout=120)
        return {
            "total": result["t_done"] - started,
            "start": result["t_main"] - started,
            "import": result["t_imported"] - result["t_main"],
            "call": result["t_done"] - result["t_imported"],
            "rss_mb": result["maxrss_kb"] / 1024,
            "rss_import_mb": result["rss_import_kb"] / 1024,
        }

    def median(self, key: str) -> float:
        return statistics.median(sample[key] for sample in self.samples)


def cold_targets(setup: Setup, sdk_python: Path, ops: list[Op], nopyc: bool) -> list[ColdTarget]:
    assert setup.standin is not None
    referral_body = json.loads(events.load_event("create_referral", "api")["body"])
    common = {"url": setup.standin.fast_url, "api_key": API_KEY, "body": referral_body, "expect": 201}
    sdk_env = {**base_env(setup.workdir), "PYTHONPATH": str(infra.sdk_site_packages())}
    floor_env = {**base_env(setup.workdir), "PYTHONPATH": str(setup.sites.layer)}  # urllib3 only is used
    targets = [
        ColdTarget("sdk", sdk_python, sdk_env, {"mode": "sdk", **common}),
        ColdTarget("floor", Path(sys.executable), floor_env, {"mode": "floor", **common}),
    ]
    for op in ops:
        spec = {
            "mode": "relay",
            "module": op.folder,
            "function_name": op.function_name,
            "event": events.load_event(op.folder, "api"),
            "expect": op.status,
        }
        env = lambda_env(setup, op, secret_arn=setup.fast_secret)
        targets.append(ColdTarget(op.folder, Path(sys.executable), env, spec, signed=True))
        if nopyc and op.folder == "create_referral":
            env = lambda_env(setup, op, secret_arn=setup.fast_secret, nopyc=True)
            targets.append(ColdTarget(op.folder + ":nopyc", Path(sys.executable), env, spec, signed=True))
    return targets


def measure_cold(targets: list[ColdTarget], reps: int, workdir: Path, seed: int) -> None:
    log(f"cold start: {len(targets)} targets x {reps} runs, interleaved (after one discarded warm-up run each)")
    for target in targets:
        target.run_once(workdir)  # bytecode caches and the page cache warm, as for every later run
    for rep in range(reps):
        order = list(targets)
        random.Random(seed + rep).shuffle(order)
        for target in order:
            target.samples.append(target.run_once(workdir))


def cold_rows(targets: list[ColdTarget], ops: list[Op]) -> tuple[list[Row], list[Row]]:
    by_name = {target.name: target for target in targets}
    sdk, floor = by_name["sdk"], by_name["floor"]
    sdk_ns, floor_ns = sdk.median("total"), floor.median("total")
    baseline = f"SDK {ms(sdk_ns)} · urllib3 floor {ms(floor_ns)}"
    memory: list[Row] = []

    def detail(target: ColdTarget) -> str:
        return (
            f"{ms(target.median('total'))} (start {ms(target.median('start'))}, import {ms(target.median('import'))}, "
            f"1st call {ms(target.median('call'))})"
        )

    cold = [
        Row("Cold start", "baseline: talon-one-sdk create_referral", detail(sdk), "", "", "", "baseline"),
        Row("Cold start", "baseline: bare urllib3 POST /v1/referrals", detail(floor), "", "", "", "baseline"),
    ]

    def cold_row(target: ColdTarget, subject: str, with_target: bool) -> Row:
        total = target.median("total")
        ok = total <= 0.2 * sdk_ns and total <= 2 * floor_ns
        return Row(
            "Cold start",
            subject,
            detail(target),
            baseline,
            f"{ratio(total, sdk_ns)} SDK · {ratio(total, floor_ns)} floor",
            "≤ 0.2x SDK and ≤ 2x floor" if with_target else "(as deployed: info)",
            verdict(ok) if with_target else "info",
        )

    rss_baseline = f"SDK {sdk.median('rss_mb'):.1f} MB · urllib3 floor {floor.median('rss_mb'):.1f} MB"
    for op in ops:
        target = by_name[op.folder]
        cold.append(cold_row(target, f"{op.folder} (API event)", True))
        rss = target.median("rss_mb")
        memory.append(
            Row(
                "Peak RSS",
                f"{op.folder} (cold, after 1st call)",
                f"{rss:.1f} MB ({target.median('rss_import_mb'):.1f} MB after import)",
                rss_baseline,
                f"{ratio(rss, sdk.median('rss_mb'))} SDK · {ratio(rss, floor.median('rss_mb'))} floor",
                f"< {RSS_LIMIT_MB:.0f} MB",
                verdict(rss < RSS_LIMIT_MB),
            )
        )
        nopyc = by_name.get(op.folder + ":nopyc")
        if nopyc is not None:
            cold.append(cold_row(nopyc, f"{op.folder}, layer without .pyc (read-only /opt)", False))
    return cold, memory


# --- 2: warm overhead ----------------------------------------------------------------------------


def measure_warm(setup: Setup, ops: list[Op], warmup: int, calls: int) -> list[Row]:
    assert setup.standin is not None
    rows: list[Row] = []
    for op in ops:
        log(f"warm overhead: {op.folder} ({warmup} warm-up + {calls} calls per trigger, alternating with urllib3)")
        api_event = events.sign_api_event(events.load_event(op.folder, "api"), SIGNING_KEY)
        sqs_event = events.one_record(events.load_event(op.folder, "sqs"))
        spec = {
            "module": op.folder,
            "function_name": op.function_name,
            "url": setup.standin.fast_url,
            "api_key": API_KEY,
            "warmup": warmup,
            "calls": calls,
            "cases": [
                {
                    "name": "api",
                    "kind": "api",
                    "event": api_event,
                    "expect": op.status,
                    "raw": events.api_raw_request(op, api_event),
                },
                {"name": "sqs", "kind": "sqs", "event": sqs_event, "raw": events.sqs_raw_request(op, sqs_event)},
            ],
        }
        env = lambda_env(setup, op, secret_arn=setup.fast_secret)
        result, _ = run_child("warm", Path(sys.executable), spec, env, setup.workdir, timeout=600)
        for name, label in (("api", "API event"), ("sqs", "SQS, 1 record")):
            case = result["cases"][name]
            handler, raw = case["handler_ns"], case["raw_ns"]
            extra = handler - raw
            ok = handler <= 1.3 * raw or extra < 0.5e6
            rows.append(
                Row(
                    "Warm overhead",
                    f"{op.folder} ({label})",
                    f"{ms(handler)} per call (+{extra / 1e6:.2f} ms)",
                    f"raw urllib3 {ms(raw)}",
                    ratio(handler, raw),
                    "≤ 1.3x or < 0.5 ms extra",
                    verdict(ok),
                )
            )
    return rows


# --- 3: batch throughput -------------------------------------------------------------------------


def measure_batch(setup: Setup, reps: int, big_reps: int, delay_ms: float) -> list[Row]:
    op = OPS["update_customer_session"]
    batches = events.session_batches(100, 10)
    single = {"Records": batches[0]["Records"][:1]}
    log(f"batch throughput: {op.folder}, stand-in answering after {delay_ms:.0f} ms ({reps} + {big_reps} rounds)")
    spec = {
        "module": op.folder,
        "function_name": op.function_name,
        "single": single,
        "batches": batches,
        "warmup": 2,
        "reps": reps,
        "big_reps": big_reps,
    }
    env = lambda_env(setup, op, secret_arn=setup.slow_secret)
    result, _ = run_child("batch", Path(sys.executable), spec, env, setup.workdir, timeout=600)
    single_ns, batch_ns, all_ns = result["single_ns"], result["batch_ns"], result["all_ns"]
    size, records, invocations = result["batch_size"], result["records"], result["invocations"]
    per_second = records / (all_ns / 1e9)
    return [
        Row(
            "Batch",
            f"{op.folder} SQS FIFO, {size} records / {size} groups",
            ms(batch_ns),
            f"1 record {ms(single_ns)}",
            ratio(batch_ns, single_ns),
            f"≤ 2x one call ({delay_ms:.0f} ms stand-in)",
            verdict(batch_ns <= 2 * single_ns),
        ),
        Row(
            "Batch",
            f"{records} records in {invocations} invocations",
            f"{ms(all_ns)} ({per_second:.0f} records/s)",
            f"{records} x 1 record {ms(records * single_ns)}",
            ratio(all_ns, records * single_ns),
            "",
            "info",
        ),
    ]


def measure_erasure(setup: Setup, count: int, delay_ms: float) -> list[Row]:
    assert setup.aws is not None
    op = OPS["delete_customer_data"]
    log(f"erasure run: {count:,} queued erasures, one scheduled run, stand-in answering after {delay_ms:.0f} ms")
    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=setup.aws.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    row = erasure.measure(
        sqs=sqs,
        queue_url=setup.queues[op.folder][0],
        env=lambda_env(setup, op, secret_arn=setup.slow_secret),
        count=count,
        delay_ms=delay_ms,
        run_child=run_child,
        workdir=setup.workdir,
    )
    return [row]


# --- 5: size -------------------------------------------------------------------------------------


def measure_size(ops: list[Op], workdir: Path, build: str) -> tuple[list[Row], str]:
    """Zip sizes of the built layer and functions; `build` is "auto", "always" or "never"."""
    stale = infra.build_staleness([op.folder for op in ops])
    note = "sizes of a fresh `sam build`"
    if build == "always" or (build == "auto" and stale):
        if stale:
            log(f"build is stale: {stale}")
        try:
            infra.run_make_build()
        except (subprocess.SubprocessError, OSError) as exc:
            note = f"`make build` failed ({exc}); sizes are of the previous build"
        stale = infra.build_staleness([op.folder for op in ops])
        if stale and "failed" not in note:
            note = f"sources changed during the build ({stale})"
    elif stale:
        note = f"sizes of a stale build ({stale}; --no-build)"
    layer_dir = infra.BUILD / "TalonRelayLayer"
    if not layer_dir.is_dir():
        return [Row("Size", "layer zip", "n/a", "", "", f"< {LAYER_LIMIT_MB:.0f} MB", "n/a")], note
    sizes = workdir / "zips"
    sizes.mkdir()
    layer = infra.zip_size(layer_dir, sizes)
    sdk = infra.zip_size(infra.sdk_site_packages(), sizes, ignore=infra.SDK_ZIP_IGNORE)
    rows = [
        Row(
            "Size",
            "layer zip (.aws-sam/build/TalonRelayLayer)",
            f"{layer / MB:.2f} MB",
            f"talon-one-sdk + deps zip {sdk / MB:.2f} MB",
            ratio(layer, sdk),
            f"< {LAYER_LIMIT_MB:.0f} MB",
            verdict(layer / MB < LAYER_LIMIT_MB),
        )
    ]
    function_sizes = []
    for op in ops:
        directory = infra.function_build_dir(op.folder)
        function_sizes.append(f"{infra.zip_size(directory, sizes) / 1000:.1f}" if directory.is_dir() else "n/a")
    rows.append(
        Row(
            "Size",
            "function zips, each",
            " / ".join(function_sizes) + " kB (in the order above)",
            f"layer {layer / MB:.2f} MB",
            "",
            "",
            "info",
        )
    )
    return rows, note


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--reps", type=int, default=7, help="cold-start runs per function and baseline")
    parser.add_argument("--warm-calls", type=int, default=300, help="measured warm calls per handler and trigger")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up calls before measuring")
    parser.add_argument("--batch-reps", type=int, default=7, help="batch / single invocation pairs")
    parser.add_argument("--big-reps", type=int, default=3, help="rounds of 100 records in 10 invocations")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="the slow stand-in's answer delay")
    parser.add_argument("--erasures", type=int, default=10_000, help="queued erasures one run drains (0: skip)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the cold-start run order")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--build", dest="build", action="store_const", const="always", help="always run make build")
    group.add_argument("--no-build", dest="build", action="store_const", const="never", help="never run make build")
    parser.set_defaults(build="auto")
    parser.add_argument("--no-nopyc", action="store_true", help="skip the cold start without .pyc (info row)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    for name in ("reps", "warm_calls", "warmup", "batch_reps", "big_reps"):
        if not 1 <= getattr(args, name) <= 10_000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 10000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    ops = list(OPS.values())
    workdir = infra.scratch_dir()
    try:
        sdk_python = infra.ensure_sdk_venv()
        size_rows, size_note = measure_size(ops, workdir, args.build)
        setup = start(workdir, args.delay_ms)
        try:
            targets = cold_targets(setup, sdk_python, ops, not args.no_nopyc)
            measure_cold(targets, args.reps, workdir, args.seed)
            warm = measure_warm(setup, ops, args.warmup, args.warm_calls)
            batch = measure_batch(setup, args.batch_reps, args.big_reps, args.delay_ms)
            erasures = measure_erasure(setup, args.erasures, args.delay_ms) if args.erasures else []
        finally:
            setup.close()
        cold, memory = cold_rows(targets, ops)
        sdk_versions = infra.sdk_versions()
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [*cold, *warm, *batch, *erasures, *memory, *size_rows]
    notes = [
        f"Medians: cold start and RSS over {args.reps} fresh processes per subject (interleaved, shuffled "
        f"each round, after one discarded run); warm over {args.warm_calls} calls after {args.warmup} "
        f"(alternating with raw urllib3); batch over {args.batch_reps} pairs and {args.big_reps} rounds.",
        "Cold start: from just before the process is spawned to the first answer in hand (CLOCK_MONOTONIC); "
        "start = interpreter up to the script's first line, import = handler module (or talon_one / urllib3), "
        "1st call = the first request end to end (the relay: settings, boto3 + Secrets Manager in moto, "
        "the call). Bytecode caches are warm, except in the 'without .pyc' row.",
        "Relay environment as template.yaml sets it (logs and metrics on, INFO), AWS calls to moto, "
        "API events signed by the caller scheme; tracing off as in Lambda (the layer has no aws-xray-sdk), "
        "no idempotency table. Handler stdout goes to /dev/null.",
        "Baselines: talon-one-sdk IntegrationApi.create_referral and a bare urllib3 POST /v1/referrals, "
        "same stand-in, same interpreter; raw urllib3 = one keep-alive PoolManager in the handler's process.",
        f"Size: {size_note}; MB = 10^6 bytes. The SDK zip is its installed site-packages (x86_64), the layer "
        "is built for arm64 / python3.13.",
    ]
    report.write_results(rows, sdk=sdk_versions, runtime_s=time.monotonic() - began, notes=notes)
    print(report.table(rows))
    print(f"\n(written to {report.RESULTS.relative_to(report.ROOT)}; {time.monotonic() - began:.0f} s)")
    failed = any(row.result == "FAIL" for row in rows)
    return 1 if failed and args.strict else 0
