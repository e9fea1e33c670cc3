"""`make run`, `make redrive` as a person meets them: a port clash is one line naming the port and
the variables, a wrong FUNCTION lists the right ones, --verbose passes through, the banner shows keys."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from local.__main__ import banner, sdk_snippet
from local.stack import LOCAL_API_KEY
from talon_relay.operations import OPERATIONS
from tests.support import ROOT


def run_local(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_port_clash_names_the_port_and_the_variables_without_a_traceback() -> None:
    # Given something already listens on the port asked for the relay's API
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # When `make run API_PORT=<that port>` starts
        result = run_local("run", env={"API_PORT": str(port)})
    # Then it stops at once with one line naming the port and how to choose others
    assert result.returncode == 2, result.stderr
    assert f"port {port} (API_PORT) is already in use" in result.stderr
    assert all(name in result.stderr for name in ("API_PORT", "EMULATOR_PORT", "AWS_PORT", "SHOPIFY_PORT"))
    assert "Traceback" not in result.stderr


def test_a_port_that_is_no_number_is_named() -> None:
    result = run_local("run", env={"EMULATOR_PORT": "31oo"})
    assert result.returncode == 2
    assert "EMULATOR_PORT='31oo' is not a port number" in result.stderr
    assert "Traceback" not in result.stderr


def test_redrive_of_an_unknown_function_lists_the_function_names() -> None:
    # When `make redrive FUNCTION=bogus`
    result = run_local("redrive", "bogus")
    # Then it says which names it takes: the function folders with a queue (not a GET's), not queue names
    assert result.returncode == 1
    assert "unknown function 'bogus'" in result.stderr
    for op in OPERATIONS.values():
        assert (op.function in result.stderr) is op.queued
    assert "Queue" not in result.stderr
    # and the event bus's dead letters by their name
    assert "or events (the bus's dead letters)" in result.stderr


def test_make_run_passes_args_through() -> None:
    # When `make run ARGS=--verbose` is asked what it would run
    result = subprocess.run(
        ["make", "-n", "run", "ARGS=--verbose"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    # Then --verbose reaches `python -m local run`
    assert result.returncode == 0, result.stderr
    assert "-m local run --verbose" in result.stdout


URLS = {"api": "http://127.0.0.1:3000", "emulator": "http://127.0.0.1:3100", "aws": "http://127.0.0.1:3200"}


def test_the_banner_shows_the_local_keys() -> None:
    # Given a running stack's addresses and keys
    text = banner(URLS, {"api_key": "local-relay-api-key"}, "signing-secret-value", "caller-key-value")
    # Then the emulator's Integration API key, the relay's API key, the signing secret and the caller key are there
    assert f"ApiKey-v1 {LOCAL_API_KEY}" in text
    assert "x-api-key: local-relay-api-key" in text
    assert "'signing-secret-value'" in text
    assert "  Relay caller key:          caller-key-value\n" in text


def test_the_banner_shows_three_lines_of_the_vendor_sdk_with_the_local_host_and_caller_key() -> None:
    # When the banner is written for a stack with a relay caller key
    text = banner(URLS, {"api_key": "local-relay-api-key"}, "signing-secret-value", "caller-key-value")
    # Then it holds the snippet flush left (pasteable into a Python prompt): host, key and prefix, one call
    snippet = sdk_snippet("http://127.0.0.1:3000", "caller-key-value")
    assert f"\n{snippet}\n" in text
    lines = snippet.splitlines()
    assert len(lines) == 3 and all(not line.startswith(" ") for line in lines)
    assert 'talon_one.Configuration(host="http://127.0.0.1:3000")' in lines[0]
    assert lines[1].endswith('= "caller-key-value", "ApiKey-v1"')
    compile("\n".join(lines), "<banner>", "exec")  # valid Python as printed


def test_the_banner_says_when_callers_need_no_key() -> None:
    # When callers are not authenticated (CallerAuthentication=disabled: the stack has no caller key)
    text = banner(URLS, {"api_key": "local-relay-api-key"}, None, None)
    # Then the banner says so instead of printing a key or a snippet that would not need one
    assert "no relay caller key" in text
    assert "Relay caller key:" not in text and "import talon_one" not in text
