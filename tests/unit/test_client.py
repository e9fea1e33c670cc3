"""The client: the five operations on the wire, path encoding and base URL rules."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any
from urllib.parse import unquote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from talon_relay.operations import OPERATIONS
from talon_relay.talon.auth import ApiKeyAuth
from talon_relay.talon.client import IntegrationClient
from talon_relay.talon.errors import TalonOneError
from talon_relay.talon.transport import check_base_url
from talon_relay.wire.models import (
    CartItem,
    IntegrationState,
    NewCustomerProfile,
    NewCustomerSession,
    NewEvent,
    NewReferral,
    Referral,
    SessionState,
)
from tests.support import FakeClock
from tests.unit import payloads

API_KEY = "ak-client-test"


class Recorder:
    """A handler that answers with a fixed status and JSON body and keeps every request."""

    def __init__(self, status: int, body: Any = None) -> None:
        self.status = status
        self.body = body
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        request.get_data()  # keep the body bytes with the request
        self.requests.append(request)
        if self.body is None:
            return Response(status=self.status)
        return Response(json.dumps(self.body), status=self.status, content_type="application/json")

    @property
    def only(self) -> Request:
        assert len(self.requests) == 1, f"expected one request, saw {len(self.requests)}"
        return self.requests[0]


def serve(httpserver: HTTPServer, status: int, body: Any = None) -> Recorder:
    """Answer any request on any path (the test then checks what arrived)."""
    recorder = Recorder(status, body)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(recorder)
    return recorder


def raw_uri(request: Request) -> str:
    """The request target exactly as it came over the wire, before any decoding."""
    uri = request.environ.get("RAW_URI") or request.environ["REQUEST_URI"]
    assert isinstance(uri, str)
    return uri


@pytest.fixture
def client(httpserver: HTTPServer) -> IntegrationClient:
    return IntegrationClient(httpserver.url_for("/"), ApiKeyAuth(API_KEY), max_retries=0)


def assert_common_headers(request: Request) -> None:
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == f"ApiKey-v1 {API_KEY}"


# --- the five operations -----------------------------------------------------------------------


def test_update_customer_session_puts_the_session_and_returns_the_integration_state(
    httpserver: HTTPServer, client: IntegrationClient
) -> None:
    # Given Talon.One answering 200 with an IntegrationState
    recorder = serve(httpserver, 200, payloads.integration_state([[1, 2, 0, ["acceptCoupon", "C"]]]))
    body = NewCustomerSession(
        profile_id="p-1",
        coupon="C",
        state=SessionState.OPEN,
        cart_items=[CartItem(name="Shoe", sku="S-1", quantity=1, price=12.5)],
        total=12.5,
    )
    # When the session is updated
    state = client.update_customer_session("s-1", body)
    # Then one PUT went to the session's path with the JSON body and the auth header
    request = recorder.only
    assert request.method == "PUT"
    assert raw_uri(request) == "/v1/customer_sessions/s-1"
    assert request.get_data() == body.to_json()
    assert_common_headers(request)
    # And the answer is parsed into an IntegrationState
    assert isinstance(state, IntegrationState)
    assert state.session.integration_id == "s-1"
    assert state.event.effects[0].props == {"value": "C"}


def test_update_customer_profile_puts_the_profile(httpserver: HTTPServer, client: IntegrationClient) -> None:
    recorder = serve(httpserver, 200, payloads.integration_state())
    body = NewCustomerProfile(attributes={"tier": "gold", "optIn": None})
    state = client.update_customer_profile("p-1", body)
    request = recorder.only
    assert request.method == "PUT"
    assert raw_uri(request) == "/v1/customer_profiles/p-1"
    assert request.get_data() == body.to_json()
    assert json.loads(request.get_data()) == {"attributes": {"tier": "gold", "optIn": None}}
    assert_common_headers(request)
    assert isinstance(state, IntegrationState)
    assert state.profile.integration_id == "p-1"


def test_track_event_posts_the_event(httpserver: HTTPServer, client: IntegrationClient) -> None:
    recorder = serve(httpserver, 201, payloads.integration_state())
    body = NewEvent(profile_id="p-1", session_id="s-1", type="purchase", attributes={"n": 2})
    state = client.track_event(body)
    request = recorder.only
    assert request.method == "POST"
    assert raw_uri(request) == "/v1/events"
    assert request.get_data() == body.to_json()
    assert json.loads(request.get_data()) == {
        "profileId": "p-1",
        "sessionId": "s-1",
        "type": "purchase",
        "attributes": {"n": 2},
    }
    assert_common_headers(request)
    assert isinstance(state, IntegrationState)
    assert state.event.type == "talon_session_updated"


def test_create_referral_posts_the_referral_and_returns_it(httpserver: HTTPServer, client: IntegrationClient) -> None:
    recorder = serve(httpserver, 201, payloads.referral(friendProfileIntegrationId="p-2"))
    body = NewReferral(
        campaign_id=12,
        advocate_profile_integration_id="p-1",
        friend_profile_integration_id="p-2",
    )
    referral = client.create_referral(body)
    request = recorder.only
    assert request.method == "POST"
    assert raw_uri(request) == "/v1/referrals"
    assert request.get_data() == body.to_json()
    assert_common_headers(request)
    assert isinstance(referral, Referral)
    assert (referral.code, referral.campaign_id) == ("REF-ABCD", 12)
    assert referral.friend_profile_integration_id == "p-2"


def test_delete_customer_data_deletes_and_returns_none(httpserver: HTTPServer, client: IntegrationClient) -> None:
    recorder = serve(httpserver, 204)
    result = client.delete_customer_data("p-1")  # type: ignore[func-returns-value]
    request = recorder.only
    assert request.method == "DELETE"
    assert raw_uri(request) == "/v1/customer_data/p-1"
    assert request.get_data() == b""
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == f"ApiKey-v1 {API_KEY}"
    assert result is None


def test_a_base_url_with_a_path_prefix_keeps_the_prefix(httpserver: HTTPServer) -> None:
    recorder = serve(httpserver, 204)
    client = IntegrationClient(httpserver.url_for("/relay/"), ApiKeyAuth(API_KEY))
    client.delete_customer_data("p-1")
    assert raw_uri(recorder.only) == "/relay/v1/customer_data/p-1"


# --- ids as exactly one path segment -----------------------------------------------------------

TRICKY_IDS = ["a/b", "../x", "x?y#z", "%2F", "with space", "ö€", "a%20b/../c", "...", "\\x"]

PATH_OPERATIONS = {
    "update_customer_session": ("/v1/customer_sessions/", 200),
    "update_customer_profile": ("/v1/customer_profiles/", 200),
    "delete_customer_data": ("/v1/customer_data/", 204),
}


def call_with_id(client: IntegrationClient, operation: str, ident: str) -> None:
    if operation == "update_customer_session":
        client.update_customer_session(ident, NewCustomerSession())
    elif operation == "update_customer_profile":
        client.update_customer_profile(ident, NewCustomerProfile())
    else:
        client.delete_customer_data(ident)


@pytest.mark.parametrize("operation", sorted(PATH_OPERATIONS))
@pytest.mark.parametrize("ident", TRICKY_IDS)
def test_an_id_arrives_as_exactly_one_path_segment(
    httpserver: HTTPServer, client: IntegrationClient, operation: str, ident: str
) -> None:
    # Given an id with characters that mean something in a URL
    prefix, status = PATH_OPERATIONS[operation]
    recorder = serve(httpserver, status, None if status == 204 else payloads.integration_state())
    # When it is used as a path parameter
    call_with_id(client, operation, ident)
    # Then the server saw the operation's path with one more segment, and it decodes to the id
    uri = raw_uri(recorder.only)
    assert uri.startswith(prefix)
    segment = uri.removeprefix(prefix)
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment, errors="strict") == ident
    assert recorder.only.query_string == b""


@pytest.mark.parametrize("operation", sorted(PATH_OPERATIONS))
@pytest.mark.parametrize("ident", ["", ".", ".."])
def test_ids_that_cannot_be_a_path_segment_are_refused_before_any_request(
    httpserver: HTTPServer, client: IntegrationClient, operation: str, ident: str
) -> None:
    recorder = serve(httpserver, 204)
    with pytest.raises(ValueError) as exc:
        call_with_id(client, operation, ident)
    assert "Id" in str(exc.value)  # names customerSessionId / integrationId
    assert recorder.requests == []


# --- base URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://acme.talon.one", "https://acme.talon.one"),
        ("https://acme.talon.one/", "https://acme.talon.one"),
        ("https://acme.talon.one:8443/api/", "https://acme.talon.one:8443/api"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://localhost:3000/", "http://localhost:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_https_and_loopback_http_base_urls_are_accepted(base_url: str, expected: str) -> None:
    assert check_base_url(base_url) == expected
    assert IntegrationClient(base_url, ApiKeyAuth("k")).base_url == expected


@pytest.mark.parametrize(
    "base_url",
    [
        "http://example.com",
        "http://acme.talon.one",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://0.0.0.0:8080",
        "http://10.0.0.1",
        "ftp://acme.talon.one",
        "acme.talon.one",
        "https://",
        "https://acme.talon.one/?region=eu",
        "https://acme.talon.one/#x",
    ],
)
def test_other_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ValueError) as exc:
        IntegrationClient(base_url, ApiKeyAuth("k"))
    assert "base_url" in str(exc.value)


class TickingClock(FakeClock):
    """A FakeClock that moves `tick` seconds each time it is read: each step of a call takes time."""

    def __init__(self, tick: float) -> None:
        super().__init__()
        self.tick = tick

    def __call__(self) -> float:
        now = super().__call__()
        self.advance(self.tick)
        return now


def test_an_answer_still_arriving_when_the_budget_is_spent_is_a_timeout(httpserver: HTTPServer) -> None:
    # Given Talon.One answering a 300 KB body (several reads of the socket), and a call whose 2.5 s budget
    # is spent after about two steps (a clock that moves 1 s each time the client looks at it): urllib3's
    # read timeout bounds each wait for bytes, so an answer trickled slowly enough never trips it alone
    body = json.dumps({"effects": [], "padding": "x" * 300_000})
    httpserver.expect_request("/v1/customer_profiles/p-1", method="PUT").respond_with_data(
        body, content_type="application/json"
    )
    client = IntegrationClient(
        httpserver.url_for("/"), ApiKeyAuth(API_KEY), max_retries=0, clock=TickingClock(1.0), sleep=lambda _: None
    )
    operation = OPERATIONS["updateCustomerProfile"]
    # When the call is made
    with pytest.raises(TalonOneError) as raised:
        client.send(operation, "/v1/customer_profiles/p-1", b"{}", budget=2.5)
    # Then the answer is not waited out past the budget: the call is a timeout (504 / retried later)
    assert raised.value.timed_out
    assert "in time" in str(raised.value)


def test_an_answer_read_within_the_budget_is_whole(httpserver: HTTPServer) -> None:
    # Given the same 300 KB answer and a budget with time to spare
    body = json.dumps({"effects": [], "padding": "x" * 300_000})
    httpserver.expect_request("/v1/customer_profiles/p-1", method="PUT").respond_with_data(
        body, content_type="application/json"
    )
    client = IntegrationClient(httpserver.url_for("/"), ApiKeyAuth(API_KEY), max_retries=0, clock=TickingClock(1.0))
    # When the call is made
    answer = client.send(OPERATIONS["updateCustomerProfile"], "/v1/customer_profiles/p-1", b"{}", budget=1_000)
    # Then the caller gets every byte of it, as sent
    assert answer.status == 200
    assert answer.data == body.encode()


@pytest.mark.parametrize("encoding", [None, "gzip"])
@pytest.mark.parametrize("size", [100, 300_000])
def test_an_answer_is_whole_however_it_comes_and_the_connection_is_clean_after(
    httpserver: HTTPServer, encoding: str | None, size: int
) -> None:
    # Given Talon.One answering a small body (in the read that brings its headers) or a 300 KB one (read in
    # steps by the deadline), as it is or gzipped (the decoder's last bytes come after the socket's)
    body = json.dumps({"effects": [], "padding": "".join(chr(65 + (i * 7919) % 26) for i in range(size))}).encode()
    sent = gzip.compress(body) if encoding else body
    headers = {"Content-Encoding": encoding} if encoding else {}
    httpserver.expect_request("/v1/customer_profiles/p-1", method="PUT").respond_with_data(
        sent, content_type="application/json", headers=headers
    )
    client = IntegrationClient(httpserver.url_for("/"), ApiKeyAuth(API_KEY), max_retries=0)
    # When two calls are made one after the other on the client's pooled connection
    answers = [client.send(OPERATIONS["updateCustomerProfile"], "/v1/customer_profiles/p-1", b"{}", budget=30.0)]
    answers.append(client.send(OPERATIONS["updateCustomerProfile"], "/v1/customer_profiles/p-1", b"{}", budget=30.0))
    # Then each gets every byte of its answer, decoded
    assert [answer.data for answer in answers] == [body, body]
