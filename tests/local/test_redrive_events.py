"""`make redrive FUNCTION=events`: what the bus refused is dead-lettered with its reason, and sent on again
once the cause is fixed (local/events_redrive.py, docs/events.md), against moto's EventBridge and SQS."""

from __future__ import annotations

import base64
import gzip
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local.aws import LOCAL_AWS_ENV, local_client
from local.events_redrive import NOT_AN_EVENT, redrive_events
from talon_relay.aws import events as bus_calls
from talon_relay.container import Container
from talon_relay.core import bus
from talon_relay.wire.effects import Effect


@dataclass
class Way:
    sqs: Any
    events: Any
    bus: str
    dlq_url: str
    subscriber_url: str
    subscriber_arn: str
    container: Container

    def open_bus(self) -> None:
        """The operator's fix: the bus exists, its rule delivers every event to the subscriber queue."""
        self.events.create_event_bus(Name=self.bus)
        pattern = {"source": [bus.EFFECTS_SOURCE, bus.NOTIFICATIONS_SOURCE]}
        self.events.put_rule(Name=f"{self.bus}-all", EventBusName=self.bus, EventPattern=json.dumps(pattern))
        targets = [{"Id": "queue", "Arn": self.subscriber_arn}]
        self.events.put_targets(Rule=f"{self.bus}-all", EventBusName=self.bus, Targets=targets)

    def receive(self, url: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(message)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def way(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Way]:
    """Given a function's container with EffectsToEventBus on, whose bus does not exist (yet), the events'
    dead-letter queue, and a subscriber queue."""
    sqs, events = local_client("sqs", moto_endpoint), local_client("events", moto_endpoint)
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"events-dlq-{suffix}")["QueueUrl"]
    subscriber_url = sqs.create_queue(QueueName=f"events-{suffix}")["QueueUrl"]
    subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = f"relay-{suffix}"
    monkeypatch.setattr(bus_calls, "RETRY_PAUSE_SECONDS", 0.0)  # the layer's pause between attempts
    for variable, value in {**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint}.items():  # boto3 reads them here
        monkeypatch.setenv(variable, value)
    container = Container()
    container.reset(
        environ={
            **LOCAL_AWS_ENV,
            "AWS_ENDPOINT_URL": moto_endpoint,
            "TALON_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:unused-AbCdEf",  # never read
            "EVENT_BUS_NAME": name,
            "EVENTS_DEAD_LETTER_QUEUE_URL": dlq_url,
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    yield Way(sqs, events, name, dlq_url, subscriber_url, subscriber_arn, container)
    container.reset()
    for rule in events.list_rules(EventBusName=name).get("Rules", []) if _exists(events, name) else []:
        events.remove_targets(Rule=rule["Name"], EventBusName=name, Ids=["queue"])
        events.delete_rule(Name=rule["Name"], EventBusName=name)
    if _exists(events, name):
        events.delete_event_bus(Name=name)


def _exists(events: Any, name: str) -> bool:
    return any(b["Name"] == name for b in events.list_event_buses().get("EventBuses", []))


EFFECTS = [
    Effect(
        name="addLoyaltyPoints", campaign_id=4, ruleset_id=14, rule_index=0, rule_name="Loyalty",
        raw={"effectType": "addLoyaltyPoints", "props": {"programId": 1, "value": 10}},
    ),
    Effect(
        name="acceptCoupon", campaign_id=1, ruleset_id=11, rule_index=0, rule_name="Welcome",
        raw={"effectType": "acceptCoupon", "props": {"value": "WELCOME10"}},
    ),
]  # fmt: skip


def publish(way: Way) -> int:
    return bus.publish_effects(
        way.container, EFFECTS, operation="updateCustomerSessionV2", key="k-1", session_id="s-1", profile_id="p-1"
    )


def test_effects_the_bus_refuses_are_dead_lettered_with_their_reason_then_redriven(way: Way) -> None:
    # Given an answer's effects published while the bus cannot take them (it does not exist)
    assert publish(way) == 0
    # Then each is on the events' dead-letter queue, whole, with the reason the bus gave
    dead = way.receive(way.dlq_url)
    assert len(dead) == 2
    for message in dead:
        assert json.loads(message["Body"])["Source"] == bus.EFFECTS_SOURCE
        assert "ResourceNotFound" in message["MessageAttributes"]["failureReason"]["StringValue"]
    for message in dead:  # back where they were, for the redrive
        way.sqs.send_message(
            QueueUrl=way.dlq_url, MessageBody=message["Body"], MessageAttributes=message["MessageAttributes"]
        )
    ids = sorted(json.loads(json.loads(m["Body"])["Detail"])["id"] for m in dead)

    # When the cause is fixed (the bus is there, its subscriber queue subscribed) and they are redriven
    way.open_bus()
    result = redrive_events(way.sqs, way.events, dlq_url=way.dlq_url, bus_name=way.bus, wait_seconds=0)

    # Then both were sent on, reasons counted; the subscriber has each effect once, same ids; the DLQ is empty
    assert (result.moved, result.came_back) == (2, 0)
    assert sum(result.reasons.values()) == 2 and all("ResourceNotFound" in r for r in result.reasons)
    delivered = [json.loads(m["Body"]) for m in way.receive(way.subscriber_url)]
    assert sorted(event["detail"]["id"] for event in delivered) == ids
    assert sorted(event["detail-type"] for event in delivered) == ["acceptCoupon", "addLoyaltyPoints"]
    assert way.receive(way.dlq_url) == []


def test_an_event_still_refused_stays_in_the_dead_letter_queue_with_its_new_reason(way: Way) -> None:
    # Given the effects dead-lettered, and the bus still missing
    publish(way)
    # When they are redriven
    result = redrive_events(way.sqs, way.events, dlq_url=way.dlq_url, bus_name=way.bus, wait_seconds=0)
    # Then each was tried once (no loop), counted as come back with the new reason, and is still there
    assert (result.moved, result.came_back) == (0, 2)
    assert all("ResourceNotFound" in reason for reason in result.came_back_reasons)
    assert len(way.receive(way.dlq_url)) == 2


def test_an_event_a_rule_could_not_deliver_goes_to_its_target_queue_alone(way: Way) -> None:
    # Given an event the subscriber rule dead-lettered, as EventBridge does (the event, its error, its target)
    way.open_bus()
    other_url = way.sqs.create_queue(QueueName=f"other-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "TierUpgrade",
        "source": bus.NOTIFICATIONS_SOURCE,
        "account": "123456789012",
        "time": "2026-06-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "id": "notification:u-1",
            "kind": "notification",
            "notification": {"NotificationType": "TierUpgrade"},
        },
    }
    text = lambda value: {"DataType": "String", "StringValue": value}  # noqa: E731
    way.sqs.send_message(
        QueueUrl=way.dlq_url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            "ERROR_CODE": text("SQS.KmsAccessDenied"),
            "ERROR_MESSAGE": text("the queue's key refused EventBridge"),
            "TARGET_ARN": text(way.subscriber_arn),
            "RULE_ARN": text(f"arn:aws:events:us-east-1:123456789012:rule/{way.bus}/{way.bus}-all"),
        },
    )
    # and a message that is no event at all
    way.sqs.send_message(QueueUrl=way.dlq_url, MessageBody="{not json")

    # When the DLQ is redriven
    result = redrive_events(way.sqs, way.events, dlq_url=way.dlq_url, bus_name=way.bus, wait_seconds=0)

    # Then the event reached its subscriber again, as EventBridge delivers it, and no other queue; the reason
    # was EventBridge's; what is no event stays, said so
    assert result.moved == 1 and result.reasons == {"SQS.KmsAccessDenied: the queue's key refused EventBridge": 1}
    assert result.came_back_reasons == {NOT_AN_EVENT: 1}
    assert [json.loads(m["Body"]) for m in way.receive(way.subscriber_url)] == [event]
    assert way.receive(other_url) == []
    assert [m["Body"] for m in way.receive(way.dlq_url)] == ["{not json"]


def large_effect(props: dict[str, Any]) -> Effect:
    return Effect(
        name="customEffect", campaign_id=4, ruleset_id=14, rule_index=0, rule_name="Big", raw={"props": props}
    )


@pytest.mark.parametrize(
    "props",
    [{"note": "\u4e2d" * 400_000}, {"note": '"' * 600_000}],
    ids=["1.2-MB-of-text-in-another-script", "600-KB-of-quotes"],
)
def test_an_effect_too_large_even_for_sqs_is_dead_lettered_with_its_reason_and_kept_whole(
    way: Way, props: dict[str, Any]
) -> None:
    # Given an answer's effect far past EventBridge's 256 KB, whose PutEvents entry, as a dead letter's JSON
    # body, is past SQS's 1 MiB too
    effect = large_effect(props)
    [entry] = bus.effect_entries(way.bus, [effect], operation="updateCustomerSessionV2", key="k-big")
    assert len(json.dumps(entry).encode()) > 1_048_576
    # When its effects are published
    assert bus.publish_effects(way.container, [effect], operation="updateCustomerSessionV2", key="k-big") == 0
    # Then the redrive leaves it in the events' dead-letter queue, saying why (EventBridge can never take it)
    result = redrive_events(way.sqs, way.events, dlq_url=way.dlq_url, bus_name=way.bus, wait_seconds=0)
    assert (result.moved, result.came_back) == (0, 1)
    assert any("over EventBridge's 256 KB" in why for why in result.came_back_reasons)
    # And it is there (not logged as lost), the reason naming its size and where its detail is, and the detail is
    # whole: the effect exactly as Talon.One sent it
    [dead] = way.receive(way.dlq_url)
    reason = dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert "PutEvents takes 262,144" in reason and "DetailGzipBase64" in reason
    body = json.loads(dead["Body"])
    assert (body["Source"], body["DetailType"]) == (bus.EFFECTS_SOURCE, "customEffect")
    detail = json.loads(gzip.decompress(base64.b64decode(body["DetailGzipBase64"])))
    assert detail["effect"] == effect.raw and detail["id"] == json.loads(entry["Detail"])["id"]


def test_an_effect_too_large_for_sqs_even_compressed_is_dead_lettered_by_its_id_with_its_reason(way: Way) -> None:
    # Given an answer's effect of 1.5 MB of text that does not compress (random letters)
    letters = random.Random(7).choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=1_500_000)
    effect = large_effect({"note": "".join(letters)})
    [entry] = bus.effect_entries(way.bus, [effect], operation="updateCustomerSessionV2", key="k-random")
    # When its effects are published
    assert bus.publish_effects(way.container, [effect], operation="updateCustomerSessionV2", key="k-random") == 0
    # Then a dead letter names the event, its size and why its detail could not be kept beside it: nothing is lost
    # without a word
    [dead] = way.receive(way.dlq_url)
    reason = dead["MessageAttributes"]["failureReason"]["StringValue"]
    assert "PutEvents takes 262,144" in reason and "its detail is not kept" in reason
    body = json.loads(dead["Body"])
    assert body["id"] == json.loads(entry["Detail"])["id"]
    assert body["detailBytes"] == len(entry["Detail"].encode())
    assert "Detail" not in body and "DetailGzipBase64" not in body
