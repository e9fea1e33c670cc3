"""Talon.One's Python SDK of September 2019 (talon_one.py 2.0.0) as a caller of the local stack's defaults.

A 2019 integration changes only its host and key (a relay caller key, sent as the SDK sends Talon.One's:
`Authorization: ApiKey-v1 <key>`) and calls the v1 operations through the relay; the SDK's typed models
deserialize every answer, the loyalty ledgers of late 2019 included (the emulator's default era).

The SDK is not on PyPI and has the package name of today's talon-one-sdk, so it goes into a venv of its
own, made here from ../shared/reference/sdk/talon_one.py-2.0.0 (its dependencies from PyPI) and kept
under .aws-sam/ (ignored; `make clean` removes it), keyed by a hash of the SDK's sources, the pinned
dependencies and this Python: made once (a minute at most), reused by later runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from local.demo import caller_api_key
from local.stack import LocalStack
from tests.e2e.helpers import talon_requests
from tests.support import ROOT, reference_dir

#: The first run makes the venv (pip from PyPI): more than the suite's 120 s may pass on a slow machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SDK_FOLDER = Path("sdk") / "talon_one.py-2.0.0"
#: What the SDK's source holds (the reference folder may also hold an old build/ and egg-info: left out).
SDK_PARTS = ("setup.py", "requirements.txt", "README.md", "LICENSE", "talon_one")
#: The SDK's dependencies (its setup.py's, from PyPI): named here so that they are part of the cache key.
SDK_DEPENDENCIES = ("urllib3", "six", "python-dateutil", "certifi")
VENVS = ROOT / ".aws-sam" / "vendor-sdk-2019"
SCRIPT = Path(__file__).with_name("vendor_sdk_2019.py")


def sdk_source() -> Path:
    """The 2019 SDK's folder in the shared reference; the module is skipped, saying why, without it."""
    folder = reference_dir()
    source = folder / SDK_FOLDER if folder is not None else None
    if source is None or not (source / "setup.py").is_file():
        reason = f"the 2019 SDK was not found in shared/reference/{SDK_FOLDER} beside {ROOT}: this test needs it"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    return source


def source_files(source: Path) -> list[Path]:
    files = [source / part for part in SDK_PARTS if (source / part).is_file()]
    files += sorted(path for path in (source / "talon_one").rglob("*.py"))
    return files


def cache_key(source: Path) -> str:
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(repr((SDK_DEPENDENCIES, sys.version_info[:2], sys.executable)).encode())
    return digest.hexdigest()[:16]


def sdk_python(source: Path) -> Path:
    """The python of a venv holding the 2019 SDK: the cached one, else made now (and renamed into place
    only once complete, so an interrupted run leaves no half-made venv to reuse)."""
    venv = VENVS / cache_key(source)
    if (venv / "ready").is_file():
        return venv / "bin" / "python"
    building = VENVS / f"{venv.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        # pip builds in the folder it installs from, and the shared reference is read-only: a copy
        copy = building / "src"
        copy.mkdir()
        for part in SDK_PARTS:
            if (source / part).is_dir():
                shutil.copytree(source / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
            elif (source / part).is_file():
                shutil.copy2(source / part, copy / part)
        subprocess.run([sys.executable, "-m", "venv", str(building / "venv")], check=True, timeout=300)
        pip = [str(building / "venv" / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        subprocess.run([*pip, *SDK_DEPENDENCIES, str(copy)], check=True, timeout=600, capture_output=True, text=True)
        (building / "venv" / "ready").write_text(f"talon_one.py 2.0.0 from {source}\n")
        for stale in VENVS.iterdir():  # venvs of other sources or Pythons, and other runs' leftovers
            if stale != building:
                shutil.rmtree(stale, ignore_errors=True)
        (building / "venv").rename(venv)  # only bin/python is run, and it finds its venv wherever it is
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"installing the 2019 SDK failed: {exc.stderr or exc}") from exc
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def python_2019() -> Path:
    """Given a Python that holds the vendor's SDK of September 2019 (and not today's)."""
    return sdk_python(sdk_source())


def run_2019_integration(python: Path, api_url: str, key: str, run: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(python), "-I", str(SCRIPT), api_url, key, run], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"the 2019 SDK failed:\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_the_2019_sdk_runs_the_v1_operations_against_the_stacks_defaults(stack: LocalStack, python_2019: Path) -> None:
    # Given the local stack as `make run` has it (emulator era not chosen: today's answer shapes) and a
    # relay caller key
    assert stack.emulator.era == "2026"
    key = caller_api_key(stack.describe())
    assert key, "the local stack creates the caller API keys secret"
    run = uuid.uuid4().hex[:6]
    profile, friend, session = f"ada-{run}", f"bob-{run}", f"cart-{run}"

    # When a 2019 integration, with only its host and key changed, runs the v1 operations
    report = run_2019_integration(python_2019, stack.api_url, key, run)

    # Then it was the 2019 SDK, and each answer deserialized into its typed models
    assert report["sdk"] == "SDK Package Version: 2.0.0"
    assert report["update_customer_profile"] == {"type": "IntegrationState", "integration_id": profile}
    session_answer = report["update_customer_session"]
    assert session_answer["type"] == "IntegrationState" and session_answer["session_type"] == "CustomerSession"
    assert session_answer["integration_id"] == session
    assert "acceptCoupon" in session_answer["effects"]
    # And the purchase's loyalty points came back as late-2019 ledgers (LoyaltyProgramLedgers)
    event_answer = report["track_event"]
    assert event_answer["type"] == "IntegrationState" and "addLoyaltyPoints" in event_answer["effects"]
    assert event_answer["loyalty"]["1"]["type"] == "LoyaltyProgramLedgers"
    assert event_answer["loyalty"]["1"]["balance"] == 10
    assert report["create_referral"]["type"] == "Referral" and report["create_referral"]["code"]
    assert report["delete_customer_data"] == {"answer": None}
    # And Talon.One received each call on its v1 route
    sent = [(r["method"], r["path"].split("?")[0]) for r in talon_requests(stack, prefix="/v")]
    assert sent == [
        ("PUT", f"/v1/customer_profiles/{profile}"),
        ("PUT", f"/v1/customer_sessions/{session}"),
        ("POST", "/v1/events"),
        ("POST", "/v1/referrals"),
        ("PUT", f"/v1/customer_profiles/{friend}"),
        ("DELETE", f"/v1/customer_data/{friend}"),
    ]


def test_the_2019_sdk_fails_on_the_2019_era_it_was_not_written_for(stack: LocalStack, python_2019: Path) -> None:
    # Given the emulator asked for the May 2019 shapes (loyalty as balances, which the SDK cannot read)
    stack.emulator.era = "2019"
    key = caller_api_key(stack.describe())
    assert key
    try:
        # When the same integration runs
        result = subprocess.run(
            [str(python_2019), "-I", str(SCRIPT), stack.api_url, key, uuid.uuid4().hex[:6]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stack.emulator.era = "2026"
    # Then its track_event raises on the loyalty balances, which its LoyaltyProgramLedgers cannot hold:
    # why the stack's default is today's shape
    assert result.returncode != 0
    assert "track_event" in result.stderr, result.stderr[-2000:]
    assert "loyalty_program_ledgers.py" in result.stderr and "Invalid value for `title`" in result.stderr
