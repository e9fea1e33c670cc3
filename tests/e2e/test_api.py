"""The five operations through the relay's API: real HTTP to the local gateway, on to the emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import AWKWARD_ID, Http, effect_names, masked, segment, talon_requests

pytestmark = pytest.mark.e2e

CART = [
    {"name": "Camera", "sku": "SKU-CAMERA", "quantity": 1, "price": 120},
    {"name": "Film", "sku": "SKU-FILM", "quantity": 2, "price": 8.5},
]


@dataclass(frozen=True)
class Case:
    operation: str
    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    params: dict[str, str]
    #: effects Talon.One's rules produce for this request (v1 effect names, in order)
    effects: tuple[str, ...] | None = None
    #: the customer profile must exist first (deleteCustomerData)
    needs_profile: bool = False


CASES = [
    Case(
        "updateCustomerSession",
        "PUT",
        f"/v1/customer_sessions/{segment(AWKWARD_ID)}",
        {"profileId": "p-ada", "coupon": "WELCOME10", "cartItems": CART, "attributes": {"channel": "web"}},
        200,
        {"customerSessionId": AWKWARD_ID},
        ("acceptCoupon", "setDiscount", "setDiscount", "addFreeItem"),
    ),
    Case(
        "updateCustomerProfile",
        "PUT",
        f"/v1/customer_profiles/{segment(AWKWARD_ID)}",
        {"attributes": {"name": "Ada", "newsletter": True}},
        200,
        {"integrationId": AWKWARD_ID},
        (),
    ),
    Case(
        "trackEvent",
        "POST",
        "/v1/events",
        {"profileId": AWKWARD_ID, "sessionId": "s-ada", "type": "purchase", "attributes": {"orderId": "o-1"}},
        201,
        {},
        ("addLoyaltyPoints",),
    ),
    Case(
        "createReferral",
        "POST",
        "/v1/referrals",
        {"campaignId": 3, "advocateProfileIntegrationId": AWKWARD_ID, "friendProfileIntegrationId": "bob"},
        201,
        {},
    ),
    Case(
        "deleteCustomerData",
        "DELETE",
        f"/v1/customer_data/{segment(AWKWARD_ID)}",
        None,
        204,
        {"integrationId": AWKWARD_ID},
        needs_profile=True,
    ),
]


def _given_profile(http: Http, stack: LocalStack) -> None:
    answer = http.talon("PUT", f"/v1/customer_profiles/{segment(AWKWARD_ID)}", {"attributes": {"name": "Ada"}})
    assert answer.status == 200
    stack.emulator.clear_requests()


def _comparable(case: Case, body: Any) -> Any:
    body = masked(body)
    if case.operation == "createReferral":
        body = {**body, "code": "<random>"}
    return body


@pytest.mark.parametrize("case", CASES, ids=[c.operation for c in CASES])
def test_operation_through_the_api_answers_as_talon_one(stack: LocalStack, http: Http, case: Case) -> None:
    # Given an empty Talon.One (with the customer's profile, for a deletion)
    if case.needs_profile:
        _given_profile(http, stack)

    # When the operation is called through the relay, with an id holding "/", a space and non-ASCII
    answer = http.relay(case.method, case.path, case.body)

    # Then Talon.One got exactly one request: same method, the id re-encoded as one path segment,
    # the relay's credentials, and the caller's body
    (seen,) = talon_requests(stack)
    assert seen["method"] == case.method
    assert seen["path"] == case.path
    assert seen["operation"] == case.operation
    assert seen["params"] == case.params
    assert seen["auth"] == "apiKey"
    assert seen["body"] == case.body
    assert seen["status"] == case.status
    # and the caller got Talon.One's status, with its body
    assert answer.status == case.status, answer.data
    assert answer.headers["Content-Type"] == "application/json"
    if case.status == 204:
        assert answer.data == b""
    # and that body is what Talon.One answers the same request (timestamps and random codes aside)
    stack.emulator.reset()
    if case.needs_profile:
        _given_profile(http, stack)
    direct = http.talon(case.method, case.path, case.body)
    assert direct.status == case.status
    if case.status != 204:
        assert _comparable(case, answer.json) == _comparable(case, direct.json)
    # and the effects the rules produce are in the answer
    if case.effects is not None:
        assert effect_names(answer.json) == list(case.effects)
        assert seen["effects"] == list(case.effects)


def test_coupon_effects_reach_the_caller(stack: LocalStack, http: Http) -> None:
    # Given a session without a coupon
    path = "/v1/customer_sessions/s-coupon"
    assert effect_names(http.relay("PUT", path, {"profileId": "p-1", "total": 20}).json) == []

    # When the customer enters WELCOME10, then enters it again in a second session after using it
    first = http.relay("PUT", path, {"profileId": "p-1", "coupon": "WELCOME10"}).json
    http.relay("PUT", path, {"state": "closed"})
    second = http.relay("PUT", "/v1/customer_sessions/s-coupon-2", {"profileId": "p-2", "coupon": "WELCOME10"}).json

    # Then the first session gets the coupon's discount, and the used-up coupon is rejected
    effects = first["event"]["effects"]
    assert [e[3] for e in effects] == [["acceptCoupon", "WELCOME10"], ["setDiscount", "Welcome 10", 10.0]]
    assert first["session"]["discounts"] == {"Welcome 10": 10.0}
    assert [e[3] for e in second["event"]["effects"]] == [["rejectCoupon", "WELCOME10", "CouponLimitReached"]]


def test_a_signed_request_with_query_parameters_reaches_talon_one_with_them(stack: LocalStack, http: Http) -> None:
    # Given a v2 event signed with its query (sorted, as docs/api.md says a sender signs it)
    body = {"profileId": "p-query", "type": "purchase", "attributes": {}}
    # When it is sent with silent=no
    answer = http.relay("POST", "/v2/events?silent=no", body)
    # Then the signature holds and Talon.One got the query: it answered with the evaluated event (200)
    assert answer.status == 200, answer.json
    sent = talon_requests(stack, method="POST", prefix="/v2/events")
    assert sent[-1]["query"] == "silent=no"


def test_deleting_a_customer_erases_their_attributes(stack: LocalStack, http: Http) -> None:
    # Given a customer with profile and session attributes
    http.relay("PUT", "/v1/customer_profiles/p-gone", {"attributes": {"email": "gone@example.com"}})
    http.relay("PUT", "/v1/customer_sessions/s-gone", {"profileId": "p-gone", "attributes": {"note": "x"}})

    # When their data is deleted through the relay
    answer = http.relay("DELETE", "/v1/customer_data/p-gone")

    # Then the relay answers 204 and Talon.One holds no attributes of theirs any more
    assert answer.status == 204
    state = stack.emulator.state()
    assert state["profiles"]["p-gone"]["attributes"] == {}
    assert state["sessions"]["s-gone"]["attributes"] == {}


def test_unknown_customer_deletion_is_talon_ones_404(stack: LocalStack, http: Http) -> None:
    # Given a Talon.One that never saw the customer
    # When their data is deleted through the relay
    answer = http.relay("DELETE", "/v1/customer_data/nobody")

    # Then the caller gets Talon.One's 404 and its ErrorResponse, after exactly one request
    assert answer.status == 404
    assert answer.json == http.talon("DELETE", "/v1/customer_data/nobody").json
    assert answer.json["errors"][0]["source"] == {"parameter": "integrationId"}
    assert len(talon_requests(stack)) == 2  # the relay's one, and the direct one above


def test_talon_one_rejection_is_passed_through(stack: LocalStack, http: Http) -> None:
    # Given a closed session (Talon.One refuses to reopen it)
    path = "/v1/customer_sessions/s-closed"
    assert http.relay("PUT", path, {"profileId": "p-1", "state": "closed"}).status == 200

    # When the caller asks to reopen it through the relay
    answer = http.relay("PUT", path, {"state": "open"})

    # Then the caller gets Talon.One's 400 and body unchanged, from one request (no retry of a 400)
    assert answer.status == 400
    reopen = [r for r in talon_requests(stack) if r["body"] == {"state": "open"}]
    assert len(reopen) == 1 and reopen[0]["status"] == 400
    stack.emulator.reset()
    http.talon("PUT", path, {"profileId": "p-1", "state": "closed"})
    assert answer.json == http.talon("PUT", path, {"state": "open"}).json


@pytest.mark.parametrize(
    ("method", "path", "body", "pointers"),
    [
        (
            "PUT",
            "/v1/customer_sessions/s-1",
            {"profileId": "p-1", "cartItems": [{"name": "Camera", "quantity": 1}], "total": "3"},
            {"/cartItems/0/sku", "/cartItems/0/price", "/total"},
        ),
        ("POST", "/v1/events", {"profileId": "p-1", "attributes": {}}, {"/sessionId", "/type"}),
        ("POST", "/v1/referrals", {"campaignId": "three"}, {"/campaignId", "/advocateProfileIntegrationId"}),
        ("PUT", "/v1/customer_profiles/p-1", '{"attributes": ', {""}),
        ("PUT", "/v1/customer_profiles/p-1", b"\xff\xfe not utf-8", {""}),
        ("DELETE", "/v1/customer_data/p-1", {"unexpected": True}, {""}),
    ],
    ids=["session-fields", "event-missing", "referral-types", "broken-json", "not-utf8", "delete-body"],
)
def test_invalid_request_is_a_400_naming_the_fields(
    stack: LocalStack, http: Http, method: str, path: str, body: Any, pointers: set[str]
) -> None:
    # Given a request the Integration API would refuse
    # When it is sent through the relay
    answer = http.relay(method, path, body)

    # Then the caller gets a 400 ErrorResponse with a pointer to each field at fault
    assert answer.status == 400, answer.data
    error = answer.json
    assert error["message"]
    assert {e["source"].get("pointer") for e in error["errors"]} == pointers
    assert all(e["title"] for e in error["errors"])
    # and Talon.One never saw it
    assert talon_requests(stack) == []


def test_invalid_path_parameter_is_a_400(stack: LocalStack, http: Http) -> None:
    # Given an id Talon.One cannot take as a path segment ("..", which URL normalisation removes)
    # When it is used through the relay
    answer = http.relay("PUT", "/v1/customer_profiles/%2E%2E", {"attributes": {}})

    # Then the caller gets a 400 naming the parameter, and Talon.One never saw it
    assert answer.status == 400
    assert answer.json["errors"][0]["source"] == {"parameter": "integrationId"}
    assert talon_requests(stack) == []


def test_refused_credentials_are_a_502_not_the_callers_401(stack: LocalStack, http: Http) -> None:
    # Given Talon.One no longer accepts the relay's API key
    stack.emulator.set_keys(api_keys={"rotated-key"})
    try:
        # When a caller uses the relay
        answer = http.relay("PUT", "/v1/customer_profiles/p-1", {"attributes": {}})
    finally:
        from local.stack import LOCAL_API_KEY

        stack.emulator.set_keys(api_keys={LOCAL_API_KEY})

    # Then the caller gets a 502 that does not blame them, after one fresh read of the secret
    assert answer.status == 502
    assert "credentials" in answer.json["message"]
    assert [r["status"] for r in talon_requests(stack)] == [401, 401]
    assert "rotated-key" not in json.dumps(answer.json)
