"""The sample events under events/: one API Gateway and one SQS event per entry of the operation table
(and the schedule's inputs), shaped as AWS delivers them, with bodies the vendor spec and the layer's
models accept. The function tests and `sam local invoke` feed them to the handlers.

A webhook receiver's events carry its platform's webhooks (api.json signed with SAMPLE_WEBHOOK_SECRET),
and `payloads/` holds one sample webhook body per topic its platform's mapping files map.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from talon_relay.core import messages
from talon_relay.operations import Operation
from talon_relay.webhooks import mappings
from talon_relay.webhooks.envelope import QueuedWebhook
from talon_relay.webhooks.shopify import signature as shopify
from talon_relay.webhooks.talon_one import signature as talon_one
from tests.template.helpers import (
    EVENTS,
    QUEUED,
    SCHEDULED,
    TABLE,
    WEBHOOKS,
    body_model,
    body_schema,
    load_json,
    ops,
    prefix,
    queued_ops,
    spec_operation,
    webhook_ops,
)

#: What events/<webhook receiver>/api.json is signed with (a sample, not anyone's secret).
SAMPLE_WEBHOOK_SECRET = "sample-shopify-webhook-secret"


def sample_topics(op: Operation) -> dict[str, Any]:
    """The platform's default mappings by topic (the layer's files): one sample payload each."""
    assert op.webhook is not None
    return dict(mappings.load_dir(mappings.platform_dir(op.webhook)))


#: Top-level keys of an API Gateway REST proxy event (`sam local generate-event apigateway aws-proxy`).
API_EVENT_KEYS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
#: Keys of one record of an SQS event (`sam local generate-event sqs receive-message`).
SQS_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}

# --- events/ --------------------------------------------------------------------------------


def test_events_folder_holds_exactly_the_expected_files() -> None:
    # Given every file under events/
    found = {path.relative_to(EVENTS).as_posix() for path in EVENTS.rglob("*") if path.is_file()}

    # Then each operation has api.json, and sqs.json when it has a queue (a GET has none); the scheduled one
    # also its two schedule inputs
    expected = {f"{op.function}/api.json" for op in TABLE} | {f"{op.function}/sqs.json" for op in QUEUED}
    expected |= {f"{op.function}/{kind}.json" for op in SCHEDULED for kind in ("schedule", "schedule_ids")}
    # And a webhook receiver one sample webhook per topic its platform's mappings map
    expected |= {
        f"{op.function}/payloads/{mappings.file_name(topic)}" for op in WEBHOOKS for topic in sample_topics(op)
    }
    assert found == expected
    # And each is valid JSON
    for name in found:
        load_json(EVENTS / name)


def _validate_body(op: Operation, body: Any) -> None:
    """The body is what the vendor spec's schema allows, and the layer's model accepts it."""
    model = body_model(op)
    if model is None:
        assert body is None
        return
    assert isinstance(body, dict)
    model.model_validate(body)
    schema = body_schema(*spec_operation(op))
    assert schema is not None, f"no body schema for {op.name} in the reference spec"
    if "properties" in schema:  # (an object the spec leaves open without properties: AttributeQuery)
        assert set(body) <= set(schema["properties"]), set(body) - set(schema["properties"])
    assert set(schema.get("required", [])) <= set(body)


def _validate_webhook(op: Operation, event: dict[str, Any]) -> None:
    """A platform's webhook as API Gateway hands it over: the platform's headers, signed, its body mapped."""
    headers = event["headers"]
    assert headers["Content-Type"] == "application/json"
    if op.webhook == "talon_one":  # a notification: its X-UUID, the secret header, a known type
        assert headers[talon_one.UUID_HEADER] and headers[talon_one.SECRET_HEADER]
        assert json.loads(event["body"])["NotificationType"] in talon_one.KNOWN_TYPES
        return
    for name in (shopify.TOPIC_HEADER, shopify.WEBHOOK_ID_HEADER, shopify.SHOP_HEADER, shopify.TRIGGERED_AT_HEADER):
        assert headers[name], name
    raw = event["body"].encode()
    shopify.verify_signature(headers[shopify.HMAC_HEADER], secrets=[SAMPLE_WEBHOOK_SECRET], body=raw)
    shopify.triggered_at(headers[shopify.TRIGGERED_AT_HEADER])
    mapping = sample_topics(op)[headers[shopify.TOPIC_HEADER]]
    assert mappings.apply(mapping, json.loads(raw))


@ops
def test_api_event_is_a_rest_proxy_request_for_the_route(op: Operation) -> None:
    # Given the operation's sample API Gateway event
    event = load_json(EVENTS / op.function / "api.json")

    # Then it has the REST proxy event's shape, for this route
    assert set(event) == API_EVENT_KEYS
    assert event["resource"] == op.path
    assert event["httpMethod"] == op.method
    params = event["pathParameters"]
    if op.path_params:
        assert set(params) == set(op.path_params)
        path = op.path
        for name, value in params.items():
            assert value
            path = path.replace("{" + name + "}", value)
        assert event["path"] == path
    else:
        assert params is None
        assert event["path"] == op.path
    context = event["requestContext"]
    assert context["requestId"]
    assert context["resourcePath"] == op.path
    assert context["httpMethod"] == op.method
    assert context["path"] == f"/{context['stage']}{event['path']}"
    assert {k: [v] for k, v in event["headers"].items()} == event["multiValueHeaders"]
    # And its body, when the operation takes one, is JSON text valid for the operation
    assert event["isBase64Encoded"] is False
    if op.webhook is not None:
        _validate_webhook(op, event)
    elif body_model(op) is None:
        assert event["body"] is None
    else:
        assert event["headers"]["Content-Type"] == "application/json"
        _validate_body(op, json.loads(event["body"]))


def test_api_events_have_distinct_request_ids() -> None:
    # Given the request ids of all sample API events
    ids = [load_json(EVENTS / op.function / "api.json")["requestContext"]["requestId"] for op in TABLE]

    # Then no two are the same (they are correlation ids)
    assert len(set(ids)) == len(ids)


@queued_ops
def test_sqs_event_carries_messages_for_the_operations_queue(op: Operation) -> None:
    # Given the operation's sample SQS event
    event = load_json(EVENTS / op.function / "sqs.json")
    records = event["Records"]

    # Then it holds 2-3 records from the operation's own queue, each with a true MD5
    assert set(event) == {"Records"}
    assert 2 <= len(records) <= 3 or (op.webhook == "talon_one" and len(records) == 1)
    for record in records:
        assert set(record) == SQS_RECORD_KEYS
        assert record["eventSource"] == "aws:sqs"
        arn = record["eventSourceARN"]
        # (a FIFO queue's generated name ends in .fifo, and its records carry their group)
        suffix = r"\.fifo" if op.fifo else ""
        assert re.fullmatch(rf"arn:aws:sqs:[a-z0-9-]+:\d{{12}}:[\w-]*-{prefix(op)}Queue-\w+{suffix}", arn)
        if op.fifo:
            assert record["attributes"]["MessageGroupId"]
            assert record["attributes"]["SequenceNumber"]
        assert arn.split(":")[3] == record["awsRegion"]
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1

        if op.webhook is not None:
            # And its body is a queued webhook that its topic's mapping maps, in the group the mapping names
            queued = QueuedWebhook.decode(record["body"])
            assert queued.platform == op.webhook
            if op.webhook == "talon_one":  # (a notification, in its profile's group)
                assert record["attributes"]["MessageGroupId"] == talon_one.group_of(queued.payload(), "")
                continue
            mapping = sample_topics(op)[queued.topic]
            assert mappings.apply(mapping, queued.payload())
            assert record["attributes"]["MessageGroupId"] == mappings.group_of(mapping, queued.payload())
            continue
        # And its body is a queue message (docs/api.md), as the layer's own codec reads it
        request, _key = messages.decode(op, record["body"])
        _validate_body(op, request.body)
    assert len({r["messageId"] for r in records}) == len(records)


@pytest.mark.parametrize("op", SCHEDULED, ids=lambda op: op.function)
def test_schedule_events_are_the_two_inputs_the_erasure_run_takes(op: Operation) -> None:
    # Given the two schedule inputs of the operation the schedule drains
    drain = load_json(EVENTS / op.function / "schedule.json")
    direct = load_json(EVENTS / op.function / "schedule_ids.json")

    # Then one drains the queue ({}), the other deletes the ids it names
    assert drain == {}
    assert set(direct) == {"integrationIds"}
    assert direct["integrationIds"]
    assert all(isinstance(i, str) and i for i in direct["integrationIds"])


@webhook_ops
def test_sample_webhooks_are_what_their_topic_mapping_maps(op: Operation) -> None:
    # Given each sample webhook body of a receiver, one per topic of its platform's mappings, and the
    # order records its samples that keep one leave (what a refund's or an edit's mapping reads)
    topics = sample_topics(op)
    payloads = {topic: load_json(EVENTS / op.function / "payloads" / mappings.file_name(topic)) for topic in topics}
    records = [record for topic, mapping in topics.items() if (record := mappings.remembered(mapping, payloads[topic]))]
    for topic, mapping in topics.items():
        payload = payloads[topic]
        wanted = mappings.recalled_order(mapping, payload)
        order = next((record for record in records if record["order"] == wanted), None)
        assert wanted is None or order is not None, f"{topic}: no sample keeps the order it reads"

        # Then it is a JSON object its topic's mapping turns into valid requests, one per step
        assert isinstance(payload, dict)
        made = mappings.apply(mapping, payload, order)
        assert [request.operation.name for request in made] == [step.operation for step in mapping.steps]
        # And the mapping finds the webhook's FIFO group in it, when the mapping names one
        if mapping.group is not None:
            assert mappings.group_of(mapping, payload), topic
