"""What every measurement of `make bench` shares: the setup (stand-in, moto, extension), the Lambda
environment a function gets, and a child process run; run.py (the table) and the development aids
(publishing, importtime, profile) import it, and it imports none of them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import events, infra
from bench.events import OPS, Op
from bench.infra import REGION, BenchError, LocalAws, Sites, StandIn, log
from bench.placement import Placement
from local.extension import SecretsExtension
from local.template import load_template

API_KEY = "bench-api-key-0123456789abcdef"
SIGNING_KEY = "bench-caller-signing-key-0123456789"
SESSION_TOKEN = "bench-session-token"
CHILD_SOURCE = {
    kind: (infra.BENCH / f"child_{kind}.py").read_text() for kind in ("cold", "warm", "batch", "erasure", "putevents")
}
PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"


@dataclass
class Setup:
    """Everything the measurements share, torn down by `close`."""

    workdir: Path
    python: Path
    sites: Sites
    standin: StandIn | None = None
    aws: LocalAws | None = None
    extension: SecretsExtension | None = None
    fast_secret: str = ""
    slow_secret: str = ""
    rich_secret: str = ""
    many_secret: str = ""
    signing_secret: str = ""
    caller_keys_secret: str = ""
    #: the IdempotencyTable every function has as deployed (idempotency records and used signatures)
    table: str = ""
    queues: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: where the processes run (bench.placement); None: not placed
    placement: Placement | None = None

    def close(self) -> None:
        if self.standin is not None:
            self.standin.stop()
            self.standin = None
        if self.extension is not None:
            self.extension.stop()
            self.extension = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self.placement is not None:
            self.placement.restore()
            self.placement = None

    def run_child(self, kind: str, spec: dict[str, Any], env: dict[str, str], timeout: float = 600) -> tuple[Any, int]:
        return run_child(kind, self.python, spec, env, self.workdir, timeout)


def start(workdir: Path, python: Path, sites: Sites, delay_ms: float, *, place: bool = True) -> Setup:
    """The servers started (on CPUs of their own when `place` and the machine has two: bench.placement), and
    the resources every measurement uses created in them."""
    setup = Setup(workdir, python, sites, placement=Placement.plan() if place else None)
    try:
        with setup.placement.servers_starting() if setup.placement else nullcontext():
            setup.standin = StandIn.start(delay_ms)
            setup.aws = LocalAws.start()
            # ttl 0: every read reaches Secrets Manager, as the first read of a new environment's extension does
            setup.extension = SecretsExtension(setup.aws.url, token=SESSION_TOKEN, ttl=0, region=REGION)
            setup.extension.start()
        credentials = {"apiKey": API_KEY}
        setup.fast_secret = setup.aws.create_secret(
            "talon-relay/talon-one", {"baseUrl": setup.standin.fast_url, **credentials}
        )
        setup.slow_secret = setup.aws.create_secret(
            "talon-relay/talon-one-slow", {"baseUrl": setup.standin.slow_url, **credentials}
        )
        setup.rich_secret = setup.aws.create_secret(
            "talon-relay/talon-one-rich", {"baseUrl": setup.standin.rich_url, **credentials}
        )
        setup.many_secret = setup.aws.create_secret(
            "talon-relay/talon-one-many", {"baseUrl": setup.standin.many_url, **credentials}
        )
        setup.signing_secret = setup.aws.create_secret("talon-relay/caller-signing", {"current": SIGNING_KEY})
        setup.table = setup.aws.create_table("bench-relay")
        setup.caller_keys_secret = setup.aws.create_secret("talon-relay/caller-api-keys", {"current": API_KEY})
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
    """A clean environment: no developer AWS profile, no inherited PYTHON* variables, and no bytecode
    written anywhere (Lambda's /opt and /var/task are read-only)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def aws_env(setup: Setup) -> dict[str, str]:
    assert setup.aws is not None
    return {
        "AWS_ENDPOINT_URL": setup.aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def lambda_env(
    setup: Setup,
    op: Op,
    *,
    secret_arn: str,
    extension: bool = True,
    nopyc: bool = False,
    snapstart: bool = False,
    table: bool = True,
) -> dict[str, str]:
    """The function's environment as template.yaml gives it in Lambda (every default), pointed at local servers.

    sys.path as in Lambda: the function's folder (/var/task), the layer (/opt/python), the runtime's
    boto3. `extension`: the Parameters and Secrets extension's variables, as the template sets them
    when SecretsExtension is enabled (the port is the stand-in's). `snapstart`: initialised for a
    snapshot; a restored environment has no credentials in its environment (the SDK's chain finds them).
    `table`: IDEMPOTENCY_TABLE_NAME, which the template always sets (signatures recorded against replay,
    idempotency records); False only for rows that say they measure without it.
    """
    assert setup.extension is not None
    queue_url, dlq_url = setup.queues[op.folder]
    sites = setup.sites
    path = [sites.task / op.folder, sites.layer_nopyc if nopyc else sites.layer, sites.runtime]
    env = {
        **base_env(setup.workdir),
        **aws_env(setup),
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        "AWS_LAMBDA_FUNCTION_NAME": op.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "TALON_SECRET_ARN": secret_arn,
        "TALON_SECRET_MAX_AGE": "300",
        "POWERTOOLS_SERVICE_NAME": "talon-relay",
        "POWERTOOLS_METRICS_NAMESPACE": "TalonRelay",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # In Lambda tracer() is None: the layer ships no aws-xray-sdk; say so explicitly all the same.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "QUEUE_URL": queue_url,
        "DEAD_LETTER_QUEUE_URL": dlq_url,
        "CALLER_AUTH": "required",
        "CALLER_SIGNING_SECRET_ARN": setup.signing_secret,
        "CALLER_API_KEYS_SECRET_ARN": setup.caller_keys_secret,
        "CALLER_SIGNATURE_V1": "accepted",
        "IDEMPOTENCY_EXPIRY_SECONDS": "86400",
        "BATCH_CONCURRENCY": deployed_default("BatchConcurrency"),
        "QUEUE_RETRY_BASE_SECONDS": "30",
        "QUEUE_RETRY_MAX_SECONDS": "900",
    }
    if table:
        env["IDEMPOTENCY_TABLE_NAME"] = setup.table
    if extension:
        env[PORT_VARIABLE] = str(setup.extension.port)
        env["SECRETS_MANAGER_TTL"] = "300"
    if snapstart:
        # A restored environment has no credentials in its environment: the SDK's chain finds them
        # (in Lambda at a container endpoint; here in a shared credentials file).
        credentials = setup.workdir / "snapstart-credentials"
        credentials.write_text(
            f"[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
            f"aws_session_token = {SESSION_TOKEN}\n"
        )
        for name in ("AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.pop(name)
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    return env


@functools.cache
def deployed_default(parameter: str) -> str:
    """A template parameter's default (template.yaml): the bench runs what `make deploy` deploys."""
    return str(load_template(nested=False)["Parameters"][parameter]["Default"])


@contextmanager
def one_function(op: Op) -> Iterator[Setup]:
    """Everything `make bench` runs one function with (its built folder and the layer, read-only; the
    stand-in, moto, the extension), for the development aids (bench.importtime, bench.profile)."""
    workdir = infra.scratch_dir()
    python = infra.runtime_python()
    sites, _ = prepare_sites(workdir, python, [op.folder], "auto")
    setup = start(workdir, python, sites, 50.0)
    try:
        yield setup
    finally:
        setup.close()
        sites.close()
        shutil.rmtree(workdir, ignore_errors=True)


def spec_files(workdir: Path, spec: dict[str, Any]) -> tuple[Path, Path]:
    """A child's SPEC file, written, and the path of its RESULT file."""
    name = uuid.uuid4().hex
    spec_path, result_path = workdir / f"{name}.spec.json", workdir / f"{name}.result.json"
    spec_path.write_text(json.dumps(spec))
    return spec_path, result_path


def run_child(
    kind: str, python: Path, spec: dict[str, Any], env: dict[str, str], workdir: Path, timeout: float
) -> tuple[dict[str, Any], int]:
    """Run a child script in a fresh process; returns its result and the instant it was started."""
    stdout_path = None
    if spec.get("capture_stdout"):  # what the handler writes (logs, EMF metrics) to a file it can measure
        stdout_path = workdir / f"{uuid.uuid4().hex}.stdout"
        spec = {**spec, "stdout_path": str(stdout_path)}
    spec_path, result_path = spec_files(workdir, {**spec, "door": str(infra.BENCH / "door.py")})
    # -S: no site-packages of the interpreter; PYTHONPATH alone says what the child sees.
    command = [str(python), "-S", "-c", CHILD_SOURCE[kind], str(spec_path), str(result_path)]
    started = time.monotonic_ns()
    try:
        with open(stdout_path or os.devnull, "wb") as stdout:
            proc = subprocess.run(
                command, env=env, cwd=workdir, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout
            )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{kind} child ({spec.get('module') or spec.get('mode')}) ran over {timeout:.0f} s") from None
    finally:
        if stdout_path is not None and not spec.get("keep_stdout"):
            stdout_path.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    if proc.returncode != 0:
        detail = result.get("detail") or proc.stderr.strip()[-2000:]
        raise BenchError(f"{kind} child ({spec.get('module') or spec.get('mode')}) failed: {detail}")
    spec_path.unlink()
    result_path.unlink()
    return result, started


def warm_cases(op: Op) -> list[dict[str, Any]]:
    api_event = events.sign_api_event(events.load_event(op.folder, "api"), SIGNING_KEY)
    cases: list[dict[str, Any]] = [
        {
            "name": "api",
            "kind": "api",
            "event": api_event,
            "expect": op.status,
            "raw": events.api_raw_request(op, api_event),
            "signing_key": SIGNING_KEY,  # signed anew for each call: each signature is accepted once
        }
    ]
    if op.queued:  # a GET has no queue: its API trigger is all there is
        sqs_event = events.one_record(events.load_event(op.folder, "sqs"))
        cases.append({"name": "sqs", "kind": "sqs", "event": sqs_event, "raw": events.sqs_raw_request(op, sqs_event)})
    return cases


def ensure_build(ops: list[Op], build: str) -> str:
    """`make build` when asked or stale; returns a note on what the sizes are of."""
    stale = infra.build_staleness([op.folder for op in ops])
    if not infra.LAYER_BYTECODE.is_file():
        stale = stale or "the layer has no python3.13 bytecode"
    note = "sizes of a fresh `sam build`"
    if build == "always" or (build == "auto" and stale):
        if stale:
            log(f"build is stale: {stale}")
        try:
            infra.run_make_build()
        except (subprocess.SubprocessError, OSError) as exc:
            raise BenchError(f"`make build` failed ({exc})") from None
        stale = infra.build_staleness([op.folder for op in ops])
        if stale:
            note = f"sources changed during the build ({stale})"
    elif stale:
        note = f"a stale build ({stale}; --no-build)"
    return note


def prepare_sites(workdir: Path, python: Path, folders: list[str], build: str) -> tuple[Sites, str]:
    """The built layer and `folders`' functions as Lambda has them (read-only copies), and the size note.

    The build comes first: the runtime venv takes this machine's builds of the built layer's compiled
    packages, which a fresh clone only has once the layer is built.
    """
    size_note = ensure_build(list(OPS.values()), build)
    runtime = infra.ensure_runtime_venv(python)
    return Sites.create(workdir / "lambda", python, runtime, folders), size_note


def python_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return out.stdout.strip() or "unknown"
