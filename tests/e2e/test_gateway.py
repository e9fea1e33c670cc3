"""The local gateway itself: routing and errors like API Gateway, template routes, cron, intrinsics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws import STACK_NAME
from local.containers import LambdaContext
from local.gateway import cron_matches
from local.stack import LocalStack
from local.template import Resolver, read_stack
from talon_relay.operations import OPERATIONS
from tests.e2e.helpers import Http, talon_requests
from tests.template.helpers import prefix, queue_id

pytestmark = pytest.mark.e2e


TEMPLATE_ROUTES = {(op.method, op.path, prefix(op) + "Function") for op in OPERATIONS.values()}
#: RelayKeyApi has the Integration API's routes; webhook receivers are on RelayApi only.
KEY_API_ROUTES = {(op.method, op.path, prefix(op) + "Function") for op in OPERATIONS.values() if op.key_api}
#: (a session operation's queue is the sessions queue they all share)
FIFO_QUEUES = {queue_id(op) + "Queue" for op in OPERATIONS.values() if op.fifo}


# --- over HTTP ---------------------------------------------------------------------------------


def test_unknown_route_is_a_404_json(stack: LocalStack, http: Http) -> None:
    # Given the relay's API
    # When a path no route has is requested
    answer = http.relay("GET", "/v1/coupons/SAVE5")

    # Then API Gateway's 404 comes back as JSON, and no function ran
    assert answer.status == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json == {"message": "No route for GET /v1/coupons/SAVE5"}
    assert stack.gateway.invocations == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/events"), ("DELETE", "/v1/customer_sessions/s-1"), ("PUT", "/v1/customer_data/p-1")],
)
def test_wrong_method_is_a_405(stack: LocalStack, http: Http, method: str, path: str) -> None:
    # Given a route that exists for another method
    # When it is requested with this method
    answer = http.relay(method, path, {} if method == "PUT" else None)

    # Then the gateway answers 405 JSON without invoking a function or calling Talon.One
    assert answer.status == 405
    assert answer.json["message"].startswith(f"No route for {method} ")
    assert stack.gateway.invocations == []
    assert talon_requests(stack) == []


def test_path_with_an_extra_segment_is_not_routed(stack: LocalStack, http: Http) -> None:
    # Given an id sent unencoded, so its "/" makes a second segment
    # When it is used
    answer = http.relay("PUT", "/v1/customer_profiles/ada/lovelace", {"attributes": {}})

    # Then no route matches (the relay never guesses where the id ends)
    assert answer.status == 404
    assert talon_requests(stack) == []


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("the function crashed"), KeyError("statusCode")],
    ids=["raises", "malformed-result"],
)
def test_function_error_is_a_502(
    stack: LocalStack, http: Http, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    # Given a function that fails instead of answering
    def broken(event: Any) -> Any:
        raise failure

    monkeypatch.setattr(stack.gateway.functions["TrackEventFunction"], "invoke", broken)

    # When its route is called
    answer = http.relay("POST", "/v1/events", {"sessionId": "s", "type": "x", "attributes": {}})

    # Then the caller gets API Gateway's 502 and nothing of the failure
    assert answer.status == 502
    assert answer.json == {"message": "Internal server error"}


def test_function_answer_without_status_is_a_502(
    stack: LocalStack, http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function that returns something that is not a proxy response
    monkeypatch.setattr(stack.gateway.functions["CreateReferralFunction"], "invoke", lambda event: {"body": "{}"})

    # When its route is called
    answer = http.relay("POST", "/v1/referrals", {"campaignId": 3, "advocateProfileIntegrationId": "p"})

    # Then API Gateway's 502 comes back
    assert answer.status == 502
    assert answer.json == {"message": "Internal server error"}


def test_health_endpoint(stack: LocalStack, http: Http) -> None:
    answer = http.relay("GET", "/_local/health")
    assert (answer.status, answer.json) == (200, {"status": "ok"})


def test_schedule_of_an_unknown_function_is_a_404(stack: LocalStack, http: Http) -> None:
    # Given functions of which only DeleteCustomerDataFunction has a schedule
    # When a schedule run is asked of one without a schedule, and of one that does not exist
    no_schedule = http.run_schedule("TrackEventFunction")
    unknown = http.run_schedule("NoSuchFunction")

    # Then both are a 404 naming the function (not a 200 that `make cleanup` would count as success)
    assert no_schedule.status == 404
    assert "TrackEventFunction" in no_schedule.json["error"]
    assert unknown.status == 404
    assert stack.gateway.invocations == []


def test_schedule_with_broken_input_is_a_400(stack: LocalStack, http: Http) -> None:
    # Given the schedule endpoint
    # When it is sent input that is not JSON
    answer = http.run_schedule("DeleteCustomerDataFunction", "{not json")

    # Then the gateway answers 400 (instead of dropping the connection), and nothing ran
    assert answer.status == 400
    assert "JSON" in answer.json["error"]
    assert stack.gateway.invocations == []


def test_schedule_run_that_fails_is_a_502(stack: LocalStack, http: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the erasure function fails
    def broken(event: Any) -> Any:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(stack.gateway.functions["DeleteCustomerDataFunction"], "invoke", broken)

    # When its schedule is run through the endpoint
    answer = http.run_schedule("DeleteCustomerDataFunction")

    # Then the caller learns it failed (502 with the error type), instead of a dropped connection
    assert answer.status == 502
    assert "RuntimeError" in answer.json["error"]


def test_functions_get_their_template_environment(stack: LocalStack) -> None:
    # Given the running stack
    entries = {prefix(op) + "Function": op for op in OPERATIONS.values()}
    for logical_id, function in stack.gateway.functions.items():
        env = function.environment
        queue = queue_id(entries[logical_id])
        # Then each function's Ref/GetAtt environment points at its own local resources (a GET has no queue; a
        # member of the sessions queue sends to it, and only its consumer dead-letters)
        if entries[logical_id].queued:
            assert env["QUEUE_URL"] == stack.queue_url(f"{queue}Queue")
        if entries[logical_id].polls:
            assert env["DEAD_LETTER_QUEUE_URL"] == stack.queue_url(f"{queue}DeadLetterQueue")
        elif not entries[logical_id].queued:
            assert "QUEUE_URL" not in env and "DEAD_LETTER_QUEUE_URL" not in env
        assert env["TALON_SECRET_ARN"] == stack.aws.secret_arn
        # (Fn::If on a Condition: the stack created the caller signing secret, so its ARN)
        assert env["CALLER_SIGNING_SECRET_ARN"] == stack.aws.secret_arns["CallerSigningSecret"]
        assert env["CALLER_AUTH"] == "required"  # the CallerAuthentication parameter the tests pass
        assert env["IDEMPOTENCY_TABLE_NAME"] == stack.aws.table_names["IdempotencyTable"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "talon-relay"
        assert env["POWERTOOLS_LOG_LEVEL"] == "WARNING"  # the LogLevel parameter the tests pass
        assert env["TALON_READ_TIMEOUT"] == "0.5"  # the tests' extra environment
        # (as Lambda names it, the template's FunctionName: the prefix of the function's own table items)
        assert env["AWS_LAMBDA_FUNCTION_NAME"] == f"{STACK_NAME}-{entries[logical_id].function.replace('_', '-')}"
        if function.spec.schedules:
            # (the erasure function's own Timeout -> ErasureRunTimeout; its API requests keep FunctionTimeout)
            assert function.timeout == 900.0
            assert env["API_TIMEOUT_SECONDS"] == "20"
        else:
            assert function.timeout == 20.0  # Globals.Function.Timeout -> FunctionTimeout's default


# --- template, cron, intrinsics, context (no HTTP) ----------------------------------------------


def test_routes_are_exactly_the_operation_tables() -> None:
    # Given template.yaml
    # When the local stack reads it
    spec = read_stack()

    # Then each of its two REST APIs has exactly the operation table's routes, each by its
    # operation's function (the key API: not the webhook receivers'), and only the key API requires a key
    assert set(spec.apis) == {"RelayApi", "RelayKeyApi"}
    for api, expected in (("RelayApi", TEMPLATE_ROUTES), ("RelayKeyApi", KEY_API_ROUTES)):
        routes = spec.api_routes(api)
        assert {(r.method, r.path, r.function) for r in routes} == expected
        assert len(routes) == len(expected)
    assert {(r.method, r.path) for r in spec.routes} == {(m, p) for m, p, _ in TEMPLATE_ROUTES}
    assert [api for api in spec.apis if spec.api_key_required(api)] == ["RelayKeyApi"]
    # and exactly the operations with an SQS event poll a queue (a GET has none); the erasure queue is drained
    assert {name: fn.queue for name, fn in spec.functions.items() if fn.queue} == {
        prefix(op) + "Function": queue_id(op) + "Queue" for op in OPERATIONS.values() if op.polls and not op.schedule
    }
    assert [name for name, fn in spec.functions.items() if fn.schedules] == [
        prefix(op) + "Function" for op in OPERATIONS.values() if op.schedule
    ]
    # and the queues that keep a customer's order are FIFO, their DLQs too
    assert {q for q, queue in spec.queues.items() if queue.fifo} == FIFO_QUEUES | {
        q.replace("Queue", "DeadLetterQueue") for q in FIFO_QUEUES
    }


def test_fifo_queues_are_seeded_as_fifo(stack: LocalStack) -> None:
    # Given the running stack
    sqs = stack.aws.client("sqs")
    try:
        for queue in FIFO_QUEUES:
            # Then each FIFO queue of the template is a FIFO queue in moto, with the template's settings
            attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url(queue), AttributeNames=["All"])
            values = attributes["Attributes"]
            assert stack.queue_url(queue).endswith(".fifo")
            assert values["FifoQueue"] == "true"
            # (content-based deduplication off where A, B, A is a real later state: last-write-wins)
            last_write_wins = any(queue_id(op) + "Queue" == queue and op.last_write_wins for op in OPERATIONS.values())
            assert values["ContentBasedDeduplication"] == ("false" if last_write_wins else "true")
            assert values["VisibilityTimeout"] == "3"
            assert '"maxReceiveCount": "3"' in values["RedrivePolicy"] or '"maxReceiveCount":3' in values[
                "RedrivePolicy"
            ].replace(" ", "")
    finally:
        sqs.close()


def test_route_patterns_match_one_raw_segment() -> None:
    route = next(r for r in read_stack().routes if r.function == "UpdateCustomerSessionFunction")
    match = route.pattern.match("/v1/customer_sessions/a%2Fb%20c")
    assert match is not None and match.group("customerSessionId") == "a%2Fb%20c"
    assert route.pattern.match("/v1/customer_sessions/a/b") is None
    assert route.pattern.match("/v1/customer_sessions/") is None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "when", "expected"),
    [
        ("cron(0 3 * * ? *)", "2026-11-28T03:00", True),
        ("cron(0 3 * * ? *)", "2026-11-28T03:01", False),
        ("cron(0 3 * * ? *)", "2026-11-28T15:00", False),
        # day-of-week names, SUN=1 .. SAT=7
        ("cron(0 9 ? * MON-FRI *)", "2026-11-30T09:00", True),  # Monday
        ("cron(0 9 ? * MON-FRI *)", "2026-12-04T09:00", True),  # Friday
        ("cron(0 9 ? * MON-FRI *)", "2026-11-28T09:00", False),  # Saturday
        ("cron(0 9 ? * SUN *)", "2026-11-29T09:00", True),
        ("cron(0 9 ? * 1 *)", "2026-11-29T09:00", True),  # 1 is Sunday
        ("cron(0 9 ? * 2 *)", "2026-11-29T09:00", False),
        ("cron(0 9 ? * SAT,SUN *)", "2026-11-28T09:00", True),
        # ranges, steps, lists
        ("cron(0/15 * * * ? *)", "2026-11-28T10:45", True),
        ("cron(0/15 * * * ? *)", "2026-11-28T10:50", False),
        ("cron(*/20 * * * ? *)", "2026-11-28T10:40", True),
        ("cron(10-20/5 * * * ? *)", "2026-11-28T10:15", True),
        ("cron(10-20/5 * * * ? *)", "2026-11-28T10:16", False),
        ("cron(10-20/5 * * * ? *)", "2026-11-28T10:25", False),
        ("cron(0 3 1,15 * ? *)", "2026-11-15T03:00", True),
        ("cron(0 3 1,15 * ? *)", "2026-11-16T03:00", False),
        ("cron(0 3 * * ? 2026-2027)", "2027-06-01T03:00", True),
        ("cron(0 3 * * ? 2026)", "2027-06-01T03:00", False),
        # month names
        ("cron(0 3 1 JAN,JUL ? *)", "2027-01-01T03:00", True),
        ("cron(0 3 1 JAN-MAR ? *)", "2026-12-01T03:00", False),
        ("cron(0 3 1 12 ? *)", "2026-12-01T03:00", True),
    ],
)
def test_cron_matches(expression: str, when: str, expected: bool) -> None:
    assert cron_matches(expression, _at(when)) is expected


@pytest.mark.parametrize("expression", ["rate(1 day)", "cron(0 3 * * ?)", "0 3 * * ? *"])
def test_cron_rejects_what_is_not_a_six_field_cron(expression: str) -> None:
    with pytest.raises(ValueError):
        cron_matches(expression, _at("2026-11-28T03:00"))


def test_resolver_resolves_the_stacks_intrinsics(stack: LocalStack) -> None:
    # Given the resolver the stack built while seeding moto
    resolver = stack.aws.resolver
    assert resolver is not None
    url, arn = stack.queue_url("TrackEventQueue"), stack.aws.queue_arns["TrackEventQueue"]

    # Then Ref, GetAtt (both forms) and Sub (with pseudo parameters, attributes and variables) resolve
    assert resolver.resolve({"Ref": "TrackEventQueue"}) == url
    assert resolver.resolve({"Ref": "FunctionTimeout"}) == 20
    assert resolver.resolve({"Ref": "QueueVisibilityTimeout"}) == 3  # the tests' parameter wins
    assert resolver.resolve({"Ref": "TalonSecretArn"}) == stack.aws.secret_arn
    assert resolver.resolve({"Fn::GetAtt": ["TrackEventQueue", "Arn"]}) == arn
    assert resolver.resolve({"Fn::GetAtt": "TrackEventQueue.Arn"}) == arn
    assert resolver.resolve({"Fn::Sub": "${AWS::StackName}-track-event"}) == "talon-relay-local-track-event"
    assert resolver.resolve({"Fn::Sub": "q=${TrackEventQueue.Arn}"}) == f"q={arn}"
    assert resolver.resolve({"Fn::Sub": ["${A}/${AWS::Region}", {"A": {"Ref": "TrackEventQueue"}}]}) == (
        f"{url}/us-east-1"
    )
    assert resolver.resolve({"Fn::Sub": "literal ${!NotAVariable}"}) == "literal ${!NotAVariable}"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]}) == "a-us-east-1"
    assert resolver.condition("CreateCallerSigningSecret") is True  # CallerSigningSecretArn left empty
    assert (
        resolver.resolve(
            {"Fn::If": ["CreateCallerSigningSecret", {"Ref": "CallerSigningSecret"}, {"Ref": "CallerSigningSecretArn"}]}
        )
        == stack.aws.secret_arns["CallerSigningSecret"]
    )
    # and nested structures resolve all the way down
    policy = {"deadLetterTargetArn": {"Fn::GetAtt": ["TrackEventDeadLetterQueue", "Arn"]}, "max": [{"Ref": "LogLevel"}]}
    assert resolver.resolve(policy) == {
        "deadLetterTargetArn": stack.aws.queue_arns["TrackEventDeadLetterQueue"],
        "max": ["WARNING"],
    }


def test_resolver_evaluates_conditions_and_no_value() -> None:
    # Given the template's kind of conditions over two parameters
    conditions = {
        "HasTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Topic"}, ""]}]},
        "Enabled": {"Fn::Equals": [{"Ref": "Mode"}, "enabled"]},
        "Both": {"Fn::And": [{"Condition": "HasTopic"}, {"Condition": "Enabled"}]},
        "Either": {"Fn::Or": [{"Condition": "HasTopic"}, {"Condition": "Enabled"}]},
    }
    resolver = Resolver({"Topic": "", "Mode": "enabled"}, {"R": "r"}, {}, {}, conditions)

    # Then conditions evaluate, Fn::If picks its branch, and AWS::NoValue removes the property
    assert [resolver.condition(c) for c in ("HasTopic", "Enabled", "Both", "Either")] == [False, True, False, True]
    assert resolver.resolve({"Fn::If": ["Enabled", {"Ref": "R"}, "other"]}) == "r"
    assert resolver.resolve(
        {"Actions": {"Fn::If": ["HasTopic", [{"Ref": "Topic"}], {"Ref": "AWS::NoValue"}]}, "Keep": 1}
    ) == {"Keep": 1}
    assert resolver.resolve(["a", {"Fn::If": ["HasTopic", "b", {"Ref": "AWS::NoValue"}]}]) == ["a"]
    # and the stack's own resolver decided the template's CreateCallerSigningSecret the same way
    spec = read_stack()
    assert spec.resource_conditions["CallerSigningSecret"] == "CreateCallerSigningSecret"


def test_resolver_refuses_what_it_cannot_know() -> None:
    resolver = Resolver({"P": "p"}, {"R": "r"}, {("R", "Arn"): "arn:r"}, {"AWS::Region": "eu-west-1"})
    assert resolver.resolve({"Fn::Sub": "${P}/${R}/${R.Arn}/${AWS::Region}"}) == "p/r/arn:r/eu-west-1"
    with pytest.raises(KeyError):
        resolver.resolve({"Ref": "Missing"})
    with pytest.raises(KeyError):
        resolver.resolve({"Fn::GetAtt": ["R", "QueueName"]})
    with pytest.raises(KeyError):
        resolver.resolve({"Fn::If": ["NoSuchCondition", "a", "b"]})


def test_lambda_context_counts_down() -> None:
    # Given a context for a function with a 2 s timeout
    context = LambdaContext(function_name="F", timeout_seconds=2)

    # When time passes
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()

    # Then the remaining time decreases from the timeout, and never goes below zero
    assert 1900 < first <= 2000
    assert second <= first - 40
    assert LambdaContext(function_name="F", timeout_seconds=0).get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:F"
    assert context.aws_request_id != LambdaContext(function_name="F", timeout_seconds=2).aws_request_id
