"""One emulator process serving several Talon.One applications (docs/applications.md, `make run`): each its
own Integration API key, rules and data; a request reaches the application whose key it carries, and the
one request log names the application each request reached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.emulator import Emulator
from local.emulator.rules import load_rules
from tests.emulator.helpers import API_KEY, Client, serving

US_KEY = "emulator-test-us-key"


@pytest.fixture
def two() -> Iterator[tuple[Emulator, Emulator, Client]]:
    """Given one emulator serving `default` (API_KEY) and `us` (US_KEY, its own rules), started once."""
    host = Emulator(api_keys={API_KEY}, application="default")
    rules = load_rules(None).model_dump(mode="json", by_alias=True)
    rules["applicationId"] = rules["applicationId"] + 1
    us = host.add_application("us", api_keys={US_KEY}, rules=rules)
    with serving(host) as client:
        yield host, us, client


def as_us() -> dict[str, Any]:
    return {"auth": None, "headers": {"Authorization": f"ApiKey-v1 {US_KEY}"}}


def test_each_key_reaches_its_own_application_with_its_own_data(two: tuple[Emulator, Emulator, Client]) -> None:
    host, us, client = two
    # When the same session id is updated with each application's key
    default_answer = client.session_v2("s-1", {"customerSession": {"profileId": "p-eu"}})
    us_answer = client.session_v2("s-1", {"customerSession": {"profileId": "p-us"}}, **as_us())
    # Then each went to its own application: its own rules' application id, its own data
    assert (default_answer.status, us_answer.status) == (200, 200)
    ours, theirs = host.state()["sessions"]["s-1"], us.state()["sessions"]["s-1"]
    assert (ours["profileId"], theirs["profileId"]) == ("p-eu", "p-us")
    assert theirs["applicationId"] == ours["applicationId"] + 1
    # And both are served at one address
    assert us.base_url == host.base_url == client.base_url


def test_the_one_request_log_names_the_application_each_request_reached(two: tuple[Emulator, Emulator, Client]) -> None:
    _, us, client = two
    client.session_v2("s-1", {"customerSession": {"profileId": "p-eu"}})
    client.session_v2("s-2", {"customerSession": {"profileId": "p-us"}}, **as_us())
    client.session_v2("s-3", {"customerSession": {}}, auth=None, headers={"Authorization": "ApiKey-v1 nobodys"})
    # Then the emulator's log holds all three, each naming the application it reached (an unknown key: the first,
    # which refused it as Talon.One does)
    logged = client.admin("GET", "requests").body["requests"]
    assert [(r["path"], r["application"], r["status"]) for r in logged] == [
        ("/v2/customer_sessions/s-1", "default", 200),
        ("/v2/customer_sessions/s-2", "us", 200),
        ("/v2/customer_sessions/s-3", "default", 401),
    ]
    # And each application's own admin interface shows its requests only
    own = client.admin("GET", "applications/us/requests").body["requests"]
    assert [r["path"] for r in own] == ["/v2/customer_sessions/s-2"] == [r["path"] for r in us.requests()]
    first = client.admin("GET", "applications/default/requests").body["requests"]
    assert [r["path"] for r in first] == ["/v2/customer_sessions/s-1", "/v2/customer_sessions/s-3"]
    assert client.admin("GET", "applications/mars/requests").status == 404


def test_a_fault_of_one_application_is_its_own(two: tuple[Emulator, Emulator, Client]) -> None:
    host, us, client = two
    # Given an outage of `us` injected through its own admin interface
    assert client.admin("POST", "applications/us/faults", {"status": 503, "count": 2}).status == 201
    # When both are called, then `us` answers 503 and the default application 200
    assert client.session_v2("s-1", {"customerSession": {}}, **as_us()).status == 503
    assert client.session_v2("s-1", {"customerSession": {}}).status == 200
    assert (len(us.faults()), host.faults()) == (1, [])


def test_a_reset_of_the_emulator_resets_every_application_and_one_applications_only_its_own(
    two: tuple[Emulator, Emulator, Client],
) -> None:
    host, us, client = two
    client.session_v2("s-1", {"customerSession": {}})
    client.session_v2("s-1", {"customerSession": {}}, **as_us())
    # When `us` alone is reset, then only its data and requests are gone
    assert client.admin("POST", "applications/us/reset").status == 204
    assert (us.state()["sessions"], us.requests()) == ({}, [])
    assert "s-1" in host.state()["sessions"] and len(host.requests()) == 1
    # When the emulator is reset, then every application's are
    client.session_v2("s-1", {"customerSession": {}}, **as_us())
    host.reset()
    assert (host.state()["sessions"], us.state()["sessions"], host.requests()) == ({}, {}, [])


def test_an_application_is_added_once_and_only_to_the_first_emulator() -> None:
    host = Emulator(api_keys={API_KEY}, application="default")
    us = host.add_application("us", api_keys={US_KEY})
    with pytest.raises(ValueError, match="served already"):
        host.add_application("us", api_keys={"other"})
    with pytest.raises(ValueError, match="served already"):
        host.add_application("default", api_keys={"other"})
    with pytest.raises(ValueError, match="cannot host"):
        us.add_application("uk", api_keys={"uk"})
    assert host.applications() == ["default", "us"]


def test_the_cli_serves_another_application_from_the_same_process() -> None:
    import subprocess
    import sys

    import urllib3

    from tests.support import ROOT

    # Given `python -m local.emulator --api-key K --application us=U`
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--api-key", API_KEY, "--application", f"us={US_KEY}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        # When each key updates a session, then each reached its application, as the log says
        for key in (API_KEY, US_KEY):
            headers = {"Authorization": f"ApiKey-v1 {key}", "Content-Type": "application/json"}
            body = b'{"customerSession": {}}'
            assert urllib3.request("PUT", f"{url}/v2/customer_sessions/s-1", body=body, headers=headers).status == 200
        logged = urllib3.request("GET", f"{url}/_emulator/requests").json()["requests"]
        assert [r["application"] for r in logged] == ["default", "us"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
