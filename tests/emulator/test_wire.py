"""Bytes on the wire: the request log keeps bodies byte for byte; nothing leaves as NaN/Infinity;
strict JSON types without coercion (v1 and v2); Content-Type; header names in any case."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import urllib3

from local.emulator import Emulator
from tests.emulator.helpers import API_KEY, Answer, Client, SpecCheck


def strict_json(raw: bytes) -> Any:
    """Parse as a strict JSON reader would: NaN, Infinity and -Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in JSON output")

    return json.loads(raw, parse_constant=refuse)


def sources(answer: Answer) -> list[dict[str, str]]:
    return [error["source"] for error in answer.body["errors"]]


# --- the request log keeps the exact bytes ----------------------------------------------------

ODD_BODIES = [
    # odd spacing, key order, escaped and unescaped unicode, an escaped slash, a trailing newline
    ("PUT", "/v1/customer_sessions/s-1",
     b'{ "total" :12.50,"profileId":"p\\u00e9",\t"attributes":{"z":1,"a":"\xc3\xa9\\/"}}\n'),
    ("POST", "/v1/events", b'{"type":"x","attributes":{"n":1E2,"big":12345678901234567890},"sessionId":"s"}'),
    ("PUT", "/v2/customer_sessions/s-2",
     b'{"customerSession":{"profileId":"\\ud83d\\ude00"},\r\n "responseContent":[]}'),
    ("PUT", "/v1/customer_sessions/s-3", b'{"total": "not a number"}'),  # refused (400), logged all the same
    ("PUT", "/v1/customer_sessions/s-4", b"{not json"),
    ("PUT", "/v1/customer_sessions/s-5", b'{"total": 1e999}'),
    ("PUT", "/v1/customer_sessions/s-6", b'{"attributes": {"bin": "\xff\xfe"}}'),  # not UTF-8
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "raw"), ODD_BODIES)
def test_request_log_keeps_the_body_byte_for_byte(client: Client, emulator: Emulator, method, path, raw: bytes):
    # Given a body with bytes a JSON round trip would not keep
    # When it is sent
    client.request(method, path, raw=raw)
    # Then the log (read over HTTP) holds exactly those bytes
    (entry,) = client.admin("GET", "requests").body["requests"]
    assert base64.b64decode(entry["bodyBase64"]) == raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    assert entry["bodyText"] == text
    # And the Python API says the same
    assert emulator.requests()[0]["bodyBase64"] == entry["bodyBase64"]


def test_request_log_keeps_a_chunked_body_byte_for_byte(emulator: Emulator):
    assert emulator.base_url is not None
    parts = [b'{"profileId" : ', b'"p-chunk"', b" }"]
    urllib3.PoolManager().request(
        "PUT",
        emulator.base_url + "/v1/customer_sessions/s-1",
        body=iter(parts),
        headers={"Authorization": f"ApiKey-v1 {API_KEY}", "Content-Type": "application/json"},
        chunked=True,
        retries=False,
    )
    assert base64.b64decode(emulator.requests()[0]["bodyBase64"]) == b"".join(parts)


def test_a_request_without_body_logs_an_empty_one(client: Client, emulator: Emulator):
    client.profile("p-1", {})
    client.delete("p-1")
    entry = emulator.requests()[-1]
    assert (entry["bodyBase64"], entry["bodyText"], entry["body"]) == ("", "", None)


# --- never NaN or Infinity out ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "raw", "pointer"),
    [
        # 1e308 x 10 overflows a float64: the item's price is named
        ("PUT", "/v1/customer_sessions/s-1",
         b'{"cartItems": [{"name": "a", "sku": "a", "quantity": 10, "price": 1e308}]}', "/cartItems/0/price"),
        # each fits, their sum does not: the price that made it overflow is named
        ("PUT", "/v1/customer_sessions/s-1",
         b'{"cartItems": [{"name": "a", "sku": "a", "quantity": 1, "price": 1.7e308},'
         b' {"name": "b", "sku": "b", "quantity": 1, "price": 1.7e308}]}', "/cartItems/1/price"),
        ("PUT", "/v1/customer_sessions/s-1",
         b'{"cartItems": [{"name": "a", "sku": "a", "quantity": 1' + b"0" * 400 + b', "price": 1}]}',
         "/cartItems/0/quantity"),
        ("PUT", "/v1/customer_sessions/s-1", b'{"total": 1e999}', "/total"),
        ("PUT", "/v1/customer_sessions/s-1", b'{"total": -1e999}', "/total"),
        ("PUT", "/v1/customer_sessions/s-1", b'{"attributes": {"x": [1, 2e400]}}', "/attributes/x/1"),
        ("POST", "/v1/events", b'{"sessionId": "s", "type": "t", "attributes": {"n": 1e309}}', "/attributes/n"),
        ("PUT", "/v2/customer_sessions/s-1",
         b'{"customerSession": {"cartItems": [{"sku": "a", "quantity": 2, "price": 1e308}]}}',
         "/customerSession/cartItems/0/price"),
        ("PUT", "/v2/customer_sessions/s-1",
         b'{"customerSession": {"cartItems": [{"sku": "a", "quantity": 1, "price": 1e308}],'
         b' "additionalCosts": {"ship/ping": {"price": 1e308}}}}', "/customerSession/additionalCosts/ship~1ping/price"),
    ],
)  # fmt: skip
def test_numbers_out_of_range_are_400s_naming_the_field(
    client: Client, emulator: Emulator, conforms: SpecCheck, method: str, path: str, raw: bytes, pointer: str
):
    # Given a body whose numbers (or their sum) do not fit a float64
    # When it is sent
    answer = client.request(method, path, raw=raw)
    # Then 400 naming the field, nothing stored, and every output is strict JSON
    assert answer.status == 400, answer.raw
    strict_json(answer.raw)
    conforms("ErrorResponse", answer.body)
    assert {"pointer": pointer} in sources(answer)
    assert emulator.state()["sessions"] == {} and emulator.state()["events"] == []
    strict_json(client.admin("GET", "requests").raw)
    strict_json(client.admin("GET", "state").raw)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_not_json(client: Client, emulator: Emulator, constant: bytes):
    answer = client.request("PUT", "/v1/customer_sessions/s-1", raw=b'{"total": ' + constant + b"}")
    assert answer.status == 400 and "JSON" in answer.body["message"]
    log = strict_json(client.admin("GET", "requests").raw)["requests"]
    assert log[0]["body"] is None and log[0]["rawBody"].startswith('{"total"')


def test_closing_sessions_whose_sales_overflow_is_refused(client: Client, emulator: Emulator):
    # Given a profile that closed a session of 1.7e308
    client.session("s-1", {"profileId": "p", "total": 1.7e308, "state": "closed"})
    client.session("s-2", {"profileId": "p", "total": 1.7e308})
    # When a second such session closes
    answer = client.session("s-2", {"state": "closed"})
    # Then 400 naming the total, and the session stays open, the sales as they were
    assert answer.status == 400 and sources(answer) == [{"pointer": "/total"}]
    state = strict_json(client.admin("GET", "state").raw)
    assert state["sessions"]["s-2"]["state"] == "open"
    assert state["profiles"]["p"]["totalSales"] == 1.7e308 and state["profiles"]["p"]["closedSessions"] == 1


def test_a_fault_body_with_nan_is_refused(emulator: Emulator):
    with pytest.raises(ValueError, match="NaN"):
        emulator.inject_fault(status=500, body={"x": float("nan")})


def test_the_state_file_is_strict_json(tmp_path, client: Client):
    emu = Emulator(api_keys={API_KEY}, state_file=tmp_path / "state.json")
    base = emu.start()
    try:
        urllib3.request(
            "PUT",
            base + "/v1/customer_sessions/s",
            body=b'{"total": 1.7976931348623157e308}',
            headers={"Authorization": f"ApiKey-v1 {API_KEY}", "Content-Type": "application/json"},
        )
    finally:
        emu.stop()
    assert strict_json((tmp_path / "state.json").read_bytes())["sessions"]["s"]["total"] == 1.7976931348623157e308


# --- strict types, no coercion ----------------------------------------------------------------

ITEM = {"name": "a", "sku": "b", "quantity": 1, "price": 1}


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/v1/customer_sessions/s-1", {"total": "12"}, "/total"),
        ("/v1/customer_sessions/s-1", {"total": True}, "/total"),
        ("/v1/customer_sessions/s-1", {"total": [1]}, "/total"),
        ("/v1/customer_sessions/s-1", {"cartItems": [{**ITEM, "quantity": True}]}, "/cartItems/0/quantity"),
        ("/v1/customer_sessions/s-1", {"cartItems": [{**ITEM, "quantity": 2.0}]}, "/cartItems/0/quantity"),
        ("/v1/customer_sessions/s-1", {"cartItems": [{**ITEM, "weight": "1"}]}, "/cartItems/0/weight"),
        ("/v1/customer_sessions/s-1", {"cartItems": [{**ITEM, "adjustment": {"payFromLoyaltyProgram": 1}}]},
         "/cartItems/0/adjustment/pointPayment"),
        ("/v1/customer_sessions/s-1", {"coupon": 5}, "/coupon"),
        ("/v1/customer_sessions/s-1", {"state": True}, "/state"),
        ("/v1/events", {"sessionId": "s", "type": "t", "attributes": None}, "/attributes"),
        ("/v1/events", {"sessionId": 1, "type": "t", "attributes": {}}, "/sessionId"),
        ("/v1/referrals", {"campaignId": 3.0, "advocateProfileIntegrationId": "a"}, "/campaignId"),
        ("/v1/referrals", {"campaignId": True, "advocateProfileIntegrationId": "a"}, "/campaignId"),
        ("/v1/referrals", {"campaignId": 3, "advocateProfileIntegrationId": "a", "startDate": 1893456000},
         "/startDate"),
        ("/v1/referrals", {"campaignId": 3, "advocateProfileIntegrationId": "a", "expiryDate": "2030-02-30T00:00:00Z"},
         "/expiryDate"),
        ("/v2/customer_sessions/s-1", {"customerSession": {"evaluableCampaignIds": ["1"]}},
         "/customerSession/evaluableCampaignIds/0"),
        ("/v2/customer_sessions/s-1", {"customerSession": {"cartItems": [{"sku": "a", "quantity": 1, "price": "1.5"}]}},
         "/customerSession/cartItems/0/price"),
        ("/v2/customer_sessions/s-1", {"customerSession": {"attributes": "x"}}, "/customerSession/attributes"),
        ("/v2/customer_profiles/p-1", {"attributes": {"a": 1}, "evaluableCampaignIds": [True]},
         "/evaluableCampaignIds/0"),
    ],
)  # fmt: skip
def test_wrong_types_are_400s_without_coercion(
    client: Client, emulator: Emulator, path: str, body: dict[str, Any], pointer: str
):
    method = "POST" if path.endswith(("events", "referrals")) else "PUT"
    answer = client.request(method, path, body)
    assert answer.status == 400, answer.body
    assert {"pointer": pointer} in sources(answer)
    state = emulator.state()
    assert state["sessions"] == {} and state["events"] == [] and state["referrals"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/customer_sessions/s-1", {"total": 12}),  # an integer is a number
        ("/v1/customer_sessions/s-1", {"total": 12.5, "coupon": None, "cartItems": None}),  # null optional: absent
        ("/v1/customer_sessions/s-1", {"cartItems": [{**ITEM, "category": None, "attributes": None}]}),
        ("/v1/referrals",
         {"campaignId": 3, "advocateProfileIntegrationId": "a", "startDate": "2030-01-01T10:00:00+02:00"}),
        ("/v2/customer_sessions/s-1",
         {"customerSession": {"profileId": None, "cartItems": [{"sku": "a", "quantity": 1}]}}),
    ],
)  # fmt: skip
def test_right_types_pass(client: Client, path: str, body: dict[str, Any]):
    method = "POST" if path.endswith("referrals") else "PUT"
    assert client.request(method, path, body).status in (200, 201)


# --- content types and header names -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/customer_sessions/s-1", "/v2/customer_sessions/s-1"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_content_types_other_than_json_are_415(client: Client, emulator: Emulator, path: str, content_type: str):
    body: dict[str, Any] = {"customerSession": {}} if path.startswith("/v2") else {}
    answer = client.request("PUT", path, body, headers={"Content-Type": content_type})
    assert answer.status == 415
    assert sources(answer) == [{"parameter": "Content-Type"}]
    assert emulator.state()["sessions"] == {}


def test_json_with_a_suffix_is_json(client: Client):
    answer = client.request("PUT", "/v1/customer_sessions/s-1", {}, headers={"Content-Type": "application/vnd.x+json"})
    assert answer.status == 200


def test_header_names_are_case_insensitive(emulator: Emulator):
    assert emulator.base_url is not None
    pool = urllib3.PoolManager()
    ok = pool.request(
        "PUT",
        emulator.base_url + "/v1/customer_sessions/s-1",
        body=b"{}",
        headers={"authorization": f"ApiKey-v1 {API_KEY}", "content-type": "application/json"},
    )
    refused = pool.request(
        "PUT",
        emulator.base_url + "/v1/customer_sessions/s-1",
        body=b"{}",
        headers={"AUTHORIZATION": f"ApiKey-v1 {API_KEY}", "CONTENT-TYPE": "text/plain"},
    )
    assert (ok.status, refused.status) == (200, 415)
    assert all("authorization" not in {k.lower() for k in e["headers"]} for e in emulator.requests())
