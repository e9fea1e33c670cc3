"""What the measurements run against: the stand-in, moto, the SDK's venv, the SAM build, zips."""

from __future__ import annotations

import filecmp
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
LAYER = ROOT / "layers" / "talon_relay"
FUNCTIONS = ROOT / "functions"
BUILD = ROOT / ".aws-sam" / "build"
SDK_VENV = BENCH / ".venv-sdk"
#: The official SDK, pinned so runs compare; installed only into SDK_VENV.
SDK_REQUIREMENT = "talon-one-sdk==26.2"
SDK_VERSION = SDK_REQUIREMENT.split("==", 1)[1]
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
        return cls(process, f"http://127.0.0.1:{ports['fast']}", f"http://127.0.0.1:{ports['slow']}")

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
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on the terminal
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        return cls(server, f"http://{host}:{port}")

    def create_secret(self, name: str, value: dict[str, Any]) -> str:
        import boto3

        client = boto3.client(
            "secretsmanager",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",  # moto's fake credentials
            aws_secret_access_key="testing",
        )
        arn = str(client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])
        self.secrets[name] = arn
        return arn

    def create_queue(self, name: str) -> str:
        import boto3

        client = boto3.client(
            "sqs",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        url = str(client.create_queue(QueueName=name)["QueueUrl"])
        self.queues[name] = url
        return url

    def stop(self) -> None:
        self.server.stop()


# --- the official SDK's venv ----------------------------------------------------------------------


def sdk_python() -> Path:
    return SDK_VENV / "bin" / "python"


def ensure_sdk_venv() -> Path:
    """bench/.venv-sdk with talon-one-sdk (created on first use; the project's venv never gets it)."""
    python = sdk_python()
    check = [str(python), "-c", f"import importlib.metadata as m; assert m.version('talon-one-sdk') == '{SDK_VERSION}'"]
    if python.exists() and subprocess.run(check, capture_output=True, timeout=60).returncode == 0:
        return python
    log(f"creating {SDK_VENV.relative_to(ROOT)} with {SDK_REQUIREMENT} (once)")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True, timeout=300)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK_REQUIREMENT],
        check=True,
        timeout=600,
    )
    if subprocess.run(check, capture_output=True, timeout=60).returncode != 0:
        raise BenchError(f"{SDK_REQUIREMENT} did not install into {SDK_VENV}")
    return python


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


def _same_tree(source: Path, built: Path) -> bool:
    """Every source file (no caches) is in the build with the same content, and nothing else is."""
    if not built.is_dir():
        return False
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    have = {p.relative_to(built) for p in built.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    if wanted != have:
        return False
    return all(filecmp.cmp(source / rel, built / rel, shallow=False) for rel in wanted)


def build_staleness(folders: list[str]) -> str | None:
    """Why .aws-sam/build does not match the sources (None when it does)."""
    layer_build = BUILD / "TalonRelayLayer" / "python"
    if not layer_build.is_dir():
        return "no .aws-sam/build"
    if not _same_tree(LAYER / "talon_relay", layer_build / "talon_relay"):
        return "the layer's talon_relay changed since the last build"
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
        if not _same_tree(FUNCTIONS / folder, function_build_dir(folder)):
            return f"functions/{folder} changed since the last build"
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
    found = sorted(SDK_VENV.glob("lib/python3*/site-packages"))
    if not found:
        raise BenchError(f"no site-packages in {SDK_VENV}")
    return found[0]


#: Not part of what an SDK-based layer would ship.
SDK_ZIP_IGNORE = shutil.ignore_patterns(
    "__pycache__", "pip", "pip-*", "setuptools", "setuptools-*", "_distutils_hack", "pkg_resources", "distutils-*"
)


# --- isolated sites: what Lambda puts on sys.path, nothing of the dev venv --------------------------


def _closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions `names` need (no extras), in this interpreter."""
    seen: dict[str, metadata.Distribution] = {}
    stack = list(names)
    for _ in range(500):  # bounded: a layer has a few dozen distributions at most
        if not stack:
            break
        name = canonicalize_name(stack.pop())
        if name in seen:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for requirement in dist.requires or []:
            req = Requirement(requirement)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return list(seen.values())


def copy_site(names: list[str], target: Path) -> Path:
    """`names` and their dependencies copied from this venv into `target`, without any bytecode."""
    for dist in _closure(names):
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(str(file.locate()), destination)
    return target


def link_site(names: list[str], target: Path) -> Path:
    """`names` and their dependencies as symlinks into this venv (its bytecode included)."""
    target.mkdir(parents=True, exist_ok=True)
    for dist in _closure(names):
        tops = {file.parts[0] for file in dist.files or [] if file.parts[0] not in ("..", "__pycache__")}
        for top in tops:
            link = target / top
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(top))))
    return target


def layer_requirements() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in (LAYER / "requirements.txt").read_text().splitlines())
    return [Requirement(line).name for line in lines if line]


@dataclass(frozen=True)
class Sites:
    """Directories for PYTHONPATH, run with `python -S` so the dev venv's extras stay invisible.

    The project's venv holds pyOpenSSL, cryptography, awscrt, aws-xray-sdk, moto...: botocore imports
    pyOpenSSL and awscrt when they are importable, which Lambda's runtime never offers. So each
    child sees only: the function, the layer (requirements.txt's closure; talon_relay from the repo),
    and the runtime's boto3 closure.
    """

    layer: Path  # requirements.txt's closure (bytecode written on first use, like a warm cache)
    layer_nopyc: Path  # the same plus talon_relay, run with PYTHONDONTWRITEBYTECODE: as deployed
    runtime: Path  # boto3's closure (linked, precompiled): what the Lambda runtime provides

    @classmethod
    def create(cls, root: Path) -> Sites:
        requirements = layer_requirements()
        layer = copy_site(requirements, root / "layer")
        nopyc = copy_site(requirements, root / "layer-nopyc")
        shutil.copytree(LAYER / "talon_relay", nopyc / "talon_relay", ignore=shutil.ignore_patterns("__pycache__"))
        return cls(layer, nopyc, link_site(["boto3"], root / "runtime"))


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="talon-relay-bench-"))
