"""Bad input, generated: no 500, no unhandled exception, and every rejection names its cause."""

from __future__ import annotations

import copy
import json
import random
import re
import string
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from talon_relay.callers import signatures as callers
from tests.functions.conftest import Stack
from tests.functions.test_api_gateway import OPERATIONS, sign_event
from tests.functions.test_guarantees import fifo_event
from tests.functions.test_sqs import QUEUED, sqs_event
from tests.support import LambdaContext, load_event
from tests.support import answer_every_route as answer_everything

FOLDERS = [op.function for op in OPERATIONS]
FIXTURES_OK = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Bodies shaped like the real ones, with any value in any field (the likely mistakes), or anything at all.
near_bodies = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        for key in [
            "profileId",
            "coupon",
            "state",
            "total",
            "attributes",
            "sessionId",
            "type",
            "campaignId",
            "advocateProfileIntegrationId",
            "startDate",
        ]
    }
    | {"cartItems": st.lists(st.dictionaries(st.sampled_from(["name", "sku", "quantity", "price"]), json_values))},
)
bodies = near_bodies | json_values | st.text(max_size=40).map(lambda text: ("raw", text))
path_ids = st.text(min_size=0, max_size=30)
header_values = st.text(alphabet=string.printable + "äß€\x00\t", max_size=40)


def assert_named_rejection(response: dict[str, Any]) -> None:
    """4xx answers are ErrorResponses whose every error says what and where."""
    status = response["statusCode"]
    assert status != 500 and status < 502, response
    body = json.loads(response["body"]) if response["body"] else None
    if 400 <= status < 500:
        assert body and body["message"]
        for error in body.get("errors") or []:
            assert error["details"] and error["source"], error


@pytest.mark.parametrize("folder", FOLDERS)
@FIXTURES_OK
@given(body=bodies, path_id=path_ids, sign=st.booleans())
def test_api_never_answers_500(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, body: Any, path_id: str, sign: bool
) -> None:
    # Given any body and path parameter, signed or not
    answer_everything(httpserver)
    event = copy.deepcopy(load_event(folder, "api"))
    if isinstance(body, tuple):
        event["body"] = body[1]
    else:
        event["body"] = json.dumps(body)
    if event.get("pathParameters"):
        event["pathParameters"] = {name: path_id for name in event["pathParameters"]}
    event["headers"] = dict(event.get("headers") or {})
    event["headers"].pop(callers.SIGNATURE_HEADER, None)
    if sign:
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then the answer is a success or a 4xx that names its cause (never a 500 or an exception)
    assert_named_rejection(response)
    if not sign:
        assert response["statusCode"] == 401


@pytest.mark.parametrize("folder", ["update_customer_session", "track_event"])
@FIXTURES_OK
@given(
    headers=st.dictionaries(
        st.sampled_from(["Idempotency-Key", "Prefer", "Content-Type", callers.SIGNATURE_HEADER, "X-Other"]),
        header_values,
        max_size=4,
    )
)
def test_api_headers_never_cause_500(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, headers: dict[str, str]
) -> None:
    # Given a signed sample request with arbitrary extra headers
    answer_everything(httpserver)
    event = copy.deepcopy(load_event(folder, "api"))
    event["headers"] = {**(event.get("headers") or {}), **headers}
    if callers.SIGNATURE_HEADER not in headers:
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then it is served, queued or rejected with a reason
    assert_named_rejection(response)


@pytest.mark.parametrize("folder", QUEUED)
@FIXTURES_OK
@given(
    messages=st.lists(
        st.text(max_size=60)
        | json_values.map(json.dumps)
        | st.fixed_dictionaries(
            {}, optional={"customerSessionId": json_values, "integrationId": json_values, "body": near_bodies}
        ).map(json.dumps),
        min_size=1,
        max_size=4,
    )
)
def test_sqs_never_raises_and_dead_letters_with_a_reason(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, messages: list[str]
) -> None:
    # Given a batch of arbitrary message bodies, and a Talon.One that accepts whatever reaches it
    answer_everything(httpserver)
    event = sqs_event(folder, list(messages))
    for record in event["Records"]:
        record["messageId"] = str(uuid.uuid4())  # a new delivery each example (ids are idempotency keys)
    # When the batch is handled
    result = load_handler(folder)(event, LambdaContext())
    # Then nothing is left for retry (nothing here is retryable): each was delivered or dead-lettered
    assert result == {"batchItemFailures": []}
    dead = stack.dlq_messages()
    delivered = len(httpserver.log)
    httpserver.clear_log()
    assert delivered + len(dead) == len(messages)
    for message in dead:
        assert message["MessageAttributes"]["failureReason"]["StringValue"].strip()


# --- poison, generated: deep, huge, odd numbers, odd Unicode (issue 11) ------------------------------

POISON_OK = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _nested(depth: int, seed: int) -> str:
    """A value `depth` levels deep, arrays and objects mixed (chosen by `seed`)."""
    kinds = random.Random(seed).choices("ao", k=depth)
    opening = "".join("[" if kind == "a" else '{"k":' for kind in kinds)
    closing = "".join("]" if kind == "a" else "}" for kind in reversed(kinds))
    return opening + "1" + closing


deep_values = st.builds(_nested, st.integers(min_value=1, max_value=2500), st.integers(0, 2**16))
odd_numbers = st.one_of(
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=95, max_value=105).map(lambda n: "-" + "1" * (n - 1)),
    st.integers(min_value=-(10**130), max_value=10**130).map(str),
    st.floats().map(json.dumps),  # NaN, Infinity and -Infinity included
    st.sampled_from(["1e400", "-1e400", "1e-400", "-0", "0.0", "1E+308", "4.9e-324", "1" + "0" * 99 + ".5"]),
)
odd_text = st.text(alphabet=st.characters(categories=["Cs", "Cc", "Co", "Cn", "Zs", "So", "Mn", "Lo"]), max_size=12)
odd_strings = st.one_of(
    odd_text.map(json.dumps),  # escaped: lone surrogates as \udXXX
    odd_text.filter(lambda text: not re.search("[\ud800-\udfff]", text)).map(
        lambda text: json.dumps(text, ensure_ascii=False)
    ),
    odd_text.map(lambda text: "{" + json.dumps(text) + ":1}"),  # as a key
)


def huge_values(limit: int, most: int | None = None) -> st.SearchStrategy[str]:
    """Strings around `limit` characters and anything up to twice it (or `most`)."""
    return st.one_of(
        st.integers(min_value=limit - 200, max_value=limit + 200).map(lambda n: json.dumps("x" * n)),
        st.integers(min_value=1, max_value=most or limit * 2).map(lambda n: json.dumps("y" * n)),
        st.integers(min_value=1_000, max_value=150_000).map(lambda n: "[" + ",".join(["1"] * n) + "]"),
    )


poison_values = st.one_of(deep_values, odd_numbers, odd_strings, huge_values(1_048_576), json_values.map(json.dumps))
#: What a queued message can hold: SQS takes at most 1 MiB, in characters it accepts (JSON escapes them).
#: (a message over 1 MiB is refused by SQS itself at sending: it never reaches the relay).
queued_poison = st.one_of(
    deep_values, odd_numbers, odd_strings, huge_values(900_000, most=1_040_000), json_values.map(json.dumps)
)


def body_with(folder: str, value: str) -> str:
    """The operation's sample body carrying the generated value in a field of its own (`x`: the models are
    open), or the value alone where the operation takes no body."""
    sample = load_event(folder, "api")["body"]
    return sample[:-1] + ',"x":' + value + "}" if sample else value


DISPOSITIONS = {200, 201, 204, 400, 413, 415}


@pytest.mark.parametrize("folder", FOLDERS)
@POISON_OK
@given(value=poison_values)
def test_poison_bodies_get_an_answer_that_names_the_fault(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, folder: str, value: str
) -> None:
    # Given a signed request whose body carries a generated deep, huge, odd-number or odd-Unicode value
    answer_everything(httpserver)
    event = copy.deepcopy(load_event(folder, "api"))
    event["body"] = body_with(folder, value)
    event["headers"] = {**(event.get("headers") or {}), "Content-Type": "application/json"}
    event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
    # When handled
    response = load_handler(folder)(event, LambdaContext())
    # Then it is served, or refused with a 400/413/415 that names the fault: never a 5xx
    assert response["statusCode"] in DISPOSITIONS, response
    assert_named_rejection(response)
    if len(event["body"].encode("utf-8", "surrogatepass")) > 1_048_576:
        assert response["statusCode"] == 413
    httpserver.clear_log()


@FIXTURES_OK
@given(
    plan=st.lists(st.one_of(st.just(None), queued_poison, st.text(max_size=30)), min_size=2, max_size=6).filter(
        lambda plan: None in plan and any(step is not None for step in plan)
    )
)
def test_fifo_group_with_poison_in_the_middle_delivers_its_valid_updates_in_order(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, plan: list[str | None]
) -> None:
    # Given one FIFO group (a session of its own in each example: the relay remembers what it applied
    # per session, and an update older than one applied is superseded): valid updates (None in the
    # plan) with generated poison between them
    answer_everything(httpserver)
    session = f"s-g-{uuid.uuid4().hex[:8]}"
    records = []
    for index, step in enumerate(plan):
        if step is None:
            message = json.dumps({"customerSessionId": session, "body": {"attributes": {"step": index}}})
        elif step.startswith(
            ("[", "{", '"', "-", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "N", "I", "t", "f")
        ):
            message = '{"customerSessionId":"' + session + '","body":{"attributes":{"x":' + step + "}}}"
        else:
            message = step  # not even JSON
        records.append(("g-1", f"m-{uuid.uuid4()}", message))
    event = fifo_event([(group, message_id, {}) for group, message_id, _ in records])
    for record, (_, _, message) in zip(event["Records"], records, strict=True):
        record["body"] = message
    # When the batch is received once
    result = load_handler("update_customer_session")(event, LambdaContext())
    # Then nothing is left for retry: every record is delivered or dead-lettered with a reason, and the
    # valid updates reached Talon.One, in order
    assert result == {"batchItemFailures": []}
    dead = stack.dlq_messages()
    sent = [json.loads(request.get_data()) for request, _ in httpserver.log]
    httpserver.clear_log()
    assert len(sent) + len(dead) == len(plan)
    steps = [body["attributes"]["step"] for body in sent if "step" in body.get("attributes", {})]
    assert steps == [index for index, step in enumerate(plan) if step is None]
    for dead_letter in dead:
        assert dead_letter["MessageAttributes"]["failureReason"]["StringValue"].strip()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    plan=st.lists(
        st.one_of(st.just(None), queued_poison.map(lambda v: ("extra", v)), odd_strings.map(lambda v: ("id", v))),
        min_size=2,
        max_size=6,
    )
)
def test_erasure_run_with_poison_erases_every_valid_request(
    stack: Stack, httpserver: HTTPServer, load_handler: Any, plan: list[tuple[str, str] | None]
) -> None:
    # Given the erasure queue holds valid erasures (None) and generated poison: a bad value beside the
    # id, or an odd id
    httpserver.expect_request(re.compile("^/v1/customer_data/.*"), method="DELETE").respond_with_data("", 204)
    valid = []
    for index, step in enumerate(plan):
        if step is None:
            valid.append(f"p-{index}-{uuid.uuid4().hex[:6]}")
            stack.send({"integrationId": valid[-1]})
        elif step[0] == "extra":
            stack.send('{"integrationId":"p-x","x":' + step[1] + "}")
        else:
            stack.send('{"integrationId":' + step[1] + "}")
    # When the off-peak run drains the queue
    summary = load_handler("delete_customer_data")({}, LambdaContext())
    # Then every message reached a disposition in this run: erased, or dead-lettered with a reason
    dead = stack.dlq_messages()
    erased = [request.path for request, _ in httpserver.log]
    httpserver.clear_log()
    assert summary["failed"] == 0
    assert summary["requested"] + summary["dead_lettered"] == len(plan)
    assert summary["dead_lettered"] == len(dead)
    assert all(f"/v1/customer_data/{integration_id}" in erased for integration_id in valid)
    for message in dead:
        assert message["MessageAttributes"]["failureReason"]["StringValue"].strip()


def test_a_large_cart_is_forwarded_as_sent_and_its_fault_named_as_a_small_ones(
    stack: Stack, httpserver: HTTPServer, load_handler: Any
) -> None:
    # Given signed session updates whose carts make them larger than checkers.FAST_BYTES (msgspec checks
    # them first): one valid, and the same with one item's quantity 0 and the same small body with that item
    answer_everything(httpserver)
    sample = json.loads(load_event("update_customer_session_v2", "api")["body"])
    item = {"sku": "S", "quantity": 1, "price": 2.5, "name": "n", "attributes": {"a": [1, {"b": "é"}]}}
    bad = {"sku": "Z", "quantity": 0}
    bodies = {}
    for name, items in (("large", [item] * 300), ("large, bad", [item] * 299 + [bad]), ("small, bad", [bad])):
        body = copy.deepcopy(sample)
        body["customerSession"]["cartItems"] = items
        bodies[name] = json.dumps(body, ensure_ascii=False)
    assert len(bodies["large"].encode()) >= 16_384
    answers = {}
    for name, text in bodies.items():
        event = copy.deepcopy(load_event("update_customer_session_v2", "api"))
        event["body"] = text
        event["headers"][callers.SIGNATURE_HEADER] = sign_event(event, "fn-test-signing-secret-0a9e7d")
        # When each is handled
        answers[name] = load_handler("update_customer_session_v2")(event, LambdaContext())
    # Then the valid one reaches Talon.One byte for byte, and the bad ones get the same 400 naming the item
    assert answers["large"]["statusCode"] == 200, answers["large"]
    (sent,) = [request.get_data() for request, _ in httpserver.log]
    assert sent == bodies["large"].encode()
    large, small = (json.loads(answers[name]["body"]) for name in ("large, bad", "small, bad"))
    assert answers["large, bad"]["statusCode"] == answers["small, bad"]["statusCode"] == 400
    assert [error["source"] for error in large["errors"]] == [{"pointer": "/customerSession/cartItems/299/quantity"}]
    assert [error["details"] for error in large["errors"]] == [error["details"] for error in small["errors"]]
