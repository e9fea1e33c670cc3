"""Two Talon.One applications on the local stack, as `make run` serves them: each relay caller key reaches
its own application's Talon.One (the emulator's request log names it), never the other's, and `make demo`
goes through one journey per application."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from local.demo import caller_api_key, run_demo
from local.stack import LocalStack


def requests_of(admin_url: str) -> list[dict[str, Any]]:
    answer = urllib3.request("GET", f"{admin_url}/requests", timeout=10)
    data = json.loads(answer.data)
    return list(data["requests"] if isinstance(data, dict) else data)


def test_two_relay_caller_keys_reach_two_applications(two_apps: LocalStack) -> None:
    # Given the stack's two applications and their relay caller keys, as `make run` prints them
    info = two_apps.describe()
    apps = info["applications"]
    keys = {"default": caller_api_key(info), "us": apps["us"]["caller_key"]}
    assert set(apps) == {"default", "us"} and keys["default"] != keys["us"]
    # When each key's caller updates the same session id
    for name, key in keys.items():
        body = json.dumps({"customerSession": {"profileId": f"p-{name}", "attributes": {}}}).encode()
        answer = urllib3.request(
            "PUT",
            f"{info['api_url']}/v2/customer_sessions/s-1",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"ApiKey-v1 {key}"},
            timeout=30,
        )
        assert answer.status == 200, answer.data
    # Then one emulator process serves both: each application received exactly its own caller's request
    assert apps["default"]["emulator_url"] == apps["us"]["emulator_url"] == info["emulator_url"]
    for name in keys:
        logged = [r for r in requests_of(apps[name]["emulator_admin"]) if r["operation"] == "updateCustomerSessionV2"]
        assert [(r["application"], r["body"]["customerSession"]["profileId"]) for r in logged] == [(name, f"p-{name}")]
    # And the emulator's one request log names the application each request reached
    everything = requests_of(f"{info['emulator_url']}/_emulator")
    sessions = [
        (r["application"], r["body"]["customerSession"]["profileId"])
        for r in everything
        if r["operation"] == "updateCustomerSessionV2"
    ]
    assert sorted(sessions) == [("default", "p-default"), ("us", "p-us")]


def test_make_demo_goes_through_one_journey_per_application(
    two_apps: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(two_apps.describe()) == 0
    output = capsys.readouterr().out
    assert "=== application 'default'" in output and "=== application 'us'" in output
    us_log = requests_of(two_apps.describe()["applications"]["us"]["emulator_admin"])
    assert {r["application"] for r in us_log} == {"us"}
    assert any(r["operation"] == "deleteCustomerData" for r in us_log)


def test_one_applications_outage_never_delays_the_others_queued_updates(two_apps: LocalStack) -> None:
    import time

    # Given the default application's Talon.One down (503) for ten seconds, on the one emulator
    info = two_apps.describe()
    apps = info["applications"]
    keys = {"default": caller_api_key(info), "us": apps["us"]["caller_key"]}
    outage = {"status": 503, "seconds": 10, "path": "/v2/customer_sessions"}
    fault = urllib3.request("POST", f"{apps['default']['emulator_admin']}/faults", json=outage, timeout=10)
    assert fault.status == 201, fault.data
    # When each application's caller queues three updates of its session, in order
    for n in (1, 2, 3):
        for name, key in keys.items():
            body = json.dumps({"customerSession": {"profileId": f"p-{name}", "attributes": {"n": n}}}).encode()
            answer = urllib3.request(
                "PUT",
                f"{info['api_url']}/v2/customer_sessions/noisy-{name}",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"ApiKey-v1 {key}",
                    "Prefer": "respond-async",
                },
                timeout=30,
            )
            assert answer.status == 202, answer.data

    def applied(name: str) -> list[int]:
        logged = requests_of(apps[name]["emulator_admin"])
        return [
            r["body"]["customerSession"]["attributes"]["n"]
            for r in logged
            if r["path"] == f"/v2/customer_sessions/noisy-{name}" and r["status"] == 200
        ]

    # Then `us`'s three are delivered, in order, while the default's Talon.One is still down
    deadline = time.monotonic() + 30
    while applied("us") != [1, 2, 3] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert applied("us") == [1, 2, 3]
    assert applied("default") == []  # (its first was queued with `us`'s first: it has met only the outage)
    # And once it is back, the default's three arrive after their backoff, in order
    deadline = time.monotonic() + 60
    while applied("default") != [1, 2, 3] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert applied("default") == [1, 2, 3]
