"""HTTP behaviour: request validation, auth schemes, path encoding, content types, routing."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import Emulator, sign
from talon_relay.wire.models import ErrorResponse
from tests.emulator.helpers import API_KEY, APP_ID, APP_KEY, Client, SpecCheck


def pointers(answer) -> list[str | None]:
    return [error["source"].get("pointer") for error in answer.body["errors"]]


# --- validation -------------------------------------------------------------------------------


def item(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "sku": "b", "quantity": 1, "price": 1, **fields}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


SESSION, PROFILE, EVENTS, REFERRALS = (
    "/v1/customer_sessions/s-1",
    "/v1/customer_profiles/p-1",
    "/v1/events",
    "/v1/referrals",
)
EVENT = {"sessionId": "s", "type": "x", "attributes": {}}
REFERRAL = {"campaignId": 3, "advocateProfileIntegrationId": "a"}


@pytest.mark.parametrize(
    ("method", "path", "body", "pointer"),
    [
        ("PUT", SESSION, {"cartItems": [item(), item(quantity=0)]}, "/cartItems/1/quantity"),
        ("PUT", SESSION, {"cartItems": [without(item(), "quantity")]}, "/cartItems/0/quantity"),
        ("PUT", SESSION, {"cartItems": [item(name="")]}, "/cartItems/0/name"),
        ("PUT", SESSION, {"cartItems": [item(quantity="2")]}, "/cartItems/0/quantity"),
        ("PUT", SESSION, {"cartItems": [item(quantity=1.5)]}, "/cartItems/0/quantity"),
        ("PUT", SESSION, {"cartItems": [item(price="1")]}, "/cartItems/0/price"),
        ("PUT", SESSION, {"total": "12"}, "/total"),
        ("PUT", SESSION, {"profileId": 5}, "/profileId"),
        ("PUT", SESSION, {"attributes": []}, "/attributes"),
        ("PUT", SESSION, {"shoppingCart": []}, "/shoppingCart"),
        ("PUT", SESSION, {"profile_id": "p"}, "/profile_id"),
        ("PUT", SESSION, {"a/b~c": 1}, "/a~1b~0c"),
        ("PUT", PROFILE, {"attributes": "x"}, "/attributes"),
        ("POST", EVENTS, without(EVENT, "sessionId"), "/sessionId"),
        ("POST", EVENTS, without(EVENT, "type"), "/type"),
        ("POST", EVENTS, without(EVENT, "attributes"), "/attributes"),
        ("POST", EVENTS, {**EVENT, "sessionId": ""}, "/sessionId"),
        ("POST", EVENTS, {**EVENT, "extra": 1}, "/extra"),
        ("POST", REFERRALS, {**REFERRAL, "campaignId": "3"}, "/campaignId"),
        ("POST", REFERRALS, {**REFERRAL, "startDate": "tomorrow"}, "/startDate"),
        ("POST", REFERRALS, {**REFERRAL, "expiryDate": "2030-01-01T00:00:00"}, "/expiryDate"),
    ],
)
def test_invalid_bodies_get_400_naming_the_json_pointer(
    client: Client, emulator: Emulator, conforms: SpecCheck, method, path, body, pointer
):
    # Given a body that breaks the spec at one place
    # When it is sent
    answer = client.request(method, path, body)
    # Then 400 in the ErrorResponse shape, naming that place, and nothing was stored
    assert answer.status == 400, answer.body
    conforms("ErrorResponse", answer.body)
    ErrorResponse.model_validate(answer.body)
    assert pointer in pointers(answer)
    assert pointer in answer.body["message"]
    assert emulator.state()["events"] == []


def test_every_problem_of_a_body_is_reported(client: Client):
    answer = client.session("s-1", {"total": "x", "state": "gone", "bogus": True})
    assert set(pointers(answer)) == {"/total", "/state", "/bogus"}


@pytest.mark.parametrize("raw", [b"{not json", b'{"total": 1,}', b'{"total": NaN}', b"\xff\xfe{"])
def test_invalid_json_is_a_400(client: Client, conforms: SpecCheck, raw: bytes):
    answer = client.request("PUT", "/v1/customer_sessions/s-1", raw=raw)
    assert answer.status == 400
    conforms("ErrorResponse", answer.body)
    assert "JSON" in answer.body["message"]


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
def test_body_must_be_a_json_object(client: Client, raw: bytes):
    answer = client.request("POST", "/v1/events", raw=raw)
    assert answer.status == 400
    assert pointers(answer) == [""]


def test_open_definitions_accept_unknown_keys(client: Client):
    # NewCustomerProfile and NewReferral are not closed in the spec; CartItem is open too
    assert client.profile("p-1", {"attributes": {}, "futureField": 1}).status == 200
    referral = {"campaignId": 3, "advocateProfileIntegrationId": "a", "futureField": 1}
    assert client.referral(referral).status == 201
    item = {"name": "a", "sku": "b", "quantity": 1, "price": 1, "color": "red"}
    assert client.session("s-1", {"cartItems": [item]}).status == 200


def test_null_optional_fields_are_treated_as_absent(client: Client):
    answer = client.session("s-1", {"profileId": "p", "coupon": None, "cartItems": None})
    assert answer.status == 200
    assert answer.body["session"]["coupon"] == ""


# --- content types and headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
def test_json_content_types_are_accepted(client: Client, content_type: str):
    answer = client.request(
        "PUT",
        "/v1/customer_sessions/s-1",
        {"profileId": "p"},
        headers={"Content-Type": content_type, "X-Unknown-Header": "whatever", "User-Agent": "sdk/1"},
    )
    assert answer.status == 200


def test_other_content_types_are_refused(client: Client):
    answer = client.request(
        "PUT", "/v1/customer_sessions/s-1", {"profileId": "p"}, headers={"Content-Type": "text/plain"}
    )
    assert answer.status == 415
    assert answer.body["errors"][0]["source"] == {"parameter": "Content-Type"}


def test_chunked_request_body_is_read(emulator: Emulator):
    import urllib3

    assert emulator.base_url is not None
    response = urllib3.PoolManager().request(
        "PUT",
        emulator.base_url + "/v1/customer_sessions/s-1",
        body=iter([b'{"profile', b'Id": "p-chunk"}']),
        headers={"Authorization": f"ApiKey-v1 {API_KEY}", "Content-Type": "application/json"},
        chunked=True,
        retries=False,
    )
    assert response.status == 200
    assert response.json()["session"]["profileId"] == "p-chunk"


def test_responses_are_json(client: Client):
    answer = client.session("s-1", {})
    assert answer.headers["Content-Type"] == "application/json"
    assert int(answer.headers["Content-Length"]) == len(answer.raw)


# --- auth -------------------------------------------------------------------------------------


def test_api_key_authorizes(client: Client):
    assert client.session("s-1", {}, auth="apikey").status == 200


def test_content_signature_authorizes(client: Client):
    assert client.session("s-1", {"profileId": "p"}, auth="hmac").status == 200


def test_signature_covers_the_exact_body_bytes(client: Client):
    # Given a signature of the body without spaces
    signed = b'{"profileId":"p"}'
    header = f"signer={APP_ID}; signature={sign(APP_KEY, signed)}"
    # When the same JSON is sent with other bytes
    answer = client.request(
        "PUT",
        "/v1/customer_sessions/s-1",
        raw=b'{"profileId": "p"}',
        auth=None,
        headers={"Content-Signature": header},
    )
    # Then the signature does not match
    assert answer.status == 401
    assert answer.body["errors"][0]["source"] == {"parameter": "Content-Signature"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "ApiKey-v1 wrong"},
        {"Authorization": f"Bearer {API_KEY}"},
        {"Authorization": "ApiKey-v1"},
        {"Content-Signature": "signer=12; signature=00"},
        {"Content-Signature": "signer=99; signature=00"},
        {"Content-Signature": "garbage"},
        {"Content-Signature": f"signer=abc; signature={sign(APP_KEY, b'{}')}"},
    ],
)
def test_missing_or_bad_credentials_get_401(client: Client, emulator: Emulator, conforms: SpecCheck, headers):
    answer = client.request("PUT", "/v1/customer_sessions/s-1", {}, auth=None, headers=headers)
    assert answer.status == 401
    conforms("ErrorResponse", answer.body)
    assert emulator.state()["sessions"] == {}


def test_401_never_echoes_the_key(client: Client):
    answer = client.request(
        "PUT", "/v1/customer_sessions/s-1", {}, auth=None, headers={"Authorization": "ApiKey-v1 s3cr3t-value"}
    )
    assert b"s3cr3t-value" not in answer.raw


def test_a_valid_signature_wins_over_a_bad_api_key(client: Client):
    body = b"{}"
    headers = {
        "Authorization": "ApiKey-v1 wrong",
        "Content-Signature": f"signer={APP_ID}; signature={sign(APP_KEY, body)}",
    }
    answer = client.request("PUT", "/v1/customer_sessions/s-1", raw=body, auth=None, headers=headers)
    assert answer.status == 200


def test_keys_rotate_through_the_admin_interface(client: Client):
    # Given the old key works
    assert client.session("s-1", {}).status == 200
    # When keys are replaced
    answer = client.admin("PUT", "keys", {"apiKeys": ["new-key"], "applications": {"12": "00ff00ff"}})
    assert answer.status == 200
    assert answer.body == {"apiKeys": 1, "applications": [12]}
    assert b"new-key" not in answer.raw and b"00ff00ff" not in answer.raw
    # Then the old key and the old application key get 401, the new ones work
    assert client.session("s-1", {}).status == 401
    assert client.session("s-1", {}, auth="hmac").status == 401
    new_key = {"Authorization": "ApiKey-v1 new-key"}
    assert client.session("s-1", {}, auth=None, headers=new_key).status == 200
    signed = {"Content-Signature": f"signer=12; signature={sign('00ff00ff', b'{}')}"}
    assert client.request("PUT", "/v1/customer_sessions/s-1", raw=b"{}", auth=None, headers=signed).status == 200


def test_api_key_mapped_to_an_application(client: Client, emulator: Emulator):
    emulator.set_keys(api_keys={"key-app-7": 7})
    answer = client.session("s-1", {}, auth=None, headers={"Authorization": "ApiKey-v1 key-app-7"})
    assert answer.body["session"]["applicationId"] == 7


def test_invalid_keys_body_is_refused(client: Client):
    assert client.admin("PUT", "keys", {"applications": {"12": "not-hex"}}).status == 400
    assert client.admin("PUT", "keys", {"apiKey": "x"}).status == 400
    # and nothing changed
    assert client.session("s-1", {}).status == 200


def test_bad_signature_status_can_be_the_2019_400():
    emu = Emulator(applications={APP_ID: APP_KEY}, bad_signature_status=400)
    base = emu.start()
    try:
        import urllib3

        response = urllib3.request(
            "PUT",
            base + "/v1/customer_sessions/s",
            body=b"{}",
            headers={"Content-Signature": f"signer={APP_ID}; signature=00"},
            retries=False,
        )
    finally:
        emu.stop()
    assert response.status == 400


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "identifier"),
    [
        ("a%2Fb", "a/b"),
        ("%252F", "%2F"),
        ("kund%C3%A9%20%E2%82%AC", "kundé €"),
        ("a+b", "a+b"),
        ("a%3Fb%23c", "a?b#c"),
        ("user%40example.com", "user@example.com"),
        ("%2E%2E", ".."),
    ],
)
def test_path_parameters_are_decoded_as_one_segment(client: Client, emulator: Emulator, segment: str, identifier: str):
    # Given an id sent percent-encoded in one path segment
    # When a session and a profile are updated with it
    session = client.request("PUT", f"/v1/customer_sessions/{segment}", {"profileId": identifier})
    profile = client.request("PUT", f"/v1/customer_profiles/{segment}", {})
    deleted = client.request("DELETE", f"/v1/customer_data/{segment}")
    # Then the decoded id is the entity's id, and the log shows raw path and decoded params
    assert session.status == 200 and session.body["session"]["integrationId"] == identifier
    assert profile.status == 200 and profile.body["profile"]["integrationId"] == identifier
    assert deleted.status == 204
    assert identifier in emulator.state()["sessions"]
    logged = emulator.requests()[0]
    assert logged["path"] == f"/v1/customer_sessions/{segment}"
    assert logged["params"] == {"customerSessionId": identifier}


def test_an_unencoded_slash_is_not_an_id(client: Client):
    answer = client.request("PUT", "/v1/customer_sessions/a/b", {})
    assert answer.status == 404


def test_invalid_utf8_in_a_path_parameter_is_a_400(client: Client):
    answer = client.request("PUT", "/v1/customer_sessions/%FF", {})
    assert answer.status == 400
    assert answer.body["errors"][0]["source"] == {"parameter": "customerSessionId"}


def test_empty_path_parameter_is_a_400(client: Client):
    answer = client.request("PUT", "/v1/customer_sessions/", {})
    assert answer.status == 400


def test_query_strings_are_ignored(client: Client):
    answer = client.request("PUT", "/v1/customer_sessions/s-1?dry=true", {})
    assert answer.status == 200
    assert answer.body["session"]["integrationId"] == "s-1"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/customer_sessions/s-1", 405),
        ("POST", "/v1/customer_profiles/p-1", 405),
        ("PUT", "/v1/events", 405),
        ("GET", "/v1/referrals", 405),
        ("DELETE", "/v2/customer_sessions/s-1", 405),
        ("GET", "/v3/customer_sessions/s-1", 404),
        ("POST", "/v2/referrals", 404),
        ("DELETE", "/v2/customer_data/p-1", 404),
        ("PUT", "/v1/customer_sessions", 404),
        ("POST", "/v1/events/", 404),
        ("GET", "/", 404),
    ],
)
def test_unknown_routes_and_methods(client: Client, conforms: SpecCheck, method, path, status):
    answer = client.request(method, path, {} if method in ("PUT", "POST") else None)
    assert answer.status == status
    conforms("ErrorResponse", answer.body)
    if status == 405:
        assert answer.headers["Allow"]
