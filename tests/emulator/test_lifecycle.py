"""Starting, stopping, persisting, and the command line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import urllib3

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, ROOT

AUTH = {"Authorization": f"ApiKey-v1 {API_KEY}"}


def emulator_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("talon-emulator")]


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def put(base_url: str, path: str, body: dict[str, Any], pool: urllib3.PoolManager | None = None):
    return (pool or urllib3.PoolManager()).request(
        "PUT", base_url + path, json=body, headers=AUTH, retries=False, timeout=5
    )


# --- start / stop -----------------------------------------------------------------------------


def test_stop_leaves_no_thread_and_no_port_behind():
    # Given a running emulator with an idle keep-alive connection still open
    emu = Emulator(api_keys={API_KEY})
    base = emu.start()
    pool = urllib3.PoolManager()
    assert put(base, "/v1/customer_sessions/s", {}, pool).status == 200
    assert emulator_threads()
    # When it stops
    emu.stop()
    # Then no emulator thread is left (a handler stuck on the idle connection would outlive stop's join
    # timeouts and still be listed), and the port is closed
    assert emulator_threads() == []
    port = port_of(base)
    assert refuses_connections(port)
    pool.clear()
    # And the same port can serve a new emulator right away (a restart)
    again = Emulator(api_keys={API_KEY})
    assert again.start(port=port) == base
    again.stop()


class WatchedEmulator(Emulator):
    """The emulator, waiting as it does, telling the test when a request starts its wait and how it ended."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.waiting = threading.Event()
        self.cut_short: list[bool] = []

    def pause(self, seconds: float) -> bool:
        self.waiting.set()
        cut_short = super().pause(seconds)
        self.cut_short.append(cut_short)
        return cut_short


def test_stop_interrupts_a_delayed_request():
    # Given a request in a 20 s delay
    emu = WatchedEmulator(api_keys={API_KEY})
    base = emu.start()
    emu.inject_fault(delay=20)

    def call() -> None:
        with contextlib.suppress(Exception):  # the connection may be cut by stop()
            put(base, "/v1/customer_sessions/s", {})

    thread = threading.Thread(target=call)
    thread.start()
    assert emu.waiting.wait(timeout=5)
    # When the emulator stops
    emu.stop()
    # Then the delay was cut short (not waited out), and no emulator thread is left
    assert emu.cut_short == [True]
    thread.join(5)
    assert emulator_threads() == []


def test_start_and_stop_again_on_the_same_object():
    emu = Emulator(api_keys={API_KEY})
    first = emu.start()
    with pytest.raises(RuntimeError):
        emu.start()
    emu.stop()
    emu.stop()  # a second stop is harmless
    second = emu.start()
    try:
        assert put(second, "/v1/customer_sessions/s", {}).status == 200
    finally:
        emu.stop()
    assert first.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com"])
def test_only_loopback_hosts(host: str):
    with pytest.raises(ValueError, match="loopback"):
        Emulator().start(host=host)


def test_context_manager_starts_and_stops():
    with Emulator(api_keys={API_KEY}) as emu:
        assert emu.base_url is not None
        assert put(emu.base_url, "/v1/customer_sessions/s", {}).status == 200
    assert emu.base_url is None and emulator_threads() == []


def test_parallel_requests_are_all_served(tmp_path: Path):
    # Given a running emulator that persists its state
    with Emulator(api_keys={API_KEY}, state_file=tmp_path / "s.json") as emu:
        assert emu.base_url is not None
        base = emu.base_url
        pool = urllib3.PoolManager(maxsize=8)
        statuses: list[int] = []

        def work(worker: int) -> None:
            for i in range(10):
                body = {"profileId": f"p{worker}", "total": i}
                statuses.append(put(base, f"/v1/customer_sessions/w{worker}-{i}", body, pool).status)

        # When eight clients send requests at once
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then every one was served and recorded, with unique event ids
        assert statuses == [200] * 80
        state = emu.state()
        assert len(state["sessions"]) == 80
        ids = [event["id"] for event in state["events"]]
        assert len(set(ids)) == 80


# --- persistence ------------------------------------------------------------------------------


def test_state_file_round_trip(tmp_path: Path):
    state_file = tmp_path / "nested" / "emulator.json"
    # Given an emulator persisting to a file, with a profile, a closed session, points, a referral
    first = Emulator(api_keys={API_KEY}, state_file=state_file)
    base = first.start()
    put(base, "/v1/customer_profiles/p%2F1", {"attributes": {"tier": "gold"}})
    put(base, "/v1/customer_sessions/s-1", {"profileId": "p/1", "coupon": "WELCOME10", "total": 50})
    put(base, "/v1/customer_sessions/s-1", {"state": "closed"})
    urllib3.request(
        "POST",
        base + "/v1/events",
        json={"profileId": "p/1", "sessionId": "s-1", "type": "purchase", "attributes": {}},
        headers=AUTH,
    )
    code = urllib3.request(
        "POST",
        base + "/v1/referrals",
        json={"campaignId": 3, "advocateProfileIntegrationId": "p/1"},
        headers=AUTH,
    ).json()["code"]
    # Then the file is written on change, before any stop
    assert json.loads(state_file.read_text())["sessions"]["s-1"]["state"] == "closed"
    before = first.state()
    first.stop()
    # When a new emulator starts from the same file (answering in the May 2019 shapes)
    second = Emulator(api_keys={API_KEY}, state_file=state_file, era="2019")
    base = second.start()
    try:
        # Then it has the same state and keeps counting from it
        assert second.state() == before
        again = put(base, "/v1/customer_sessions/s-2", {"profileId": "p/1", "coupon": "WELCOME10"})
        body = again.json()
        assert body["profile"]["attributes"] == {"tier": "gold"}
        assert body["profile"]["closedSessions"] == 1
        assert body["loyalty"]["programs"]["1"]["currentBalance"] == 10
        assert body["event"]["effects"][0][3] == ["rejectCoupon", "WELCOME10", "CouponLimitReached"]
        assert body["event"]["id"] == max(e["id"] for e in before["events"]) + 1
        referral = put(base, "/v1/customer_sessions/s-3", {"profileId": "f", "referral": code})
        assert referral.json()["event"]["effects"][0][3] == ["acceptReferral", code]
    finally:
        second.stop()


def test_reset_also_empties_the_state_file(tmp_path: Path):
    state_file = tmp_path / "emulator.json"
    with Emulator(api_keys={API_KEY}, state_file=state_file) as emu:
        assert emu.base_url is not None
        put(emu.base_url, "/v1/customer_sessions/s", {})
        emu.reset()
        assert json.loads(state_file.read_text())["sessions"] == {}


def test_unreadable_state_file_fails_at_start(tmp_path: Path):
    state_file = tmp_path / "emulator.json"
    state_file.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="version"):
        Emulator(state_file=state_file).start()
    assert emulator_threads() == []


# --- command line -----------------------------------------------------------------------------


def test_cli_prints_the_url_serves_and_saves_on_sigterm(tmp_path: Path):
    # Given the emulator started from the command line, with a key from the environment
    state_file = tmp_path / "cli.json"
    env = {**os.environ, "TALON_EMULATOR_API_KEYS": "env-key"}
    env.pop("PYTHONPATH", None)  # it needs nothing on the path: the emulator does not import the relay
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.emulator",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            "--state-file",
            str(state_file),
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # When it prints its URL
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        # Then both keys work there
        assert put(url, "/v1/customer_sessions/s-1", {"profileId": "p"}).status == 200
        other = urllib3.request(
            "PUT",
            url + "/v1/customer_sessions/s-2",
            json={},
            headers={"Authorization": "ApiKey-v1 env-key"},
        )
        assert other.status == 200
    finally:
        # And SIGTERM stops it cleanly, with the state saved
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert set(json.loads(state_file.read_text())["sessions"]) == {"s-1", "s-2"}
    assert refuses_connections(port_of(url))


def test_cli_rejects_a_malformed_application():
    result = subprocess.run(
        [sys.executable, "-m", "local.emulator", "--app", "12:not-hex"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "hex" in result.stderr
