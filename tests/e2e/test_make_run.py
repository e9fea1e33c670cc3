"""`make run` as a newcomer meets it, in its own process: the banner's relay caller key and Python SDK
snippet work as printed, and after Ctrl-C the stack starts again at once on the same ports (while the
first run's connections linger in TIME_WAIT)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import urllib3

from tests.support import ROOT, free_port

pytestmark = pytest.mark.e2e

#: Seconds a `make run` gets to print its banner, or to stop after Ctrl-C (it takes about 3 and 1).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
BANNER_END = "Live view (below)"  # the banner's last line


class LocalRun:
    """`python -m local run` (what `make run` runs) on the given ports, its output collected as it comes."""

    def __init__(self, api_port: int, emulator_port: int, aws_port: int, shopify_port: int | None = None) -> None:
        self.ports = {
            "API_PORT": api_port,
            "EMULATOR_PORT": emulator_port,
            "AWS_PORT": aws_port,
            "SHOPIFY_PORT": shopify_port or free_port(),
        }
        environment = {**os.environ, **{name: str(port) for name, port in self.ports.items()}}
        environment.pop("TALON_EMULATOR_ERA", None)  # the defaults, as a newcomer has them
        # nor the shared test stack's function settings, which its gateway exports to this process while it
        # runs (its LogLevel WARNING would silence the live view's INFO lines)
        for name in [name for name in environment if name.startswith("POWERTOOLS_")]:
            del environment[name]
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "local", "run"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="make-run-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._lines.append("")  # end of output
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The output up to the first line holding `text` (bounded: fails after `timeout` or at exit)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if any(text in line for line in self._lines):
                    return "".join(self._lines)
                ended = bool(self._lines) and self._lines[-1] == ""
                remaining = deadline - time.monotonic()
                if ended or remaining <= 0:
                    raise AssertionError(f"`make run` printed no {text!r} ({'it exited' if ended else 'timeout'}):\n"
                                         + "".join(self._lines))  # fmt: skip
                self._changed.wait(remaining)

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it; the exit code."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.interrupt()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def runs() -> Iterator[list[LocalRun]]:
    """The `make run`s a test starts; each is stopped at the end (Ctrl-C, else killed)."""
    started: list[LocalRun] = []
    yield started
    for run in started:
        run.close()


def banner_value(output: str, label: str) -> str:
    match = re.search(rf"^  {re.escape(label)}:\s+(\S+)", output, re.MULTILINE)
    assert match, f"no {label!r} in the banner:\n{output}"
    return match.group(1)


def sdk_snippet(output: str) -> str:
    """The banner's three lines of Talon.One's Python SDK, as printed."""
    lines = output.splitlines()
    first = next(index for index, line in enumerate(lines) if line.startswith("import talon_one"))
    return "\n".join(lines[first : first + 3])


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter of this venv (where make install put talon-one-sdk 26.2)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def binds_without_reuse(port: int) -> bool:
    """Whether a plain bind (no SO_REUSEADDR: the port check of old) takes the port."""
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def test_make_run_prints_a_caller_key_and_an_sdk_snippet_that_work(runs: list[LocalRun]) -> None:
    # Given `make run` on free ports, up and showing its banner
    run = LocalRun(free_port(), free_port(), free_port())
    runs.append(run)
    output = run.wait_for(BANNER_END)
    api_url = banner_value(output, "Relay API (API Gateway)")
    emulator_url = banner_value(output, "Talon.One emulator")
    key = banner_value(output, "Relay caller key")
    snippet = sdk_snippet(output)
    assert api_url == f"http://127.0.0.1:{run.ports['API_PORT']}"
    assert f'host="{api_url}"' in snippet and f'"{key}", "ApiKey-v1"' in snippet

    # When the snippet runs as printed (talon-one-sdk 26.2: host, key with its ApiKey-v1 prefix, one call)
    result = run_python(snippet)

    # Then the SDK's session update went through the relay and deserialized, Talon.One's effects in it
    assert result.returncode == 0, result.stderr
    assert "effect_type='acceptCoupon'" in result.stdout, result.stdout
    sent = urllib3.request("GET", f"{emulator_url}/_emulator/requests", timeout=10).json()["requests"]
    assert [(r["method"], r["path"]) for r in sent] == [("PUT", "/v2/customer_sessions/session-1")]

    # And the printed key is what let it in: the same request with another key is refused with a 401
    def erase(with_key: str) -> int:
        headers = {"Authorization": f"ApiKey-v1 {with_key}"}
        return urllib3.request("DELETE", f"{api_url}/v1/customer_data/nobody", headers=headers, timeout=30).status

    assert erase("not-the-printed-key") == 401
    assert erase(key) == 404  # let in: Talon.One knows no customer "nobody"


def test_make_run_starts_again_at_once_on_the_same_ports_after_ctrl_c(runs: list[LocalRun]) -> None:
    # Given `make run` on three fixed ports, with real connections made to each of its servers
    ports = (free_port(), free_port(), free_port(), free_port())
    first = LocalRun(*ports)
    runs.append(first)
    output = first.wait_for(BANNER_END)
    api_url = banner_value(output, "Relay API (API Gateway)")
    emulator_url = banner_value(output, "Talon.One emulator")
    aws_url = banner_value(output, "Local AWS (moto)")
    client = urllib3.PoolManager()
    assert client.request("GET", f"{api_url}/_local/health", timeout=10).status == 200
    assert client.request("GET", f"{emulator_url}/_emulator/health", timeout=10).status == 200
    assert client.request("GET", f"{aws_url}/moto-api/", timeout=10).status < 500
    shopify_url = banner_value(output, "Shopify Admin (stand-in)")
    assert client.request("GET", f"{shopify_url}/_shopify/requests", timeout=10).status == 200

    # When Ctrl-C stops it (the servers close their connections first), and the clients let go
    assert first.interrupt() == 0, first.output
    client.clear()
    # Then sockets of the first run remain on its ports (TIME_WAIT): the port check of old said "in use"
    assert not all(binds_without_reuse(port) for port in ports), "no socket lingered: the test proves nothing"

    # When `make run` starts again at once on the same ports
    second = LocalRun(*ports)
    runs.append(second)
    again = second.wait_for(BANNER_END)

    # Then it is up on those ports and serving, without a word about a port in use
    assert "already in use" not in again and "could not start" not in again
    assert banner_value(again, "Relay API (API Gateway)") == api_url
    assert urllib3.request("GET", f"{api_url}/_local/health", timeout=10).status == 200
    assert urllib3.request("GET", f"{emulator_url}/_emulator/health", timeout=10).status == 200
    assert second.interrupt() == 0, second.output
