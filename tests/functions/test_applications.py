"""Two Talon.One applications in one deployment (docs/applications.md): each caller key and signing secret
reaches its own application only, idempotency is scoped per application, queued messages carry their
application sealed, and one application's outage never holds up the other's messages. Against moto and
two local Talon.One stand-ins (one per application), over loopback."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.shopify_admin import SHOP_DOMAIN
from talon_relay.callers import applications
from tests.functions.conftest import API_KEY, CALLER_API_KEY, Stack
from tests.functions.test_api_gateway import api_event
from tests.functions.test_outages import receive_event, settle
from tests.support import FakeClock, LambdaContext, answer_every_route, reset_handlers

FOLDER = "update_customer_session_v2"
US_TALON_KEY = "fn-test-us-talon-key-71c0"
US_CALLER_KEY = "fn-test-us-caller-key-2b8e"
US_SIGNING_SECRET = "fn-test-us-signing-secret-c41a"
SHOP = SHOP_DOMAIN


@dataclass
class TwoApps:
    stack: Stack
    eu: HTTPServer  # the default application's Talon.One
    us: HTTPServer
    keys_arn: str
    signing_arn: str

    def document(self, **us: Any) -> str:
        return json.dumps(
            {
                "applications": [
                    {"name": "default", "shops": [{"domain": SHOP, "currencies": ["EUR"]}]},
                    {
                        "name": "us",
                        "talonSecretArn": self.us_talon_arn,
                        "callerKeysSecretArn": self.keys_arn,
                        "signingSecretArn": self.signing_arn,
                        "shops": [{"domain": SHOP, "currencies": ["USD"]}],
                        **us,
                    },
                ]
            }
        )

    us_talon_arn: str = ""


@pytest.fixture
def us_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def two(stack: Stack, httpserver: HTTPServer, us_server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> TwoApps:
    """Given the stack's application `default` (Talon.One `httpserver`) and an application `us` with its own
    Talon.One, caller keys and signing secret, bound to the same shop by currency."""
    suffix = uuid.uuid4().hex[:8]
    secrets = stack.secrets
    talon = {"baseUrl": us_server.url_for("/").rstrip("/"), "apiKey": US_TALON_KEY}
    talon_arn = secrets.create_secret(Name=f"us-talon-{suffix}", SecretString=json.dumps(talon))["ARN"]
    keys_arn = secrets.create_secret(Name=f"us-keys-{suffix}", SecretString=json.dumps({"current": US_CALLER_KEY}))[
        "ARN"
    ]
    signing = json.dumps({"current": US_SIGNING_SECRET})
    signing_arn = secrets.create_secret(Name=f"us-signing-{suffix}", SecretString=signing)["ARN"]
    apps = TwoApps(stack, httpserver, us_server, keys_arn, signing_arn, talon_arn)
    monkeypatch.setenv("TALON_APPLICATIONS", apps.document())
    reset_handlers()
    return apps


def keys_seen(server: HTTPServer) -> list[str]:
    return [request.headers.get("Authorization", "") for request, _ in server.log]


def with_key(key: str, **headers: str) -> dict[str, Any]:
    event = api_event(
        FOLDER, params={"customerSessionId": "s-1"}, headers={"Authorization": f"ApiKey-v1 {key}", **headers}
    )
    event["headers"].pop("X-Relay-Signature", None)
    return event


def test_each_caller_key_reaches_its_own_application_only(two: TwoApps, load_handler: Any) -> None:
    # Given both applications' Talon.One answering
    answer_every_route(two.eu)
    answer_every_route(two.us)
    handler = load_handler(FOLDER)
    # When a caller of each sends the same request with its own relay caller key
    assert handler(with_key(CALLER_API_KEY), LambdaContext())["statusCode"] == 200
    assert handler(with_key(US_CALLER_KEY), LambdaContext())["statusCode"] == 200
    # Then each request reached its application's Talon.One, with that application's key, and no other
    assert keys_seen(two.eu) == [f"ApiKey-v1 {API_KEY}"]
    assert keys_seen(two.us) == [f"ApiKey-v1 {US_TALON_KEY}"]


def test_a_signature_reaches_the_application_of_its_signing_secret(two: TwoApps, load_handler: Any) -> None:
    # Given both applications' Talon.One answering
    answer_every_route(two.eu)
    answer_every_route(two.us)
    # When a request signed with `us`'s signing secret arrives
    event = api_event(FOLDER, params={"customerSessionId": "s-1"}, secret=US_SIGNING_SECRET)
    response = load_handler(FOLDER)(event, LambdaContext())
    # Then it reached `us` alone
    assert response["statusCode"] == 200, response
    assert (keys_seen(two.eu), keys_seen(two.us)) == ([], [f"ApiKey-v1 {US_TALON_KEY}"])


def test_a_key_bound_to_two_applications_is_refused_naming_both(two: TwoApps, load_handler: Any) -> None:
    # Given the default application's caller key listed in `us`'s keys as well
    two.stack.secrets.put_secret_value(
        SecretId=two.keys_arn, SecretString=json.dumps({"current": US_CALLER_KEY, "keys": [CALLER_API_KEY]})
    )
    reset_handlers()
    # When a caller sends it
    response = load_handler(FOLDER)(with_key(CALLER_API_KEY), LambdaContext())
    # Then it is refused with a 401 naming both applications, and no Talon.One was called
    assert response["statusCode"] == 401
    assert "matches applications default, us" in response["body"]
    assert (two.eu.log, two.us.log) == ([], [])


def test_an_unknown_key_reaches_no_application(two: TwoApps, load_handler: Any) -> None:
    response = load_handler(FOLDER)(with_key("fn-test-nobodys-key-0000"), LambdaContext())
    assert response["statusCode"] == 401
    assert "unknown relay caller key" in response["body"]
    assert (two.eu.log, two.us.log) == ([], [])


def test_an_idempotency_key_of_one_application_is_a_new_request_in_another(two: TwoApps, load_handler: Any) -> None:
    # Given both Talon.One answering, and a request sent with Idempotency-Key k-1 to the default application
    answer_every_route(two.eu)
    answer_every_route(two.us)
    handler = load_handler(FOLDER)
    assert handler(with_key(CALLER_API_KEY, **{"Idempotency-Key": "k-1"}), LambdaContext())["statusCode"] == 200
    # When `us`'s caller sends the same request with the same key, and the default's caller repeats its own
    second = handler(with_key(US_CALLER_KEY, **{"Idempotency-Key": "k-1"}), LambdaContext())
    repeat = handler(with_key(CALLER_API_KEY, **{"Idempotency-Key": "k-1"}), LambdaContext())
    # Then `us`'s is a request of its own (sent to its Talon.One), the repeat is answered from the record
    assert (second["statusCode"], repeat["statusCode"]) == (200, 200)
    assert (len(two.eu.log), len(two.us.log)) == (1, 1)


# --- queued messages ---------------------------------------------------------------------------------


@dataclass
class Fifo:
    queue: str
    dlq: str


@pytest.fixture
def fifo(two: TwoApps, monkeypatch: pytest.MonkeyPatch) -> Fifo:
    """Given the function's queue a FIFO queue (one group per application's customer), with its DLQ."""
    sqs, suffix = two.stack.sqs, uuid.uuid4().hex[:8]
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": "30"}
    dlq = sqs.create_queue(QueueName=f"apps-dlq-{suffix}.fifo", Attributes=attributes)["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"apps-{suffix}.fifo", Attributes=attributes)["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", queue)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    reset_handlers()
    return Fifo(str(queue), str(dlq))


def queue_async(handler: Any, key: str, total: int, session: str = "s-1") -> None:
    body = {"customerSession": {"profileId": "p-1", "attributes": {"n": total}}}
    event = api_event(FOLDER, params={"customerSessionId": session}, body=body)
    event["headers"].pop("X-Relay-Signature", None)
    event["headers"].update({"Authorization": f"ApiKey-v1 {key}", "Prefer": "respond-async"})
    event["requestContext"]["requestId"] = str(uuid.uuid4())  # each its own (the idempotency key queued)
    answer = handler(event, LambdaContext())
    assert answer["statusCode"] == 202, answer


def totals_of(request: Request) -> int:
    return int(json.loads(request.data)["customerSession"]["attributes"]["n"])


def totals(server: HTTPServer) -> list[int]:
    return [totals_of(request) for request, _ in server.log]


def test_one_application_down_for_an_hour_never_delays_the_other(
    two: TwoApps, fifo: Fifo, load_handler: Any, sqs_clock: FakeClock
) -> None:
    # Given the default application's Talon.One down, `us`'s up
    down = {"eu": True}

    def eu_talon(request: Request) -> Response:
        if down["eu"]:
            return Response("", status=503)
        return Response(json.dumps({"effects": [], "customerSession": {}}), status=200, content_type="application/json")

    two.eu.expect_request(re.compile(".*")).respond_with_handler(eu_talon)
    answer_every_route(two.us)
    handler = load_handler(FOLDER)
    # And three queued updates of the default application's session s-1, one of `us`'s session s-1
    for n in (1, 2, 3):
        queue_async(handler, CALLER_API_KEY, n)
    queue_async(handler, US_CALLER_KEY, 100)

    def poll() -> None:
        for _ in range(3):  # what the poller takes now: every visible group
            event = receive_event(two.stack, fifo.queue)
            if not event["Records"]:
                return
            settle(two.stack, fifo.queue, event, handler(event, LambdaContext()))

    # When the queue is polled minute by minute for an hour, `us` sending an update each minute
    poll()
    assert totals(two.us) == [100]
    for minute in range(1, 61):
        sqs_clock.advance(60)
        queue_async(handler, US_CALLER_KEY, 100 + minute)
        poll()
        # Then each of `us`'s updates is delivered in the minute it was sent
        assert totals(two.us)[-1] == 100 + minute
    # (meanwhile only the default's head was tried, after each backoff, and failed)
    assert {(totals_of(request), response.status_code) for request, response in two.eu.log} == {(1, 503)}
    # And once the default application's Talon.One is back, its updates arrive within its backoff, in order
    down["eu"] = False
    sqs_clock.advance(901)
    poll()
    applied = [totals_of(request) for request, response in two.eu.log if response.status_code == 200]
    assert applied == [1, 2, 3]
    assert receive_event(two.stack, fifo.queue)["Records"] == []


def send_raw(two: TwoApps, queue: str, body: str, attributes: dict[str, str]) -> None:
    two.stack.sqs.send_message(
        QueueUrl=queue,
        MessageBody=body,
        MessageGroupId="g-1",
        MessageDeduplicationId=uuid.uuid4().hex,
        MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()},
    )


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({}, "has no relayApplication attribute"),
        ({"relayApplication": "us"}, "relaySeal does not match"),
        ({"relayApplication": "us", "relaySeal": "0" * 64}, "relaySeal does not match"),
        ({"relayApplication": "mars", "relaySeal": "0" * 64}, "names no application"),
    ],
)
def test_a_message_whose_application_the_relay_did_not_seal_is_dead_lettered(
    two: TwoApps, fifo: Fifo, load_handler: Any, attributes: dict[str, str], reason: str
) -> None:
    # Given a message someone with SendMessage rights wrote, claiming an application without its seal
    answer_every_route(two.eu)
    answer_every_route(two.us)
    send_raw(two, fifo.queue, json.dumps({"customerSessionId": "s-1", "body": {"customerSession": {}}}), attributes)
    # When it is processed
    event = receive_event(two.stack, fifo.queue)
    assert handler_result(load_handler, event) == {"batchItemFailures": []}
    # Then no Talon.One was called, and it is dead-lettered with the reason
    assert (two.eu.log, two.us.log) == ([], [])
    [dead] = two.stack.sqs.receive_message(QueueUrl=fifo.dlq, MessageAttributeNames=["All"])["Messages"]
    assert reason in dead["MessageAttributes"]["failureReason"]["StringValue"]


def handler_result(load_handler: Any, event: dict[str, Any]) -> Any:
    return load_handler(FOLDER)(event, LambdaContext())


def test_a_sender_holding_the_signing_secret_seals_its_own_application(
    two: TwoApps, fifo: Fifo, load_handler: Any
) -> None:
    # Given a service that sends to the queue directly, sealing with `us`'s signing secret
    answer_every_route(two.eu)
    answer_every_route(two.us)
    body = json.dumps({"customerSessionId": "s-9", "body": {"customerSession": {}}})
    seal = applications.seal("us", body, US_SIGNING_SECRET)
    send_raw(two, fifo.queue, body, {"relayApplication": "us", "relaySeal": seal})
    # When it is processed, then it reached `us`
    assert handler_result(load_handler, receive_event(two.stack, fifo.queue)) == {"batchItemFailures": []}
    assert ([r.path for r, _ in two.us.log], two.eu.log) == (["/v2/customer_sessions/s-9"], [])


# --- a noisy neighbour: one application's slow or failing Talon.One in the batches of another -----------


class ClockedContext(LambdaContext):
    """A Lambda context whose remaining time runs on a fake clock (a slow answer is an advance)."""

    def __init__(self, clock: FakeClock, timeout: float = 20.0) -> None:
        super().__init__(timeout_seconds=timeout)
        self.clock, self.began = clock, clock()

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.timeout_seconds - (self.clock() - self.began)) * 1000), 0)


def ok_session(request: Request) -> Response:
    return Response(json.dumps({"effects": [], "customerSession": {}}), status=200, content_type="application/json")


def sessions_of(server: HTTPServer, status: int = 200) -> list[tuple[str, int]]:
    return [(r.path.rsplit("/", 1)[-1], totals_of(r)) for r, answer in server.log if answer.status_code == status]


def test_a_slow_application_holds_only_its_share_of_the_batch_threads(
    two: TwoApps, fifo: Fifo, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given four batch threads, and the default application's Talon.One answering only once `us`'s two
    # messages were delivered (a Talon.One slow without failing; held on an event, not on the clock)
    monkeypatch.setenv("BATCH_CONCURRENCY", "4")
    reset_handlers()
    us_delivered, held = threading.Event(), []

    def eu_talon(request: Request) -> Response:
        held.append(us_delivered.wait(10))  # True: released by `us`'s delivery (False would be a thread starved)
        return ok_session(request)

    def us_talon(request: Request) -> Response:
        if len(two.us.log) >= 1:  # this is the second
            us_delivered.set()
        return ok_session(request)

    two.eu.expect_request(re.compile(".*")).respond_with_handler(eu_talon)
    two.us.expect_request(re.compile(".*")).respond_with_handler(us_talon)
    handler = load_handler(FOLDER)
    # And one batch holding four sessions of the default application, queued first, then two of `us`
    for n, session in enumerate(("a1", "a2", "a3", "a4"), start=1):
        queue_async(handler, CALLER_API_KEY, n, session=session)
    queue_async(handler, US_CALLER_KEY, 101, session="b1")
    queue_async(handler, US_CALLER_KEY, 102, session="b2")
    event = receive_event(two.stack, fifo.queue)
    assert len(event["Records"]) == 6
    # When the batch is processed
    result = handler(event, LambdaContext())
    # Then `us`'s messages were delivered while the default's Talon.One held its calls: those took two
    # threads (its share), never all four, and every message of both went through
    assert result == {"batchItemFailures": []}
    assert sorted(sessions_of(two.us)) == [("b1", 101), ("b2", 102)]
    assert held == [True, True, True, True]
    assert sorted(sessions_of(two.eu)) == [("a1", 1), ("a2", 2), ("a3", 3), ("a4", 4)]


def test_a_slow_application_spends_only_its_share_of_the_batch_time_then_catches_up_in_order(
    two: TwoApps, fifo: Fifo, load_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the default application's Talon.One taking six seconds an answer (on the invocation's fake clock),
    # `us`'s answering at once, and each application's share of a batch ten seconds
    monkeypatch.setenv("APPLICATION_BATCH_SECONDS", "10")
    reset_handlers()
    clock, us_delivered = FakeClock(), threading.Event()

    def eu_talon(request: Request) -> Response:
        us_delivered.wait(10)  # (so `us`'s call is made before the slow answers move the clock)
        clock.advance(6)
        return ok_session(request)

    def us_talon(request: Request) -> Response:
        us_delivered.set()
        return ok_session(request)

    two.eu.expect_request(re.compile(".*")).respond_with_handler(eu_talon)
    two.us.expect_request(re.compile(".*")).respond_with_handler(us_talon)
    handler = load_handler(FOLDER)
    # And three updates of the default's session s-1 queued, then one of `us`
    for n in (1, 2, 3):
        queue_async(handler, CALLER_API_KEY, n)
    queue_async(handler, US_CALLER_KEY, 100)
    # When a batch of all four is processed
    event = receive_event(two.stack, fifo.queue)
    assert len(event["Records"]) == 4
    result = handler(event, ClockedContext(clock))
    settle(two.stack, fifo.queue, event, result)
    # Then `us`'s was delivered; the default's first two used its share (twelve seconds of the twenty), and
    # its third was not started in this batch but handed back at once, in its group's order
    assert sessions_of(two.us) == [("s-1", 100)]
    assert [total for _, total in sessions_of(two.eu)] == [1, 2]
    assert len(result["batchItemFailures"]) == 1
    # And the next batch (which takes `us`'s next message too) delivers it, in order, and nothing is left
    queue_async(handler, US_CALLER_KEY, 101)
    event = receive_event(two.stack, fifo.queue)
    result = handler(event, ClockedContext(clock))
    settle(two.stack, fifo.queue, event, result)
    assert result == {"batchItemFailures": []}
    assert [total for _, total in sessions_of(two.eu)] == [1, 2, 3]
    assert [total for _, total in sessions_of(two.us)] == [100, 101]
    assert receive_event(two.stack, fifo.queue)["Records"] == []


def test_a_failing_application_stops_being_called_in_the_batch_and_another_goes_on(
    two: TwoApps, fifo: Fifo, load_handler: Any, monkeypatch: pytest.MonkeyPatch, sqs_clock: FakeClock
) -> None:
    # Given two batch threads (one each), the default application's Talon.One throttling every call, `us`'s up
    monkeypatch.setenv("BATCH_CONCURRENCY", "2")
    reset_handlers()
    down = {"eu": True}

    def eu_talon(request: Request) -> Response:
        if down["eu"]:
            return Response("", status=429, headers={"Retry-After": "120"})
        return ok_session(request)

    two.eu.expect_request(re.compile(".*")).respond_with_handler(eu_talon)
    answer_every_route(two.us)
    handler = load_handler(FOLDER)
    # And five sessions of the default application queued, then three of `us`
    for n in range(1, 6):
        queue_async(handler, CALLER_API_KEY, n, session=f"a{n}")
    for n in range(1, 4):
        queue_async(handler, US_CALLER_KEY, 100 + n, session=f"b{n}")
    # When one batch of them is processed
    event = receive_event(two.stack, fifo.queue)
    assert len(event["Records"]) == 8
    result = handler(event, LambdaContext())
    settle(two.stack, fifo.queue, event, result)
    # Then `us`'s three were delivered; the default's Talon.One was called for three sessions only (three
    # failures in a row), its other two not at all, and all five come back after at least its Retry-After
    assert sorted(totals(two.us)) == [101, 102, 103]
    assert len({request.path for request, _ in two.eu.log}) == 3
    assert len(result["batchItemFailures"]) == 5
    sqs_clock.advance(119)
    assert receive_event(two.stack, fifo.queue)["Records"] == []
    # And once its Talon.One is back, its five are delivered, each session's in order
    down["eu"] = False
    sqs_clock.advance(2)
    event = receive_event(two.stack, fifo.queue)
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert sorted(sessions_of(two.eu)) == [(f"a{n}", n) for n in range(1, 6)]


def test_a_default_customer_named_like_another_applications_record_keeps_its_own_order(
    two: TwoApps, fifo: Fifo, load_handler: Any, monkeypatch: pytest.MonkeyPatch, sqs_clock: FakeClock
) -> None:
    # Given the default application's Talon.One down at first, and `us`'s refusing one update (a fault)
    monkeypatch.setenv("QUEUE_RETRY_BASE_SECONDS", "3")
    monkeypatch.setenv("QUEUE_RETRY_MAX_SECONDS", "60")
    reset_handlers()
    down = {"eu": True}

    def eu_talon(request: Request) -> Response:
        return Response("", status=503) if down["eu"] else ok_session(request)

    def us_talon(request: Request) -> Response:
        if totals_of(request) == 10:
            return Response(json.dumps({"message": "refused"}), status=400, content_type="application/json")
        return ok_session(request)

    two.eu.expect_request(re.compile(".*")).respond_with_handler(eu_talon)
    two.us.expect_request(re.compile(".*")).respond_with_handler(us_talon)
    handler = load_handler(FOLDER)

    def poll() -> None:
        event = receive_event(two.stack, fifo.queue)
        settle(two.stack, fifo.queue, event, handler(event, LambdaContext()))

    # And the default application's update of its session "@us#s-1" queued, failing once (backoff 3 s)
    queue_async(handler, CALLER_API_KEY, 1, session="@us#s-1")
    poll()
    # When, a second later, `us`'s session s-1 gets an update that is dead-lettered and a newer one applied
    sqs_clock.advance(1)
    queue_async(handler, US_CALLER_KEY, 10)
    queue_async(handler, US_CALLER_KEY, 20)
    poll()
    assert sessions_of(two.us) == [("s-1", 20)]
    # And the default's Talon.One is back when its update comes back
    down["eu"] = False
    sqs_clock.advance(5)
    poll()
    # Then the default application's update was applied: `us`'s session's record is not its customer's
    assert sessions_of(two.eu) == [("@us#s-1", 1)]
