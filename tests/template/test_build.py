"""How `sam build` makes the artifacts, and how the layer is installed for development.

The layer: layers/talon_relay/Makefile installs python3.13 arm64 wheels and copies the repository's
talon_relay, then compiles bytecode with a python3.13 when one is found. The functions: functions/Makefile
copies the handler module (no pip, so no python3.13). For development the layer is an installable package,
installed editable by `make install`: what the tests import is the repository's code.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import talon_relay
from bench.infra import tree_difference
from talon_relay.operations import Operation
from tests.template.helpers import ROOT, TABLE, ops, prefix

LAYER = ROOT / "layers" / "talon_relay"
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def without_make_settings(*names: str) -> dict[str, str]:
    """This process's environment without what an enclosing `make test` passes down (and `names`)."""
    return {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", *names}}


def requirements() -> list[str]:
    lines = (LAYER / "requirements.txt").read_text().splitlines()
    return [req for req in (line.split("#", 1)[0].strip() for line in lines) if req]


def test_layer_makefile_ships_python313_arm64_wheels_the_sources_and_bytecode() -> None:
    # Given the layer's Makefile
    makefile = (LAYER / "Makefile").read_text()

    # Then it builds the layer from wheels for the runtime's platform and version (any pip can fetch them)
    assert "build-TalonRelayLayer:" in makefile
    assert "--python-version 3.13" in makefile and "manylinux2014_aarch64" in makefile
    assert "--only-binary=:all:" in makefile and "-r requirements.txt" in makefile
    # And ships the package from this folder, not an installed copy
    assert 'cp -R talon_relay "$(TARGET)/"' in makefile
    # And compiles bytecode that the read-only /opt never has to recompile
    assert "compileall" in makefile and "--invalidation-mode unchecked-hash" in makefile
    # And the layer's requirements are exact pins (the layer is reproducible)
    assert requirements() and all("==" in req for req in requirements())


@needs_make
def test_layer_bytecode_is_compiled_by_a_python313_or_not_at_all() -> None:
    # Given the interpreter the layer's Makefile picks to compile bytecode
    found = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(LAYER), "python"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=without_make_settings("LAYER_PYTHON"),
    ).stdout.strip()

    # Then it is a Python 3.13 (bytecode of any other version would be ignored by the runtime), or none
    if found:
        version = subprocess.run(
            [found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, timeout=60
        ).stdout.strip()
        assert version == "(3, 13)", found


@needs_make
def test_layer_build_ships_talon_relay_whole_so_the_bench_sees_a_fresh_build(tmp_path: Path) -> None:
    # Given the layer's folder as `sam build` copies it to a scratch folder (pip and bytecode stubbed out:
    # what is checked here is what happens to the repository's talon_relay)
    scratch = tmp_path / "scratch"
    shutil.copytree(LAYER, scratch, ignore=shutil.ignore_patterns("__pycache__"))
    artifacts = tmp_path / "artifacts"
    (artifacts / "python").mkdir(parents=True)  # (pip makes it)

    # When sam runs the layer's target there
    subprocess.run(
        ["make", "build-TalonRelayLayer", "PIP_PYTHON=true", "LAYER_PYTHON=true"],
        cwd=scratch,
        env={**without_make_settings(), "ARTIFACTS_DIR": str(artifacts)},
        check=True,
        capture_output=True,
        timeout=120,
    )

    # Then the built talon_relay is the repository's, file for file: what make bench compares to decide
    # that a build is fresh (a file the build dropped made every run rebuild, issue 23)
    assert tree_difference(LAYER / "talon_relay", artifacts / "python" / "talon_relay") is None


@needs_make
@ops
def test_function_build_copies_its_handler_module_and_nothing_else(tmp_path: Path, op: Operation) -> None:
    # Given the function's folder as `sam build` copies it to a scratch folder
    scratch = tmp_path / "scratch"
    shutil.copytree(ROOT / "functions" / op.function, scratch, ignore=shutil.ignore_patterns("__pycache__"))
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()

    # When sam runs the function's target of functions/Makefile there
    subprocess.run(
        ["make", "--makefile", str(ROOT / "functions" / "Makefile"), f"build-{prefix(op)}Function"],
        cwd=scratch,
        env={**without_make_settings(), "ARTIFACTS_DIR": str(artifacts)},
        check=True,
        capture_output=True,
        timeout=60,
    )

    # Then the artifact is the function's module, byte for byte
    assert sorted(p.name for p in artifacts.iterdir()) == [f"{op.function}.py"]
    assert (artifacts / f"{op.function}.py").read_bytes() == (
        ROOT / "functions" / op.function / f"{op.function}.py"
    ).read_bytes()


def test_functions_have_no_dependencies_of_their_own() -> None:
    # Given the function folders
    folders = [ROOT / "functions" / op.function for op in TABLE]

    # Then none has requirements (the function build installs none: dependencies belong in the layer)
    for folder in folders:
        assert not (folder / "requirements.txt").exists(), f"{folder.name}: put its dependencies in the layer"


def test_development_imports_the_repositorys_layer_installed_editable() -> None:
    # Given the talon_relay the tests import, and the distribution `make install` installed
    dist = importlib.metadata.distribution("talon-relay-layer")

    # Then it is the repository's folder itself (an editable install), not a copy
    assert Path(talon_relay.__file__).resolve().parent == LAYER / "talon_relay"
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    assert direct_url.get("dir_info", {}).get("editable") is True
    # And its dependencies are the layer's requirements.txt, pin for pin
    assert sorted(dist.requires or []) == sorted(requirements())
