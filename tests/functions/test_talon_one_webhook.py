"""The Talon.One notifications function, both triggers, against moto (Secrets Manager, SQS, DynamoDB,
EventBridge delivering to an SQS subscriber as the stack's rule does) and the local Shopify Admin stand-in.

No test sleeps: the stand-in's clock is the test's, and a retried message is made visible again at once
while the test's clock moves on by the backoff the relay asked for.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from local.gateway import sqs_record
from local.shopify_admin import ADMIN_TOKEN, ShopifyAdmin, ShopifyAdminServer
from talon_relay.core import input_limits as limits
from talon_relay.core import retry_delays as backoff
from tests.functions.conftest import Stack
from tests.support import ROOT, LambdaContext, load_event, reset_handlers

FOLDER = "talon_one_webhook"
NOTIFICATION_SECRET = "fn-test-notification-secret-6b2f90"
PREVIOUS_NOTIFICATION_SECRET = "fn-test-notification-previous-1c7d44"
SHOP = "relay-test.myshopify.com"
SCHEMAS = ROOT / "schemas" / "events"
Handler = Callable[[dict[str, Any], Any], Any]


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


def balance(profile: str, points: float) -> dict[str, Any]:
    return {
        "ProfileIntegrationID": profile,
        "LoyaltyProgramID": 5,
        "NotificationType": "LoyaltyAddedDeductedPointsBalances",
        "TypeOfChange": "rule_engine",
        "CurrentPoints": points,
        "Actions": [{"Amount": 10, "Operation": "addition", "Reason": "order"}],
    }


def tier(profile: str, name: str, points: float, at: str) -> dict[str, Any]:
    item = {"CustomerProfileID": profile, "LoyaltyProgramID": 5, "CurrentTier": name, "CurrentPoints": points}
    return {"TotalResultSize": 1, "NotificationType": "TierUpgrade", "Data": [{**item, "TimestampOfTierChange": at}]}


@dataclass
class Relay:
    stack: Stack
    handler: Handler
    queue_url: str
    queue_arn: str
    dlq_url: str
    events_url: str
    events_dlq_url: str
    shopify: ShopifyAdmin
    clock: Clock

    def post(self, body: Any, *, uuid_: str | None = None, secret: str | None = NOTIFICATION_SECRET) -> dict[str, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        event = copy.deepcopy(load_event(FOLDER, "api"))
        headers = {k: v for k, v in event["headers"].items() if k not in ("X-Relay-Notification-Secret", "X-UUID")}
        headers["X-UUID"] = uuid_ or str(uuid.uuid4())
        if secret is not None:
            headers["X-Relay-Notification-Secret"] = secret
        event["headers"] = headers
        event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
        event["body"] = raw.decode("utf-8", "replace")
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        result: dict[str, Any] = self.handler(event, LambdaContext())
        return result

    def consume(self) -> set[str]:
        """One batch through the function; what failed is visible again at once. Returns the failed ids."""
        messages = self.receive(self.queue_url, keep=True)
        assert messages, "nothing queued"
        result = self.handler({"Records": [sqs_record(m, self.queue_arn) for m in messages]}, LambdaContext())
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in messages:
            handle = message["ReceiptHandle"]
            if message["MessageId"] in failed:
                self.stack.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
                )
            else:
                self.stack.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
        return failed

    def receive(self, url: str, *, keep: bool = False) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(10):
            batch = self.stack.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                break
            out.extend(batch)
            if keep:
                break
        return out

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.receive(self.events_url)]


@pytest.fixture
def relay(stack: Stack, load_handler: Callable[[str], Handler], monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    """Given the notifications function's environment as the template gives it, in moto, and the bus's
    subscriber queue (RelayEventsQueue) as the rule fills it, and the Shopify Admin stand-in."""
    suffix = uuid.uuid4().hex[:8]
    sqs = stack.sqs
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq_url = sqs.create_queue(QueueName=f"t1-dlq-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"t1-{suffix}.fifo",
        Attributes={
            **fifo,
            "DeduplicationScope": "messageGroup",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "20"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_url = sqs.create_queue(QueueName=f"relay-events-{suffix}")["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_dlq_url = sqs.create_queue(QueueName=f"relay-events-dlq-{suffix}")["QueueUrl"]
    bus = f"relay-{suffix}"
    events = boto3.client("events")
    events.create_event_bus(Name=bus)
    pattern = {"source": ["talon-relay.effects", "talon-relay.notifications"]}
    events.put_rule(Name=f"all-{suffix}", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"all-{suffix}", EventBusName=bus, Targets=[{"Id": "q", "Arn": events_arn}])
    secrets = stack.secrets
    secret_arn = secrets.create_secret(
        Name=f"t1-{suffix}",
        SecretString=json.dumps({"current": NOTIFICATION_SECRET, "previous": PREVIOUS_NOTIFICATION_SECRET}),
    )["ARN"]
    token_arn = secrets.create_secret(Name=f"shop-{suffix}", SecretString=json.dumps({"accessToken": ADMIN_TOKEN}))[
        "ARN"
    ]
    clock = Clock()
    server = ShopifyAdminServer(ShopifyAdmin(clock=clock)).start()
    for name, value in {
        "QUEUE_URL": queue_url,
        "DEAD_LETTER_QUEUE_URL": dlq_url,
        "WEBHOOK_SECRET_ARN": secret_arn,
        "EVENT_BUS_NAME": bus,
        "EVENTS_DEAD_LETTER_QUEUE_URL": events_dlq_url,
        "SHOPIFY_SHOP_DOMAIN": SHOP,
        "SHOPIFY_ADMIN_TOKEN_SECRET_ARN": token_arn,
        "SHOPIFY_ADMIN_URL": server.graphql_url(),
    }.items():
        monkeypatch.setenv(name, value)
    reset_handlers()
    yield Relay(
        stack, load_handler(FOLDER), queue_url, queue_arn, dlq_url, events_url, events_dlq_url, server.admin, clock
    )
    server.stop()
    events.remove_targets(Rule=f"all-{suffix}", EventBusName=bus, Ids=["q"])
    events.delete_rule(Name=f"all-{suffix}", EventBusName=bus)
    events.delete_event_bus(Name=bus)


def metafields(relay: Relay, customer: str) -> dict[str, str]:
    kept = relay.shopify.metafields.get(f"gid://shopify/Customer/{customer}", {})
    return {key: field["value"] for key, field in kept.items()}


# --- notifications in ---------------------------------------------------------------------------


def test_the_same_x_uuid_twice_is_one_event(relay: Relay) -> None:
    # Given a balance notification, and Talon.One sending it again (a retry: the same X-UUID)
    body = balance("7001", 40)
    first = relay.post(body, uuid_="uuid-twice-1")
    again = relay.post(body, uuid_="uuid-twice-1")
    # Then both are answered 200 at once, and the queue holds it once
    assert first["statusCode"] == again["statusCode"] == 200
    assert json.loads(first["body"])["status"] == "queued"
    relay.consume()
    # And when it is queued again after the queue's deduplication window, it is still not published twice
    relay.stack.sqs.send_message(
        QueueUrl=relay.queue_url,
        MessageBody=json.dumps(
            {
                "platform": "talon_one",
                "topic": body["NotificationType"],
                "webhookId": "uuid-twice-1",
                "body": json.dumps(body),
            }
        ),
        MessageGroupId="7001",
        MessageDeduplicationId=uuid.uuid4().hex,
    )
    relay.consume()
    published = relay.published()
    assert [event["detail"]["id"] for event in published] == ["notification:uuid-twice-1"]
    [event] = published
    assert event["source"] == "talon-relay.notifications"
    assert event["detail-type"] == "LoyaltyAddedDeductedPointsBalances"
    assert event["detail"]["profileId"] == "7001"
    assert event["detail"]["notification"] == body
    jsonschema.validate(event["detail"], json.loads((SCHEMAS / "notification.schema.json").read_text()))


@pytest.mark.parametrize("secret", [None, "not-the-secret", NOTIFICATION_SECRET + "x"])
def test_a_notification_without_the_secret_header_is_a_401(relay: Relay, secret: str | None) -> None:
    answer = relay.post(balance("7002", 1), secret=secret)
    assert answer["statusCode"] == 401
    assert relay.receive(relay.queue_url) == []


def test_the_previous_secret_is_taken_during_a_rotation(relay: Relay) -> None:
    assert relay.post(balance("7003", 1), secret=PREVIOUS_NOTIFICATION_SECRET)["statusCode"] == 200


@pytest.mark.parametrize(
    ("raw", "fault"),
    [(b"{not json", "not valid JSON"), (b"[" * (limits.MAX_DEPTH + 2) + b"]" * (limits.MAX_DEPTH + 2), "nests")],
)
def test_a_body_that_is_not_json_or_too_deep_is_refused_with_its_reason(relay: Relay, raw: bytes, fault: str) -> None:
    answer = relay.post(raw)
    assert answer["statusCode"] == 400
    assert fault in answer["body"]
    assert relay.receive(relay.queue_url) == []


def test_a_queued_notification_that_is_not_json_is_dead_lettered_with_its_reason(relay: Relay) -> None:
    relay.stack.sqs.send_message(
        QueueUrl=relay.queue_url,
        MessageBody=json.dumps({"platform": "talon_one", "topic": "unknown", "webhookId": "u-bad", "body": "{oops"}),
        MessageGroupId="u-bad",
        MessageDeduplicationId="u-bad",
    )
    assert relay.consume() == set()
    [dead] = relay.receive(relay.dlq_url)
    assert "not valid JSON" in dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert relay.published() == []


def test_an_unknown_type_is_accepted_and_published_as_it_came(relay: Relay) -> None:
    body = {"NotificationType": "SomethingNew", "Data": [{"x": 1}]}
    assert relay.post(body, uuid_="u-new")["statusCode"] == 200
    relay.consume()
    [event] = relay.published()
    assert event["detail-type"] == "SomethingNew"
    assert event["detail"]["notification"] == body


@pytest.mark.parametrize("kind", [["TierUpgrade"], {"type": "TierUpgrade"}, 7, None])
def test_a_notification_whose_type_is_not_a_string_is_taken_and_published_as_it_came(relay: Relay, kind: Any) -> None:
    # Given a notification whose NotificationType is a list, an object, a number or null
    body = {**balance("7010", 12), "NotificationType": kind}
    # When Talon.One sends it
    answer = relay.post(body, uuid_=f"u-odd-type-{type(kind).__name__}")
    # Then it is taken like any type the relay does not know (never a 500)
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"])["status"] == "queued"
    # And once consumed it is published as it came, under detail-type "unknown", and nothing is dead-lettered
    assert relay.consume() == set()
    [event] = relay.published()
    assert event["detail-type"] == "unknown"
    assert event["detail"]["notification"] == body
    assert relay.receive(relay.dlq_url) == []
    # And nothing is written back: it is not a balance notification
    assert relay.shopify.requests == []


def test_a_notification_that_fits_eventbridge_in_utf_8_is_published_whatever_its_script(relay: Relay) -> None:
    # Given a notification of about 200 KB of UTF-8 text in other scripts than Latin (as JSON \\u escapes
    # it would be three times that, past EventBridge's 256 KB)
    text = "é" * 30_000 + "日本語" * 10_000 + "🎁" * 10_000
    body = {"NotificationType": "CouponCreated", "Data": [{"note": text}]}
    utf_8, escaped = len(json.dumps(body, ensure_ascii=False).encode()), len(json.dumps(body))
    assert utf_8 < 200_000 < 256 * 1024 < escaped
    # When Talon.One sends it and it is consumed
    assert relay.post(body, uuid_="u-utf8")["statusCode"] == 200
    assert relay.consume() == set()
    # Then it is published, as it came, and nothing is dead-lettered
    [event] = relay.published()
    assert event["detail"]["notification"] == body
    assert relay.receive(relay.dlq_url) == []


def test_a_notification_too_large_for_eventbridge_is_dead_lettered_at_once_with_the_reason(relay: Relay) -> None:
    # Given a notification of 300 KB (within the relay's 1 MiB, past EventBridge's 256 KB an entry)
    body = {"NotificationType": "CouponCreated", "Data": [{"note": "x" * 300_000}]}
    # When Talon.One sends it and it is consumed once
    assert relay.post(body, uuid_="u-huge")["statusCode"] == 200
    assert relay.consume() == set()
    # Then it is dead-lettered with the reason at once (not retried for hours), and nothing is published
    [letter] = relay.receive(relay.dlq_url)
    assert "EventBridge takes 262,144" in letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert relay.published() == []


# --- the write-back -----------------------------------------------------------------------------


def test_a_points_notification_becomes_a_metafields_set(relay: Relay) -> None:
    relay.post(balance("7100", 46.5))
    assert relay.consume() == set()
    assert metafields(relay, "7100") == {"talon_one.loyalty_points": "46.5"}
    [request] = relay.shopify.requests
    assert "metafieldsSet" in request["body"]["query"]


@pytest.mark.parametrize(
    ("points", "written"),
    [(1_234_567, "1234567"), (1_234_567.25, "1234567.25"), (12_345.67, "12345.67"), (0.000001, "0.000001")],
)
def test_a_balance_is_written_back_exactly_as_talon_one_sent_it(relay: Relay, points: float, written: str) -> None:
    # Given a balance notification for a customer with a large or finely divided balance
    relay.post(balance("7150", points))
    # When the write-back runs
    assert relay.consume() == set()
    # Then the metafield holds the number Talon.One sent: not rounded, not in exponent notation
    assert metafields(relay, "7150") == {"talon_one.loyalty_points": written}


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "not a time"])
def test_a_tier_change_time_that_is_no_utc_moment_is_read_as_the_time_it_arrived(
    relay: Relay, logs: Any, at: str
) -> None:
    # Given a tier notification whose TimestampOfTierChange is past the ends of the calendar once in UTC
    relay.post(tier("7170", "Gold", 300, at))
    # When the write-back runs
    failed = relay.consume()
    # Then the tier is written as of its arrival (as for a time that cannot be read), never an unexpected failure
    assert failed == set()
    assert not [r for r in logs.records() if r.get("message", "").startswith("unexpected failure")]
    assert metafields(relay, "7170") == {"talon_one.loyalty_points": "300", "talon_one.loyalty_tier": "Gold"}


@pytest.mark.parametrize("profile", ["\uff17\uff11\uff10\uff10", "7\u00b2", "\u0667\u0661", "guest-order-7"])
def test_a_profile_that_is_not_a_shopify_customer_id_is_not_written_back(relay: Relay, profile: str) -> None:
    # Given a balance for a profile whose id is no Shopify customer id (digits of other scripts, a superscript,
    # a guest order's profile)
    relay.post(balance(profile, 10))
    # When the write-back runs
    assert relay.consume() == set()
    # Then it is published but Shopify is not asked to write to a customer that cannot exist
    assert len(relay.published()) == 1
    assert relay.shopify.requests == []
    assert relay.receive(relay.dlq_url) == []


def test_a_balance_sent_again_after_a_newer_one_is_not_written_back_again(relay: Relay) -> None:
    # Given a customer's balance of 10 (X-UUID u-old) written back, then their newer balance of 20
    relay.post(balance("7190", 10), uuid_="u-old")
    assert relay.consume() == set()
    relay.post(balance("7190", 20), uuid_="u-new")
    assert relay.consume() == set()
    # When Talon.One sends the first notification again after the queue's five-minute deduplication window (it
    # retries for about ten), so the receiver queues it again, received now
    again = {"platform": "talon_one", "topic": "LoyaltyAddedDeductedPointsBalances", "webhookId": "u-old"}
    later = (datetime.now(UTC) + timedelta(minutes=7)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    again |= {"triggeredAt": later, "body": json.dumps(balance("7190", 10))}
    relay.stack.sqs.send_message(
        QueueUrl=relay.queue_url, MessageBody=json.dumps(again), MessageGroupId="7190", MessageDeduplicationId="x"
    )
    assert relay.consume() == set()
    # Then the shop keeps the newer balance: the old one is neither published nor written back a second time
    assert metafields(relay, "7190") == {"talon_one.loyalty_points": "20"}
    assert len(relay.shopify.requests) == 2
    assert len(relay.published()) == 2


def test_an_older_balance_arriving_after_a_newer_one_changes_nothing(relay: Relay) -> None:
    # Given the customer's newer tier and balance written
    relay.post(tier("7200", "Gold", 250, "2026-06-02T10:00:00Z"))
    relay.consume()
    assert metafields(relay, "7200") == {"talon_one.loyalty_points": "250", "talon_one.loyalty_tier": "Gold"}
    # When an older one arrives after it
    relay.post(tier("7200", "Silver", 120, "2026-06-01T10:00:00Z"))
    assert relay.consume() == set()
    # Then nothing changes, and Shopify was not even asked
    assert metafields(relay, "7200") == {"talon_one.loyalty_points": "250", "talon_one.loyalty_tier": "Gold"}
    assert len(relay.shopify.requests) == 1


def test_a_15_minute_shopify_outage_ends_with_the_right_balance(relay: Relay) -> None:
    # Given Shopify down for 15 minutes, and two balances of one customer arriving meanwhile
    relay.shopify.outage(15 * 60)
    relay.post(balance("7300", 10))
    relay.post(balance("7300", 35))
    # When the queue delivers them again after each backoff the relay asks for (the clock moves on)
    receives = 0
    while relay.consume():
        receives += 1
        assert receives < 20, "still failing"
        relay.clock.now += backoff.visibility_for(receives)
    # (the second balance came with the first, behind it in its customer's group: nothing is left)
    assert relay.receive(relay.queue_url) == []
    # Then the outage was lived through, published once each, and the shop holds the newer balance
    assert relay.clock.now - relay.shopify.requests[0]["at"] >= 15 * 60
    assert metafields(relay, "7300") == {"talon_one.loyalty_points": "35"}
    assert [r["status"] for r in relay.shopify.requests][-2:] == [200, 200]
    assert len(relay.published()) == 2


def test_shopify_throttling_is_respected(relay: Relay) -> None:
    # Given the shop's bucket nearly empty, and slow to refill (the relay's clock is the real one: the
    # refill must take longer than the test, however loaded the machine)
    relay.shopify.restore = 0.01
    relay.shopify.drain(995)
    relay.post(balance("7400", 5))
    # When the write-back is throttled
    assert relay.consume()
    # Then the relay does not call again before the bucket can pay for it (it knows throttleStatus)
    assert relay.consume()
    assert [r["status"] for r in relay.shopify.requests] == [200]
    assert relay.shopify.requests[0]["path"].endswith("/graphql.json")
    assert metafields(relay, "7400") == {}


@pytest.mark.parametrize(
    ("answer", "written"),
    [
        ([], False),
        ("ok", False),
        ({"data": {"metafieldsSet": ["not", "an", "object"]}}, False),
        ({"errors": [{"message": "odd", "extensions": "THROTTLED"}]}, False),
        ({"extensions": ["cost"], "data": {"metafieldsSet": {"userErrors": [], "metafields": "x"}}}, True),
    ],
    ids=["list", "string", "result a list", "extensions a string", "extensions a list"],
)
def test_a_shopify_answer_of_an_odd_shape_is_read_or_refused_with_its_reason_never_an_unexpected_failure(
    relay: Relay, httpserver: Any, logs: Any, monkeypatch: pytest.MonkeyPatch, answer: Any, written: bool
) -> None:
    # Given a Shopify Admin API answering metafieldsSet with 200 and JSON that is not the GraphQL answer's shape
    httpserver.expect_request("/admin/api/graphql.json", method="POST").respond_with_json(answer)
    monkeypatch.setenv("SHOPIFY_ADMIN_URL", httpserver.url_for("/admin/api/graphql.json"))
    reset_handlers()
    relay.post(balance("7160", 10))
    # When the notification is consumed
    failed = relay.consume()
    # Then it was published once, and the relay read Shopify's answer as far as it says something: a write-back
    # done, or one that failed with a reason naming Shopify's answer (retried from the queue, or dead-lettered),
    # never an unexpected failure with a stack trace
    assert len(relay.published()) == 1
    records = logs.records()
    assert not [r for r in records if r.get("message", "").startswith("unexpected failure")]
    letters = relay.receive(relay.dlq_url)
    if written:
        assert failed == set() and letters == []
        return
    reasons = [r["reason"] for r in records if r.get("message") == "retryable failure; message comes back later"]
    reasons += [m["MessageAttributes"]["failureReason"]["StringValue"] for m in letters]
    [reason] = reasons
    assert "Shopify" in reason


THROTTLED_NAN = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": {
        "cost": {"throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 0, "restoreRate": "NaN"}}
    },
}


@pytest.mark.parametrize(
    ("status", "headers", "answer"),
    [(429, {"Retry-After": "9" * 400}, {}), (200, {}, THROTTLED_NAN)],
    ids=["retry-after past any float", "restore rate not a number"],
)
def test_shopifys_odd_wait_is_a_retry_with_its_reason_never_an_unexpected_failure(
    relay: Relay,
    httpserver: Any,
    logs: Any,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    headers: dict[str, str],
    answer: Any,
) -> None:
    # Given Shopify asking the relay to wait a time no clock has (a Retry-After of 400 digits, a NaN refill rate)
    httpserver.expect_request("/admin/api/graphql.json", method="POST").respond_with_json(
        answer, status=status, headers=headers
    )
    monkeypatch.setenv("SHOPIFY_ADMIN_URL", httpserver.url_for("/admin/api/graphql.json"))
    reset_handlers()
    relay.post(balance("7180", 10))
    # When the notification is consumed
    failed = relay.consume()
    # Then the write-back is retried later from the queue with Shopify's reason, never an unexpected failure
    assert len(failed) == 1
    records = logs.records()
    assert not [r for r in records if r.get("message", "").startswith("unexpected failure")]
    [retry] = [r for r in records if r.get("message") == "retryable failure; message comes back later"]
    assert "Shopify" in retry["reason"]


def test_the_event_schemas_are_json_schemas() -> None:
    for path in sorted(Path(SCHEMAS).glob("*.schema.json")):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


# --- effects out ----------------------------------------------------------------------------------
# (the relay fixture's environment is EffectsToEventBus=enabled: every function has EVENT_BUS_NAME)

SESSION_EFFECTS = [
    {"campaignId": 1, "rulesetId": 2, "ruleIndex": 0, "effectType": "setDiscount", "props": {"name": "Ten off"}},
]


def test_without_the_bus_name_a_sessions_effects_are_not_published(
    relay: Relay, load_handler: Callable[[str], Handler], httpserver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support import integration_state_v2

    # Given the template's defaults (EffectsToEventBus=disabled: no EVENT_BUS_NAME for the function)
    monkeypatch.delenv("EVENT_BUS_NAME")
    monkeypatch.delenv("EVENTS_DEAD_LETTER_QUEUE_URL")
    answer = integration_state_v2("s-no-bus", "7501", SESSION_EFFECTS)
    httpserver.expect_request("/v2/customer_sessions/s-no-bus", method="PUT").respond_with_json(answer)
    handler = load_handler("update_customer_session_v2")
    reset_handlers()
    body = {"customerSession": {"profileId": "7501", "state": "open"}}
    message = {"customerSessionId": "s-no-bus", "body": body, "idempotencyKey": "k-no-bus"}
    relay.stack.sqs.send_message(QueueUrl=relay.stack.queue_url, MessageBody=json.dumps(message))
    # When the queued update is relayed, its answer holding an effect
    [queued] = relay.receive(relay.stack.queue_url)
    result = handler({"Records": [sqs_record(queued, "arn:aws:sqs:us-east-1:123456789012:q")]}, LambdaContext())
    # Then it is applied, and nothing is put on the bus
    assert result["batchItemFailures"] == []
    assert relay.published() == []
    assert relay.receive(relay.events_dlq_url) == []


def test_a_sessions_effects_appear_on_the_bus_once_each(
    relay: Relay, load_handler: Callable[[str], Handler], httpserver: Any
) -> None:
    from tests.support import integration_state_v2

    # Given Talon.One answering a session update with its effects
    effects = [
        {
            "campaignId": 1,
            "rulesetId": 2,
            "ruleIndex": 0,
            "effectType": "setDiscount",
            "props": {"name": "Ten off", "value": 10},
        },
        {
            "campaignId": 1,
            "rulesetId": 2,
            "ruleIndex": 1,
            "effectType": "addLoyaltyPoints",
            "props": {"programId": 5, "value": 12},
        },
    ]
    answer = integration_state_v2("s-bus", "7500", effects)
    httpserver.expect_request("/v2/customer_sessions/s-bus", method="PUT").respond_with_json(answer)
    handler = load_handler("update_customer_session_v2")
    reset_handlers()
    body = {"customerSession": {"profileId": "7500", "state": "open"}}
    message = {"customerSessionId": "s-bus", "body": body, "idempotencyKey": "k-bus"}
    relay.stack.sqs.send_message(QueueUrl=relay.stack.queue_url, MessageBody=json.dumps(message))
    # When the queued update is relayed
    [queued] = relay.receive(relay.stack.queue_url)
    result = handler({"Records": [sqs_record(queued, "arn:aws:sqs:us-east-1:123456789012:q")]}, LambdaContext())
    assert result["batchItemFailures"] == []
    # Then each effect is one event, with a stable id, valid against its schema
    events = relay.published()
    assert [event["detail-type"] for event in events] == [effect["effectType"] for effect in answer["effects"]]
    schema = json.loads((SCHEMAS / "effect.schema.json").read_text())
    for event in events:
        assert event["source"] == "talon-relay.effects"
        assert event["detail"]["sessionId"] == "s-bus"
        jsonschema.validate(event["detail"], schema)
    assert len({event["detail"]["id"] for event in events}) == len(events)
