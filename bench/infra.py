"""What the measurements run against: the stand-in, moto, the SDK's venv, the SAM build, zips."""

from __future__ import annotations

import filecmp
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
LAYER = ROOT / "layers" / "talon_relay"
FUNCTIONS = ROOT / "functions"
BUILD = ROOT / ".aws-sam" / "build"
SDK_VENV = BENCH / ".venv-sdk"
#: The official SDK, pinned so runs compare; installed only into SDK_VENV.
SDK_REQUIREMENT = "talon-one-sdk==26.2"
SDK_VERSION = SDK_REQUIREMENT.split("==", 1)[1]
#: What the Lambda python3.13 runtime offers besides the layer: boto3 (at the version the project
#: tests with) and the SnapStart hooks library. A python3.13 venv; its site-packages is the runtime's.
RUNTIME_VENV = BENCH / ".venv-runtime"
RUNTIME_HOOKS_REQUIREMENT = "snapshot-restore-py==1.0.0"
#: This machine's builds of the layer's compiled packages, when the machine is not arm64 (the layer is).
NATIVE_DIR = RUNTIME_VENV / "native"
LAYER_BUILD = BUILD / "TalonRelayLayer" / "python"
#: Bytecode only the python3.13 build writes (make build finds a python3.13, or the layer has none).
LAYER_BYTECODE = LAYER_BUILD / "talon_relay" / "__pycache__" / "__init__.cpython-313.pyc"
REGION = "us-east-1"


class BenchError(RuntimeError):
    """The benchmark cannot measure what it should; the message says what to fix."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the Talon.One stand-in (own process) --------------------------------------------------------


@dataclass
class StandIn:
    process: subprocess.Popen[str]
    fast_url: str
    slow_url: str
    #: answers with three effects instead of one
    rich_url: str
    #: answers with standin.MANY_EFFECTS effects
    many_url: str

    @classmethod
    def start(cls, delay_ms: float) -> StandIn:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.standin", "--delay-ms", str(delay_ms)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()  # the stand-in prints its ports first, then nothing more
        if not line:
            process.kill()
            process.wait(timeout=10)
            raise BenchError("the Talon.One stand-in did not start")
        ports = json.loads(line)
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        return cls(process, urls["fast"], urls["slow"], urls["rich"], urls["many"])

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the stand-in shuts down when its stdin closes
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# --- local AWS (moto server, in this process) -----------------------------------------------------


@dataclass
class LocalAws:
    server: Any
    url: str
    secrets: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls) -> LocalAws:
        from local.aws import start_moto

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on the terminal
        server, url = start_moto()
        return cls(server, url)

    def create_secret(self, name: str, value: dict[str, Any]) -> str:
        from local.aws import local_client

        client = local_client("secretsmanager", self.url)
        arn = str(client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])
        self.secrets[name] = arn
        return arn

    def create_queue(self, name: str) -> str:
        from local.aws import local_client

        client = local_client("sqs", self.url)
        url = str(client.create_queue(QueueName=name)["QueueUrl"])
        self.queues[name] = url
        return url

    def create_table(self, name: str) -> str:
        """A table shaped like the template's IdempotencyTable (key `id`, on demand)."""
        from local.aws import create_relay_table, local_client

        return create_relay_table(local_client("dynamodb", self.url), name)

    def table_items(self, name: str) -> list[dict[str, Any]]:
        from local.aws import local_client

        client = local_client("dynamodb", self.url)
        return list(client.scan(TableName=name)["Items"])

    def stop(self) -> None:
        self.server.stop()


#: DynamoDB actions that write, as moto's handler names them.
WRITE_ACTIONS = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")


class DynamoWrites:
    """Counts the DynamoDB write requests moto serves in this process (the bench's moto is in-process)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(WRITE_ACTIONS, 0)
        self._originals: dict[str, Any] = {}

    def __enter__(self) -> DynamoWrites:
        from moto.dynamodb.responses import DynamoHandler

        for action in WRITE_ACTIONS:
            original = getattr(DynamoHandler, action)
            self._originals[action] = original

            def counted(handler: Any, _original: Any = original, _action: str = action) -> Any:
                self.counts[_action] += 1
                return _original(handler)

            setattr(DynamoHandler, action, counted)
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.dynamodb.responses import DynamoHandler

        for action, original in self._originals.items():
            setattr(DynamoHandler, action, original)


#: The header the warm child puts on each DynamoDB request: which of its cases made it (DynamoUnits).
CASE_HEADER = "x-bench-case"
#: DynamoDB's billing: a write unit per started KB of the item (the larger of before and after), a
#: strongly consistent read unit per started 4 KB of the item (half that eventually consistent).
WRITE_UNIT_BYTES, READ_UNIT_BYTES = 1024, 4096


class DynamoUnits:
    """The DynamoDB request units the requests moto serves in this process cost, by the item sizes moto
    holds (moto's own ConsumedCapacity is a constant), per case (the warm child's CASE_HEADER)."""

    ACTIONS = ("put_item", "update_item", "delete_item", "get_item")

    def __init__(self) -> None:
        #: case -> {"write": units, "read": units}
        self.units: dict[str, dict[str, float]] = {}
        self._originals: dict[str, Any] = {}

    def _size(self, handler: Any) -> int:
        try:
            item = handler.dynamodb_backend.get_item(handler.body["TableName"], handler.body["Key"])
        except Exception:  # no such table or key: nothing there
            return 0
        return int(item.size()) if item is not None else 0

    def _count(self, handler: Any, action: str, before: int) -> None:
        case = str(handler.headers.get(CASE_HEADER) or "")
        totals = self.units.setdefault(case, {"write": 0.0, "read": 0.0})
        if action == "get_item":
            full = math.ceil(max(before, 1) / READ_UNIT_BYTES)
            totals["read"] += full if handler.body.get("ConsistentRead") else full / 2
        else:
            totals["write"] += math.ceil(max(before, self._size(handler), 1) / WRITE_UNIT_BYTES)

    def __enter__(self) -> DynamoUnits:
        from moto.dynamodb.responses import DynamoHandler

        for action in self.ACTIONS:
            original = getattr(DynamoHandler, action)
            self._originals[action] = original

            def counted(handler: Any, _original: Any = original, _action: str = action) -> Any:
                put = "Key" not in handler.body and "Item" in handler.body  # PutItem: the key is in its item
                key = {"id": handler.body["Item"]["id"]} if put else handler.body.get("Key")
                probe = type("Probe", (), {"dynamodb_backend": handler.dynamodb_backend, "headers": handler.headers})()
                probe.body = {**handler.body, "Key": key}
                before = self._size(probe)
                try:
                    return _original(handler)
                finally:  # a write whose condition failed is billed too
                    self._count(probe, _action, before)

            setattr(DynamoHandler, action, counted)
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.dynamodb.responses import DynamoHandler

        for action, original in self._originals.items():
            setattr(DynamoHandler, action, original)


# --- the official SDK's venv ----------------------------------------------------------------------


def runtime_python() -> Path:
    """The python3.13 that runs every measured process (LAYER_PYTHON, PATH or pyenv, as `make build`)."""
    found = (
        os.environ.get("LAYER_PYTHON")
        or subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(LAYER), "python"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )
    if not found:
        raise BenchError(
            "make bench measures on python3.13, the functions' runtime, and found none: install it "
            "(e.g. pyenv install 3.13) or set LAYER_PYTHON=/path/to/python3.13"
        )
    return Path(found)


def _python_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def _venv(path: Path, python: Path, requirements: list[str], check: str) -> Path:
    """A venv of `python` at `path` holding `requirements` (made, or remade for another Python, once)."""
    venv_python = path / "bin" / "python"
    wanted = _python_version(python)
    ok = [str(venv_python), "-c", check]
    current = venv_python.exists() and _python_version(venv_python) == wanted
    if current and subprocess.run(ok, capture_output=True, timeout=60).returncode == 0:
        return venv_python
    log(f"creating {path.relative_to(ROOT)} (python {wanted}) with {' '.join(requirements)} (once)")
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([str(python), "-m", "venv", str(path)], check=True, timeout=300)
    subprocess.run(
        [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
        timeout=900,
    )
    if subprocess.run(ok, capture_output=True, timeout=60).returncode != 0:
        raise BenchError(f"{' '.join(requirements)} did not install into {path}")
    return venv_python


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise BenchError(f"no site-packages in {venv}")
    return found[0]


def sdk_python() -> Path:
    return SDK_VENV / "bin" / "python"


def ensure_sdk_venv(python: Path) -> Path:
    """bench/.venv-sdk with talon-one-sdk on the runtime's Python (the project's venv never gets it)."""
    check = f"import importlib.metadata as m; assert m.version('talon-one-sdk') == '{SDK_VERSION}'"
    return _venv(SDK_VENV, python, [SDK_REQUIREMENT], check)


def layer_native_packages() -> dict[str, str]:
    """The built layer's packages with compiled extensions, {distribution: version}."""
    found: dict[str, str] = {}
    for info in LAYER_BUILD.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        top = LAYER_BUILD / name
        if top.is_dir() and any(top.rglob("*.so")):
            found[name.replace("_", "-")] = version
    return found


def ensure_runtime_venv(python: Path) -> Path:
    """bench/.venv-runtime: boto3 and the SnapStart hooks library as the runtime has them; and, on a
    machine that is not arm64, this machine's builds of the layer's compiled packages (NATIVE_DIR)."""
    boto3_version = metadata.version("boto3")
    check = (
        f"import importlib.metadata as m; assert m.version('boto3') == '{boto3_version}'; import snapshot_restore_py"
    )
    venv_python = _venv(RUNTIME_VENV, python, [f"boto3=={boto3_version}", RUNTIME_HOOKS_REQUIREMENT], check)
    if platform.machine() not in ("aarch64", "arm64"):
        for name, version in layer_native_packages().items():
            marker = NATIVE_DIR / f"{name.replace('-', '_')}-{version}.dist-info"
            if not marker.is_dir():
                log(f"installing this machine's build of {name}=={version} for the layer copy (once)")
                subprocess.run(
                    [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     "--no-deps", "--target", str(NATIVE_DIR), f"{name}=={version}"],
                    check=True,
                    timeout=600,
                )  # fmt: skip
    return site_packages(RUNTIME_VENV)


def sdk_versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({n: m.version(n) for n in ('talon-one-sdk', 'pydantic', 'pydantic-core', 'urllib3')}))"
    )
    out = subprocess.run([str(sdk_python()), "-c", code], capture_output=True, text=True, timeout=60, check=True)
    versions: dict[str, str] = json.loads(out.stdout)
    return versions


# --- SAM build and sizes --------------------------------------------------------------------------


def function_build_dir(folder: str) -> Path:
    """functions/create_referral -> .aws-sam/build/CreateReferralFunction (the template's naming)."""
    return BUILD / ("".join(part.capitalize() for part in folder.split("_")) + "Function")


def tree_difference(source: Path, built: Path) -> str | None:
    """The first way `built` differs from `source` (every file but caches, byte for byte), or None.

    The layer's and functions' Makefiles copy their sources whole (tests/template/test_build.py checks
    that they drop nothing but __pycache__), so any difference is a source changed since the build.
    """
    if not built.is_dir():
        return f"no {built.name} in the build"
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    have = {p.relative_to(built) for p in built.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    for missing in sorted(wanted - have):
        return f"{missing} is not in the build"
    for extra in sorted(have - wanted):
        return f"{extra} is in the build only"
    for rel in sorted(wanted):
        if not filecmp.cmp(source / rel, built / rel, shallow=False):
            return f"{rel} changed"
    return None


def build_staleness(folders: list[str]) -> str | None:
    """Why .aws-sam/build does not match the sources (None when it does)."""
    layer_build = BUILD / "TalonRelayLayer" / "python"
    if not layer_build.is_dir():
        return "no .aws-sam/build"
    difference = tree_difference(LAYER / "talon_relay", layer_build / "talon_relay")
    if difference:
        return f"the layer's talon_relay differs from the last build ({difference})"
    installed = {p.name.lower() for p in layer_build.glob("*.dist-info")}
    for line in (LAYER / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" not in requirement:
            continue
        name, version = (part.strip() for part in requirement.split("==", 1))
        name = name.split("[", 1)[0].replace("-", "_").lower()
        if f"{name}-{version}.dist-info" not in installed:
            return f"the layer's requirements.txt changed since the last build ({requirement})"
    for folder in folders:
        difference = tree_difference(FUNCTIONS / folder, function_build_dir(folder))
        if difference:
            return f"functions/{folder} differs from the last build ({difference})"
    return None


def run_make_build() -> None:
    log("make build (sam build of the layer and the five functions)")
    subprocess.run(["make", "build"], cwd=ROOT, check=True, timeout=1200, stdout=sys.stderr)


def zip_size(directory: Path, workdir: Path, ignore: Any = None) -> int:
    """Bytes of `directory` zipped (deflate), as Lambda receives a layer or a function."""
    source = directory
    if ignore is not None:
        source = workdir / (directory.name + "-copy")
        shutil.copytree(directory, source, ignore=ignore)
    archive = shutil.make_archive(str(workdir / directory.name), "zip", root_dir=source)
    return os.path.getsize(archive)


def sdk_site_packages() -> Path:
    return site_packages(SDK_VENV)


#: Not part of what an SDK-based layer would ship.
SDK_ZIP_IGNORE = shutil.ignore_patterns(
    "__pycache__", "pip", "pip-*", "setuptools", "setuptools-*", "_distutils_hack", "pkg_resources", "distutils-*"
)


# --- what Lambda puts on sys.path: the built layer read-only, the function, the runtime's boto3 ----------


def _read_only(root: Path) -> None:
    """As Lambda mounts /opt and /var/task. (Root ignores modes: the children also run with
    PYTHONDONTWRITEBYTECODE=1, and the harness checks afterwards that no bytecode was written.)"""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else 0o444)


def writable_again(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def _swap_native(layer: Path, python: Path) -> list[str]:
    """The layer is built for arm64: on another machine, its compiled packages are replaced by this
    machine's build of the same versions (NATIVE_DIR), compiled by the runtime's Python like the rest."""
    if platform.machine() in ("aarch64", "arm64"):
        return []
    swapped = []
    for name, version in layer_native_packages().items():
        top = name.replace("-", "_")
        for old in (layer / top, layer / f"{top}-{version}.dist-info"):
            shutil.rmtree(old)
        for new in (NATIVE_DIR / top, NATIVE_DIR / f"{top}-{version}.dist-info"):
            shutil.copytree(new, layer / new.name, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(
            [str(python), "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(layer / top)],
            check=True,
            timeout=300,
        )
        swapped.append(f"{name}=={version}")
    return swapped


def pycache_dirs(root: Path) -> set[Path]:
    return {path for path in root.rglob("__pycache__") if path.is_dir()}


@dataclass(frozen=True)
class Sites:
    """Directories for PYTHONPATH (children run with `python -S`, so nothing else is importable).

    layer: `.aws-sam/build/TalonRelayLayer/python` copied as built (bytecode of the python3.13 build
    included), read-only as Lambda's /opt is; layer_nopyc: the same without bytecode (a build made
    without a python3.13); task: each function's built folder, read-only as /var/task is; runtime: the
    runtime venv's site-packages (boto3, snapshot_restore_py), precompiled as the runtime's is.
    """

    root: Path
    layer: Path
    layer_nopyc: Path
    task: Path
    runtime: Path
    #: compiled packages replaced by this machine's build of the same version (see _swap_native)
    swapped: tuple[str, ...] = ()
    #: __pycache__ folders of the read-only copies when made (a child writing bytecode would add some)
    bytecode: frozenset[Path] = frozenset()

    @classmethod
    def create(cls, root: Path, python: Path, runtime: Path, folders: list[str]) -> Sites:
        if not LAYER_BYTECODE.is_file():
            raise BenchError(
                f"{LAYER_BUILD.relative_to(ROOT)} has no python3.13 bytecode: `make build` with a python3.13 "
                "(the bench measures the layer as it deploys)"
            )
        layer = root / "opt" / "python"
        shutil.copytree(LAYER_BUILD, layer, symlinks=True)
        swapped = _swap_native(layer, python)
        nopyc = root / "opt-nopyc" / "python"
        shutil.copytree(layer, nopyc, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        task = root / "task"
        for folder in folders:
            shutil.copytree(function_build_dir(folder), task / folder, ignore=shutil.ignore_patterns("__pycache__"))
        for tree in (root / "opt", root / "opt-nopyc", task):
            _read_only(tree)
        bytecode = frozenset(pycache_dirs(root / "opt") | pycache_dirs(root / "opt-nopyc") | pycache_dirs(task))
        return cls(root, layer, nopyc, task, runtime, tuple(swapped), bytecode)

    def written_bytecode(self) -> set[Path]:
        """__pycache__ folders that appeared in the read-only copies (should be none)."""
        now = pycache_dirs(self.root / "opt") | pycache_dirs(self.root / "opt-nopyc") | pycache_dirs(self.task)
        return now - set(self.bytecode)

    def close(self) -> None:
        for tree in (self.root / "opt", self.root / "opt-nopyc", self.task):
            if tree.exists():
                writable_again(tree)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="talon-relay-bench-"))
