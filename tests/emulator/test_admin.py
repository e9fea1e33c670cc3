"""The /_emulator/ interface: faults, request log, state dump, reset; and the log lines."""

from __future__ import annotations

import logging
import threading

import pytest
import urllib3
from pydantic import ValidationError
from urllib3.exceptions import ProtocolError

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, Client, PausingEmulator, SpecCheck, serving
from tests.support import FakeClock

SESSION = "/v1/customer_sessions/s-1"


# --- faults -----------------------------------------------------------------------------------


def test_status_fault_answers_instead_of_processing(client: Client, emulator: Emulator, conforms: SpecCheck):
    # Given two 503s queued for the sessions path
    answer = client.admin("POST", "faults", {"count": 2, "status": 503, "path": "/v1/customer_sessions"})
    assert answer.status == 201
    assert answer.body["fault"]["remaining"] == 2
    # When an event (other path) and then three session updates arrive
    assert client.event({"sessionId": "e", "type": "x", "attributes": {}}).status == 201
    answers = [client.session("s-1", {"total": 1}) for _ in range(3)]
    # Then the first two get the 503 ErrorResponse without any change, the third is served
    assert [a.status for a in answers] == [503, 503, 200]
    conforms("ErrorResponse", answers[0].body)
    assert [e["sessionId"] for e in emulator.state()["events"]] == ["e", "s-1"]
    assert client.admin("GET", "faults").body == {"faults": []}


def test_fault_method_filter(client: Client):
    client.admin("POST", "faults", {"status": 500, "method": "delete"})
    assert client.session("s-1", {"profileId": "p"}).status == 200
    assert client.delete("p").status == 500
    assert client.delete("p").status == 204


def test_fault_with_custom_body_and_headers(client: Client):
    client.admin(
        "POST",
        "faults",
        {"status": 429, "body": {"message": "slow down"}, "headers": {"Retry-After": "2"}},
    )
    answer = client.session("s-1", {})
    assert answer.status == 429
    assert answer.body == {"message": "slow down"}
    assert answer.headers["Retry-After"] == "2"


def test_delay_fault_delays_then_serves(clocked_emulator: tuple[Emulator, Client], clock: FakeClock):
    # Given a 0.3 s delay queued, on the emulator's clock
    emulator, client = clocked_emulator
    emulator.inject_fault(delay=0.3)
    # When a request comes, then it is served after waiting the delay
    answer = client.session("s-1", {})
    assert answer.status == 200
    assert clock.slept == [0.3]
    # And only once: the next one is served without a wait
    client.session("s-1", {})
    assert clock.slept == [0.3]


def test_delay_makes_a_client_time_out(client: Client, emulator: Emulator):
    emulator.inject_fault(delay=1.0, status=504)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        client.session("s-1", {}, timeout=0.2)


def test_drop_fault_closes_the_connection_without_answer(client: Client, emulator: Emulator):
    # Given a dropped answer is queued
    emulator.inject_fault(drop=True)
    # When a session is updated
    with pytest.raises(ProtocolError):
        client.session("s-1", {"profileId": "p"})
    # Then nothing happened, and the log shows the drop
    assert emulator.state()["sessions"] == {}
    logged = emulator.requests()[-1]
    assert logged["dropped"] is True and logged["status"] is None
    # And the next request is served on a new connection
    assert client.session("s-1", {"profileId": "p"}).status == 200


def test_fault_after_processing_changes_state_but_fails(client: Client, emulator: Emulator):
    # Given Talon.One "accepts but the answer is lost": a 502 after processing
    emulator.inject_fault(status=502, after=True)
    # When a session is closed
    answer = client.session("s-1", {"profileId": "p", "total": 10, "state": "closed"})
    # Then the client sees 502, but the session is closed and counted
    assert answer.status == 502
    state = emulator.state()
    assert state["sessions"]["s-1"]["state"] == "closed"
    assert state["profiles"]["p"]["closedSessions"] == 1
    logged = emulator.requests()[-1]
    assert logged["status"] == 502 and logged["fault"]["after"] is True
    # And a retry of the same request is harmless (closing again is a no-op)
    retry = client.session("s-1", {"profileId": "p", "total": 10, "state": "closed"})
    assert retry.status == 200 and retry.body["profile"]["closedSessions"] == 1


def test_drop_after_processing(client: Client, emulator: Emulator):
    emulator.inject_fault(drop=True, after=True, path="/v1/referrals")
    with pytest.raises(ProtocolError):
        client.referral({"campaignId": 3, "advocateProfileIntegrationId": "a"})
    assert len(emulator.state()["referrals"]) == 1


def test_delay_after_processing_times_out_a_client_after_the_change(client: Client, emulator: Emulator):
    emulator.inject_fault(delay=0.6, after=True)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        client.event({"sessionId": "s", "type": "x", "attributes": {}}, timeout=0.2)
    assert len(emulator.state()["events"]) == 1


@pytest.mark.parametrize(
    ("fault", "pointer"),
    [
        ({"delay": 31}, "/delay"),
        ({"delay": -1}, "/delay"),
        ({"status": 503, "count": 0}, "/count"),
        ({"status": 99}, "/status"),
        ({"status": 503, "drop": True}, ""),
        ({}, ""),
        ({"body": {"x": 1}, "delay": 1}, ""),
        ({"status": 503, "sleep": 1}, "/sleep"),
    ],
)
def test_invalid_faults_are_refused(client: Client, fault, pointer):
    answer = client.admin("POST", "faults", fault)
    assert answer.status == 400
    assert answer.body["errors"][0]["source"]["pointer"] == pointer
    assert client.admin("GET", "faults").body == {"faults": []}


def test_python_fault_api_validates_and_lists(emulator: Emulator):
    with pytest.raises(ValidationError):
        emulator.inject_fault(delay=60)
    emulator.inject_fault(status=503, count=3, path="/v1/events")
    assert [(f["status"], f["remaining"], f["path"]) for f in emulator.faults()] == [(503, 3, "/v1/events")]
    emulator.clear_faults()
    assert emulator.faults() == []


def test_faults_are_cleared_through_delete(client: Client):
    client.admin("POST", "faults", {"status": 500, "count": 5})
    assert client.admin("DELETE", "faults").status == 204
    assert client.session("s-1", {}).status == 200


def test_a_delayed_request_does_not_block_others():
    # Given a slow answer on one path: its delay holds until the test lets it go
    delayed, release = threading.Event(), threading.Event()

    def hold(seconds: float) -> None:
        delayed.set()
        release.wait(timeout=10)

    with serving(PausingEmulator(hold, api_keys={API_KEY})) as client:
        client.admin("POST", "faults", {"delay": 1.0, "path": "/v1/events"})
        results: dict[str, int] = {}

        def slow() -> None:
            results["slow"] = client.event({"sessionId": "s", "type": "x", "attributes": {}}).status

        thread = threading.Thread(target=slow)
        thread.start()
        assert delayed.wait(timeout=5)
        # When another request comes while the slow one is held
        fast = client.session("s-2", {}, timeout=5)
        # Then it is served meanwhile (a blocked one would time out), before the slow one is answered
        assert fast.status == 200
        assert "slow" not in results
        release.set()
        thread.join()
        assert results["slow"] == 201


# --- request log, state, reset ----------------------------------------------------------------


def test_request_log_records_requests_without_secrets(client: Client, emulator: Emulator):
    # Given requests with both auth schemes, one failing validation
    client.session("s%2F1", {"profileId": "p", "coupon": "SAVE5"})
    client.session("s-2", {"profileId": "p"}, auth="hmac")
    client.session("s-3", {"total": "x"})
    # When the log is read over HTTP
    answer = client.admin("GET", "requests")
    # Then it lists them, oldest first, with method, raw path, params, body, status, effects
    assert answer.status == 200
    logged = answer.body["requests"]
    assert logged == emulator.requests()
    first, second, third = logged
    assert first["method"] == "PUT"
    assert first["path"] == "/v1/customer_sessions/s%252F1"
    assert first["params"] == {"customerSessionId": "s%2F1"}
    assert first["operation"] == "updateCustomerSession"
    assert first["body"] == {"profileId": "p", "coupon": "SAVE5"}
    assert first["status"] == 200
    assert first["effects"] == ["acceptCoupon", "setDiscount"]
    assert first["auth"] == "apiKey" and second["auth"] == "signature"
    assert third["status"] == 400 and third["effects"] == []
    assert first["timestamp"].endswith("Z")
    # And never a credential
    for entry in logged:
        names = {name.lower() for name in entry["headers"]}
        assert "authorization" not in names and "content-signature" not in names
    assert API_KEY.encode() not in answer.raw
    assert b"signature=" not in answer.raw


def test_admin_requests_are_not_logged(client: Client):
    client.admin("GET", "state")
    client.admin("GET", "health")
    assert client.admin("GET", "requests").body == {"requests": []}


def test_request_log_can_be_cleared(client: Client, emulator: Emulator):
    client.session("s-1", {})
    assert client.admin("DELETE", "requests").status == 204
    assert emulator.requests() == []
    assert emulator.state()["sessions"]  # state kept


def test_state_dump_shows_everything(client: Client, conforms: SpecCheck):
    client.session("s-1", {"profileId": "p", "coupon": "WELCOME10", "state": "closed"})
    client.referral({"campaignId": 3, "advocateProfileIntegrationId": "p"})
    state = client.admin("GET", "state").body
    assert set(state) >= {"profiles", "sessions", "events", "referrals", "couponUsage"}
    assert state["sessions"]["s-1"]["state"] == "closed"
    assert state["profiles"]["p"]["closedSessions"] == 1
    assert state["couponUsage"] == {"WELCOME10": 1}
    assert state["referrals"][0]["advocateProfileIntegrationId"] == "p"
    conforms("Referral", state["referrals"][0])
    conforms("Event", state["events"][0])


def test_reset_clears_state_log_and_faults_but_keeps_keys(client: Client, emulator: Emulator):
    # Given state, a log and a queued fault
    client.session("s-1", {"profileId": "p"})
    emulator.inject_fault(status=500, count=10, path="/v1/events")
    # When the emulator is reset over HTTP
    assert client.admin("POST", "reset").status == 204
    # Then all three are empty
    state = emulator.state()
    assert state["profiles"] == {} and state["sessions"] == {} and state["events"] == []
    assert emulator.requests() == [] and emulator.faults() == []
    # And the key still works, ids start again
    answer = client.event({"sessionId": "s", "type": "x", "attributes": {}})
    assert answer.status == 201 and answer.body["event"]["id"] == 1


def test_python_reset(client: Client, emulator: Emulator):
    client.session("s-1", {"profileId": "p"})
    emulator.inject_fault(status=500)
    emulator.reset()
    assert emulator.state()["sessions"] == {} and emulator.faults() == []
    assert emulator.requests() == []


def test_unknown_admin_endpoint_is_404(client: Client):
    assert client.admin("GET", "nothing").status == 404
    assert client.admin("GET", "health").body == {"status": "ok"}


# --- log lines --------------------------------------------------------------------------------


def test_one_log_line_per_request_without_key_or_attributes(client: Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="local.emulator")
    client.session("s-1", {"profileId": "p", "coupon": "SAVE5", "attributes": {"email": "ann@x.io"}})
    client.event({"sessionId": "s-1", "type": "x", "attributes": {"secretAttr": "hidden-value"}})
    lines = [r.getMessage() for r in caplog.records if r.name == "local.emulator"]
    assert lines == [
        "PUT /v1/customer_sessions/s-1 -> 200 effects=[acceptCoupon,setDiscount]",
        "POST /v1/events -> 201 effects=[acceptCoupon,setDiscount]",
    ]
    text = caplog.text
    assert API_KEY not in text
    assert "ann@x.io" not in text and "hidden-value" not in text and "secretAttr" not in text
