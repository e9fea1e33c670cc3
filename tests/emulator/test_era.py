"""The era setting: v1 answers carry today's loyalty ledgers (the default) or, when asked, the May 2019 balances."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import urllib3

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, ROOT, Client, OpenApiCheck, SpecCheck

PURCHASE = {"profileId": "p-1", "sessionId": "s-1", "type": "purchase", "attributes": {}}


def test_default_era_answers_todays_ledgers_on_v1(client: Client, emulator: Emulator, conforms_v2: OpenApiCheck):
    # Given an emulator with no era chosen
    assert emulator.era == "2026"
    # When a purchase earns points over v1
    answer = client.event(PURCHASE)
    # Then loyalty is today's LoyaltyProgramLedgers (what Talon.One answers, and its SDKs read, since late 2019)
    assert answer.status == 201
    conforms_v2("Loyalty", answer.body["loyalty"])
    program = answer.body["loyalty"]["programs"]["1"]
    assert program["ledger"]["currentBalance"] == 10.0 and "currentBalance" not in program


def test_era_2019_answers_balances_on_v1(emulator: Emulator, client: Client, conforms: SpecCheck):
    # Given an emulator asked for the May 2019 shapes
    emulator.era = "2019"
    # When a purchase earns points over v1
    answer = client.event(PURCHASE)
    # Then loyalty is the May 2019 LoyaltyProgramBalance
    conforms("IntegrationState", answer.body)
    assert answer.body["loyalty"] == {"programs": {"1": {"currentBalance": 10.0}}}


def test_era_2019_is_a_constructor_argument_too():
    # Given an emulator constructed for the May 2019 shapes
    with Emulator(api_keys={API_KEY}, era="2019") as emu:
        assert emu.base_url is not None
        client = Client(emu.base_url, urllib3.PoolManager())
        # When a purchase earns points over v1
        answer = client.event(PURCHASE)
        # Then its settings say 2019 and loyalty is the balance
        assert client.admin("GET", "settings").body["era"] == "2019"
    assert answer.body["loyalty"] == {"programs": {"1": {"currentBalance": 10.0}}}


def test_era_2026_answers_ledgers_on_v1(conforms_v2: OpenApiCheck):
    # Given an emulator in the 2026 era, with a named loyalty program
    rules: dict[str, Any] = {
        "loyaltyPrograms": [{"id": 1, "name": "points", "title": "Points"}],
        "campaigns": [{"id": 4, "rulesetId": 14, "rules": [
            {"type": "event", "eventType": "purchase", "programId": 1, "points": 10, "reason": "Purchase"}]}],
    }  # fmt: skip
    with Emulator(rules, api_keys={API_KEY}, era="2026") as emu:
        assert emu.base_url is not None
        client = Client(emu.base_url, urllib3.PoolManager())
        # When a purchase earns points over v1
        answer = client.event(PURCHASE)
    # Then loyalty is today's LoyaltyProgramLedgers, the rest of the answer unchanged
    assert answer.status == 201
    program = answer.body["loyalty"]["programs"]["1"]
    conforms_v2("Loyalty", answer.body["loyalty"])
    assert (program["id"], program["name"], program["title"]) == (1, "points", "Points")
    assert program["ledger"]["currentBalance"] == 10 and program["subLedgers"] == {}
    assert "currentBalance" not in program
    assert answer.body["event"]["effects"] == [[4, 14, 0, ["addLoyaltyPoints", 1, 10, "Purchase"]]]


def test_era_switches_at_runtime_through_the_admin_interface(client: Client, emulator: Emulator):
    # Given the default settings (today's shapes)
    assert client.admin("GET", "settings").body == {"era": "2026", "badSignatureStatus": 401, "latencyMs": 0.0}
    assert "ledger" in client.event(PURCHASE).body["loyalty"]["programs"]["1"]
    # When the era is set to 2019
    answer = client.admin("PUT", "settings", {"era": "2019"})
    # Then the settings show it and the next v1 answer has the 2019 balance
    assert answer.status == 200 and answer.body == {"era": "2019", "badSignatureStatus": 401, "latencyMs": 0.0}
    assert emulator.era == "2019"
    assert client.event(PURCHASE).body["loyalty"]["programs"]["1"] == {"currentBalance": 20.0}
    # And back
    client.admin("PUT", "settings", {"era": "2026"})
    assert client.event(PURCHASE).body["loyalty"]["programs"]["1"]["ledger"]["currentBalance"] == 30.0


def test_v2_answers_have_ledgers_whatever_the_era(client: Client, conforms_v2: OpenApiCheck):
    answer = client.event_v2({"profileId": "p-1", "type": "purchase", "responseContent": ["loyalty"]}, "silent=no")
    conforms_v2("LoyaltyProgramLedgers", answer.body["loyalty"]["programs"]["1"])


@pytest.mark.parametrize(
    ("body", "pointer"),
    [({"era": "1999"}, "/era"), ({"badSignatureStatus": 403}, "/badSignatureStatus"), ({"eras": "2019"}, "/eras")],
)
def test_invalid_settings_are_refused(client: Client, body: dict[str, Any], pointer: str):
    answer = client.admin("PUT", "settings", body)
    assert answer.status == 400
    assert answer.body["errors"][0]["source"]["pointer"] == pointer
    assert client.admin("GET", "settings").body == {"era": "2026", "badSignatureStatus": 401, "latencyMs": 0.0}


def test_bad_signature_status_is_a_setting_too(client: Client):
    assert client.admin("PUT", "settings", {"badSignatureStatus": 400}).status == 200
    answer = client.session("s-1", {}, auth=None, headers={"Content-Signature": "signer=12; signature=00"})
    assert answer.status == 400


def test_unknown_era_is_refused_by_the_constructor():
    with pytest.raises(ValueError, match="era"):
        Emulator(era="1999")


@pytest.mark.parametrize(
    ("args", "env", "era"),
    [
        (["--era", "2019"], {}, "2019"),
        ([], {"TALON_EMULATOR_ERA": "2019"}, "2019"),
        (["--era", "2026"], {"TALON_EMULATOR_ERA": "2019"}, "2026"),
        ([], {}, "2026"),
    ],
)
def test_cli_era_flag_and_environment(args: list[str], env: dict[str, str], era: str):
    environment = {k: v for k, v in os.environ.items() if k != "TALON_EMULATOR_ERA"} | env
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--port", "0", "--log-level", "WARNING", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert urllib3.request("GET", url + "/_emulator/settings").json()["era"] == era
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(("args", "env"), [(["--era", "1999"], {}), ([], {"TALON_EMULATOR_ERA": "1999"})])
def test_cli_refuses_an_unknown_era(args: list[str], env: dict[str, str]):
    result = subprocess.run(
        [sys.executable, "-m", "local.emulator", *args],
        cwd=ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "ERA" in result.stderr.upper()
