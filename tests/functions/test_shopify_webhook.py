"""The Shopify webhook function, both triggers: the signed POST (verified, queued, 200) and its FIFO queue
(mapped, the operations run in order, each once), against moto (Secrets Manager, SQS, DynamoDB) and a
local Talon.One stand-in. Every default topic through the emulator: tests/e2e/test_shopify.py.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from local.gateway import sqs_record
from local.shopify import webhook_headers
from talon_relay.webhooks.errors import AWAITS_ORDER
from tests.functions.conftest import Stack
from tests.support import LambdaContext, LogCapture, integration_state_v2, load_event, reset_handlers

FOLDER = "shopify_webhook"
SHOPIFY_SECRET = "fn-test-shopify-secret-41d7c2"
PREVIOUS_SHOPIFY_SECRET = "fn-test-shopify-previous-8e05ab"

Handler = Callable[[dict[str, Any], Any], Any]


def payload(topic: str) -> dict[str, Any]:
    result: dict[str, Any] = load_event(f"{FOLDER}/payloads", topic.replace("/", "_"))
    return result


@dataclass
class Shop:
    """The webhook function with its FIFO queue and DLQ, the erasure queue and the Shopify secret."""

    stack: Stack
    handler: Handler
    queue_url: str
    queue_arn: str
    dlq_url: str
    erasure_url: str
    secret_arn: str

    def post(
        self,
        topic: str,
        body: dict[str, Any] | bytes,
        *,
        webhook_id: str | None = None,
        secret: str = SHOPIFY_SECRET,
        headers: dict[str, str | None] | None = None,
        triggered_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Shopify's POST as API Gateway hands it to the function (the sample event, re-signed)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        event = copy.deepcopy(load_event(FOLDER, "api"))
        sent = {
            **webhook_headers(topic, raw, secret, webhook_id=webhook_id, triggered_at=triggered_at),
            **(headers or {}),
        }
        event["headers"] = {name: value for name, value in sent.items() if value is not None}
        event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
        event["body"] = raw.decode()
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        result: dict[str, Any] = self.handler(event, LambdaContext())
        return result

    def queued(self) -> list[dict[str, Any]]:
        """Every message waiting on the webhook queue (received, and put back at once)."""
        messages = self._receive(self.queue_url)
        for message in messages:
            self.stack.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return messages

    def consume(self) -> dict[str, Any]:
        """One SQS batch of the webhook queue through the function, as Lambda's poller runs it: what
        succeeded is deleted, what failed is visible again at once (its visibility timeout passed)."""
        messages = self._receive(self.queue_url)
        assert messages, "nothing queued"
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        result: dict[str, Any] = self.handler(event, LambdaContext())
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                self.stack.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.stack.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return result

    def requeue(self, body: str, group: str) -> None:
        """The same queued webhook again, as after SQS's five-minute deduplication window."""
        self.stack.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex
        )

    def erasures(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self._receive(self.erasure_url)]

    def dead_letters(self) -> list[dict[str, Any]]:
        return self._receive(self.dlq_url)

    def stack_dynamodb(self) -> Any:
        return boto3.client("dynamodb")

    def _receive(self, url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(10):  # bounded: a few batches at most in these tests
            batch = self.stack.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                break
            out.extend(batch)
        return out


@pytest.fixture
def shop(stack: Stack, load_handler: Callable[[str], Handler], monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """Given the webhook function's environment as the template gives it, in moto."""
    suffix = uuid.uuid4().hex[:8]
    sqs = stack.sqs
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq_url = sqs.create_queue(QueueName=f"shopify-dlq-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"shopify-{suffix}.fifo",
        Attributes={
            **fifo,
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    erasure_url = sqs.create_queue(QueueName=f"erasure-{suffix}")["QueueUrl"]
    secret_arn = stack.secrets.create_secret(
        Name=f"shopify-{suffix}",
        SecretString=json.dumps({"current": SHOPIFY_SECRET, "previous": PREVIOUS_SHOPIFY_SECRET}),
    )["ARN"]
    monkeypatch.setenv("QUEUE_URL", queue_url)
    # (the sessions queue, where the webhooks that change a session go, is this queue here: its own consumer
    # applies them as the sessions queue's would; test_session_webhooks_join_the_sessions_queue separates them)
    monkeypatch.setenv("SHARED_QUEUE_URL", queue_url)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
    # (where a mapped deleteCustomerData waits for the erasure schedule; the template names each queued
    # step's queue: tests/functions/test_product_webhooks.py has syncCatalog's)
    monkeypatch.setenv("STEP_QUEUE_URLS", json.dumps({"deleteCustomerData": erasure_url}))
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret_arn)
    # (the orders' records are this function's own here, as its own consumer applies the session webhooks;
    # in the template, the sessions queue's consumer keeps them: tests/e2e/test_shopify_redact.py)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "talon-relay-test-shopify-webhook")
    monkeypatch.setenv("ORDER_RECORDS_OWNER", "talon-relay-test-shopify-webhook")
    reset_handlers()
    yield Shop(stack, load_handler(FOLDER), queue_url, queue_arn, dlq_url, erasure_url, secret_arn)


def answer_v2(httpserver: HTTPServer) -> None:
    """Talon.One accepting every v2 session, profile and event call, with an effect."""
    session = re.compile(r"^/v2/customer_sessions/.+")
    httpserver.expect_request(session, method="PUT").respond_with_json(integration_state_v2())
    httpserver.expect_request(re.compile(r"^/v2/customer_profiles/.+"), method="PUT").respond_with_json(
        integration_state_v2()
    )
    httpserver.expect_request("/v3/events", method="POST").respond_with_json(integration_state_v2())


def calls(httpserver: HTTPServer) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request, _ in httpserver.log]


def body_of(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"])


# --- the signed POST ---------------------------------------------------------------------------


def test_a_signed_webhook_is_queued_in_its_customers_group_and_answered_200(shop: Shop, httpserver: HTTPServer) -> None:
    # Given Shopify's orders/paid webhook, signed with the shop's secret
    order = payload("orders/paid")
    raw = json.dumps(order, indent=1).encode()  # (any bytes: the signature covers them as sent)

    # When Shopify posts it
    answer = shop.post("orders/paid", raw, webhook_id="wh-1")

    # Then it gets 200 at once, "queued", and Talon.One has not been called yet (storage-first)
    assert answer["statusCode"] == 200
    assert body_of(answer)["status"] == "queued"
    assert httpserver.log == []
    # And the queue holds the raw body byte for byte with what the headers said, in the cart's group
    [message] = shop.queued()
    queued = json.loads(message["Body"])
    assert queued["body"].encode() == raw
    assert {k: queued[k] for k in ("platform", "topic", "webhookId", "shopDomain")} == {
        "platform": "shopify",
        "topic": "orders/paid",
        "webhookId": "wh-1",
        "shopDomain": "relay-demo.myshopify.com",
    }
    assert message["Attributes"]["MessageGroupId"] == order["cart_token"]
    assert body_of(answer)["messageId"] == message["MessageId"]


def test_a_base64_encoded_body_is_verified_on_its_bytes(shop: Shop) -> None:
    # Given API Gateway handing over the body base64-encoded (a binary media type)
    raw = json.dumps(payload("customers/create")).encode()
    event = copy.deepcopy(load_event(FOLDER, "api"))
    event["headers"] = webhook_headers("customers/create", raw, SHOPIFY_SECRET)
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True

    # Then the signature of the decoded bytes is what is checked, and the webhook is queued
    answer = shop.handler(event, LambdaContext())
    assert answer["statusCode"] == 200, answer


@pytest.mark.parametrize(
    ("change", "parameter", "reason"),
    [
        ({"X-Shopify-Hmac-Sha256": None}, "X-Shopify-Hmac-Sha256", "missing X-Shopify-Hmac-Sha256"),
        ({"X-Shopify-Hmac-Sha256": "bm90IGEgc2lnbmF0dXJl"}, "X-Shopify-Hmac-Sha256", "malformed"),
        ({"secret": "someone-elses-secret"}, "X-Shopify-Hmac-Sha256", "does not match the body"),
        ({"triggered": timedelta(hours=7)}, "X-Shopify-Triggered-At", "stale webhook"),
        ({"triggered": timedelta(hours=-1)}, "X-Shopify-Triggered-At", "in the future"),
    ],
    ids=["unsigned", "malformed", "bad signature", "stale", "future"],
)
def test_an_unsigned_badly_signed_or_stale_webhook_is_a_401_with_the_reason_and_nothing_queued(
    shop: Shop, httpserver: HTTPServer, change: dict[str, Any], parameter: str, reason: str
) -> None:
    # Given a webhook that is not Shopify's, or not fresh
    secret = change.pop("secret", SHOPIFY_SECRET)
    age = change.pop("triggered", timedelta(0))
    # When it is posted
    answer = shop.post(
        "orders/paid", payload("orders/paid"), secret=secret, headers=change, triggered_at=datetime.now(UTC) - age
    )

    # Then the answer is 401 in the relay's ErrorResponse shape, naming the header and why
    assert answer["statusCode"] == 401
    body = body_of(answer)
    assert body["message"] == "Unauthorized"
    [error] = body["errors"]
    assert error["source"] == {"parameter": parameter}
    assert reason in error["details"]
    # And nothing was queued, and Talon.One never heard of it
    assert shop.queued() == []
    assert httpserver.log == []


def test_during_a_rotation_the_previous_secret_still_verifies(shop: Shop) -> None:
    # Given the secret being rotated ({"current": new, "previous": old}), Shopify still signing with the old
    # When a webhook signed with the previous secret arrives
    answer = shop.post("customers/update", payload("customers/update"), secret=PREVIOUS_SHOPIFY_SECRET)

    # Then it is taken
    assert answer["statusCode"] == 200
    assert len(shop.queued()) == 1


@pytest.mark.parametrize("missing", ["X-Shopify-Topic", "X-Shopify-Webhook-Id"])
def test_a_signed_webhook_without_its_topic_or_id_is_a_400_naming_the_header(shop: Shop, missing: str) -> None:
    # When a signed webhook lacks a header the relay needs
    answer = shop.post("orders/paid", payload("orders/paid"), headers={missing: None})

    # Then it is a 400 naming it, and nothing is queued
    assert answer["statusCode"] == 400
    assert body_of(answer)["errors"][0]["source"] == {"parameter": missing}
    assert shop.queued() == []


@pytest.mark.parametrize(
    ("topic", "status", "metric", "mapping"),
    [
        ("inventory_levels/update", "ignored", "WebhookTopicUnmapped", None),
        ("app/uninstalled", "acknowledged", "WebhookNothingToSend", {"topic": "app/uninstalled", "steps": []}),
    ],
    ids=["no mapping", "a mapping of no step"],
)
def test_unmapped_topics_and_topics_mapped_to_nothing_are_acknowledged_counted_and_logged_never_sent(
    shop: Shop,
    httpserver: HTTPServer,
    logs: LogCapture,
    capsys: pytest.CaptureFixture[str],
    topic: str,
    status: str,
    metric: str,
    mapping: dict[str, Any] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a topic no mapping sends anything for: none, or an operator's of no step (and nothing to forget)
    if mapping is not None:
        (tmp_path / "shopify").mkdir()
        (tmp_path / "shopify" / "app_uninstalled.json").write_text(json.dumps(mapping))
        monkeypatch.setenv("WEBHOOK_MAPPINGS_DIR", str(tmp_path))

    # When Shopify posts it
    answer = shop.post(topic, {"shop_id": 60129542, "shop_domain": "acme-coffee.myshopify.com"})

    # Then it gets 200, is logged by its topic and counted (EMF, by topic), and nothing is queued or sent
    assert answer["statusCode"] == 200
    assert body_of(answer) == {"status": status, "topic": topic}
    [record] = [r for r in logs.records() if r["message"] == "webhook acknowledged; nothing to send"]
    assert (record["topic"], record["reason"]) == (topic, metric)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(m["topic"], m["operation"]) for m in emf if metric in m] == [(topic, "shopifyWebhook")]
    assert shop.queued() == []
    assert httpserver.log == []


# --- the queue: mapped, in order, exactly once --------------------------------------------------------


def test_orders_paid_closes_the_session_then_tracks_the_purchase_in_that_order(
    shop: Shop, httpserver: HTTPServer, logs: LogCapture
) -> None:
    # Given a queued orders/paid webhook, and Talon.One accepting
    answer_v2(httpserver)
    order = payload("orders/paid")
    shop.post("orders/paid", order, webhook_id="wh-order")

    # When its queue delivers it
    result = shop.consume()

    # Then the session was closed first, then the purchase tracked; the message is done
    assert result == {"batchItemFailures": []}
    assert calls(httpserver) == [("PUT", f"/v2/customer_sessions/{order['cart_token']}"), ("POST", "/v3/events")]
    session, event = (json.loads(request.get_data()) for request, _ in httpserver.log)
    assert session["customerSession"]["state"] == "closed"
    assert event["profileId"] == str(order["customer"]["id"]) and event["type"] == "purchase"
    assert event["integrationId"] == f"order-{order['id']}"
    assert httpserver.log[1][0].args.get("silent") == "no"
    # And each step's effects were logged (one line per answer), and the webhook as applied
    assert [r["operation"] for r in logs.records() if r["message"] == "effects"] == [
        "updateCustomerSessionV2",
        "trackEventV3",
    ]
    assert [r["steps"] for r in logs.records() if r["message"] == "webhook applied"] == [2]
    assert shop.dead_letters() == []


def test_shopifys_retries_never_reach_talon_one_twice(shop: Shop, httpserver: HTTPServer) -> None:
    # Given an orders/paid webhook delivered and processed
    answer_v2(httpserver)
    order = payload("orders/paid")
    first = shop.post("orders/paid", order, webhook_id="wh-retried")
    [queued] = shop.queued()
    shop.consume()
    assert len(httpserver.log) == 2

    # When Shopify retries it (same webhook id), and the same webhook is delivered again after SQS's
    # five-minute deduplication window (which a retry within it never passes)
    retry = shop.post("orders/paid", order, webhook_id="wh-retried")
    assert retry["statusCode"] == 200
    assert body_of(first)["status"] == body_of(retry)["status"] == "queued"
    shop.requeue(queued["Body"], queued["Attributes"]["MessageGroupId"])
    results = [shop.consume() for _ in range(3) if shop.queued()]

    # Then each delivery is done, replayed from the idempotency records: Talon.One saw each step once
    assert results and all(result == {"batchItemFailures": []} for result in results)
    assert calls(httpserver) == [("PUT", f"/v2/customer_sessions/{order['cart_token']}"), ("POST", "/v3/events")]
    assert shop.queued() == []


def test_a_replay_under_a_new_webhook_id_with_the_same_event_id_never_reaches_talon_one_twice(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given an orders/paid webhook delivered and processed, with Shopify's X-Shopify-Event-Id
    answer_v2(httpserver)
    order = payload("orders/paid")
    shop.post("orders/paid", order, webhook_id="wh-first", headers={"X-Shopify-Event-Id": "ev-77"})
    shop.consume()
    assert len(httpserver.log) == 2
    # When the same signed body is sent again under a new webhook id but the same event id (a capture replayed)
    replay = shop.post("orders/paid", order, webhook_id="wh-replayed", headers={"X-Shopify-Event-Id": "ev-77"})
    assert replay["statusCode"] == 200
    results = [shop.consume() for _ in range(3) if shop.queued()]
    # Then it is done from the idempotency records of (event id, topic): Talon.One saw each step once
    assert all(result == {"batchItemFailures": []} for result in results)
    assert len(httpserver.log) == 2
    assert shop.dead_letters() == []


def test_when_the_second_step_fails_only_the_second_step_is_retried(shop: Shop, httpserver: HTTPServer) -> None:
    # Given Talon.One accepting the session close but failing the event once (503)
    order = payload("orders/paid")
    session_path = f"/v2/customer_sessions/{order['cart_token']}"
    httpserver.expect_request(session_path, method="PUT").respond_with_json(integration_state_v2())
    httpserver.expect_oneshot_request("/v3/events", method="POST").respond_with_data("", status=503)
    shop.post("orders/paid", order, webhook_id="wh-half")

    # When the queue delivers it: the message fails and stays on its queue
    [failure] = shop.consume()["batchItemFailures"]
    assert failure["itemIdentifier"]
    assert shop.dead_letters() == []
    # And when Talon.One recovers and the message comes back
    httpserver.expect_request("/v2/events", method="POST").respond_with_json(integration_state_v2())
    httpserver.expect_request("/v3/events", method="POST").respond_with_json(integration_state_v2())
    assert shop.consume() == {"batchItemFailures": []}

    # Then the session was closed once, and only the event was sent again
    assert calls(httpserver) == [("PUT", session_path), ("POST", "/v3/events"), ("POST", "/v3/events")]
    assert [response.status_code for _, response in httpserver.log] == [200, 503, 200]


def test_customers_redact_queues_one_erasure_request_for_the_schedule(shop: Shop, httpserver: HTTPServer) -> None:
    # Given Shopify's customers/redact, queued, delivered, then delivered again later
    redact = payload("customers/redact")
    shop.post("customers/redact", redact, webhook_id="wh-redact")
    [queued] = shop.queued()
    shop.consume()
    shop.requeue(queued["Body"], queued["Attributes"]["MessageGroupId"])
    shop.consume()

    # Then nothing was sent to Talon.One now, and the erasure queue holds one request in the queue message
    # format for the customer, and one for the guest profile of each order to redact, each with its step's
    # idempotency key (the schedule's run applies each once)
    assert httpserver.log == []
    [order] = redact["orders_to_redact"]
    erasures = shop.erasures()
    assert sorted(({k: v for k, v in e.items() if k != "idempotencyKey"} for e in erasures), key=str) == [
        {"integrationId": str(redact["customer"]["id"])},
        {"integrationId": f"guest-order-{order}"},
    ]
    keys = [erasure["idempotencyKey"] for erasure in erasures]
    assert len(set(keys)) == 2 and all("#customers/redact#" in key for key in keys)


def test_a_webhook_that_maps_to_an_invalid_request_is_dead_lettered_with_the_reason(
    shop: Shop, httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator's mapping for orders/paid whose session would carry a quantity Talon.One refuses
    folder = tmp_path / "shopify"
    folder.mkdir()
    broken = json.loads(Path("layers/talon_relay/talon_relay/webhooks/shopify/topics/orders_paid.json").read_text())
    broken["steps"][0]["body"]["customerSession"]["cartItems"] = "line_items[].{sku: sku, quantity: 'one'}"
    (folder / "orders_paid.json").write_text(json.dumps(broken))
    monkeypatch.setenv("WEBHOOK_MAPPINGS_DIR", str(tmp_path))
    answer_v2(httpserver)

    # When Shopify posts an order (200: it is queued) and the queue delivers it
    assert shop.post("orders/paid", payload("orders/paid"), webhook_id="wh-broken")["statusCode"] == 200
    result = shop.consume()

    # Then it leaves its queue for the DLQ with the reason naming the topic, the step and the field,
    # and no step of it reached Talon.One
    assert result == {"batchItemFailures": []}
    [letter] = shop.dead_letters()
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert "orders/paid step 1 (updateCustomerSessionV2) does not map to a valid request" in reason
    assert "/customerSession/cartItems/0/quantity" in reason
    assert letter["MessageAttributes"]["operation"]["StringValue"] == "shopifyWebhook"
    assert AWAITS_ORDER not in letter["MessageAttributes"]  # its own fault: `make redrive` keeps its place
    assert json.loads(letter["Body"])["webhookId"] == "wh-broken"
    assert httpserver.log == []


@pytest.mark.parametrize("topic", ["orders/paid", "orders/create"])
def test_an_order_without_an_id_is_dead_lettered_never_sent_as_order_null(
    shop: Shop, httpserver: HTTPServer, topic: str
) -> None:
    # Given a signed order webhook whose order has no id (its cart and customer are there)
    order = {key: value for key, value in payload(topic).items() if key != "id"}
    answer_v2(httpserver)

    # When Shopify posts it (200: it is stored) and the queue delivers it
    assert shop.post(topic, order, webhook_id=f"wh-no-id-{topic}")["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}

    # Then it is dead-lettered with the reason naming the step and the field, and nothing reached Talon.One:
    # no purchase event "order-null" that every order without an id would share, no session closed
    [letter] = shop.dead_letters()
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert f"{topic} step 2 (trackEventV3)" in reason
    assert "/integrationId" in reason
    assert httpserver.log == []


def test_an_order_whose_line_items_are_not_a_list_is_dead_lettered_naming_the_field_never_sent_without_its_cart(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given a signed orders/paid whose line_items is an object, not a list of lines
    order = {**payload("orders/paid"), "line_items": {"id": 1, "quantity": 1}}
    answer_v2(httpserver)

    # When Shopify posts it (200: it is stored) and the queue delivers it
    assert shop.post("orders/paid", order, webhook_id="wh-lines-object")["statusCode"] == 200
    assert shop.consume() == {"batchItemFailures": []}

    # Then it is dead-lettered with the reason naming line_items, and nothing reached Talon.One: the session was
    # not closed with the cart it had before
    [letter] = shop.dead_letters()
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert "orders/paid: line_items is missing, is not a list" in reason
    assert httpserver.log == []


def test_a_signed_body_that_is_not_json_is_queued_then_dead_lettered(shop: Shop, httpserver: HTTPServer) -> None:
    # Given a signed webhook whose body is not JSON
    answer = shop.post("orders/paid", b"<order id='1'/>", webhook_id="wh-xml")
    assert answer["statusCode"] == 200  # (Shopify is told it arrived: it did, and it is kept)

    # When the queue delivers it
    shop.consume()

    # Then it is in the DLQ, byte for byte, with the reason; Talon.One was not called
    [letter] = shop.dead_letters()
    assert "webhook body is not valid JSON" in letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert json.loads(letter["Body"])["body"] == "<order id='1'/>"
    assert httpserver.log == []


def test_the_sample_sqs_event_is_applied_whole(shop: Shop, httpserver: HTTPServer) -> None:
    # Given the function's sample SQS event (a checkout update and the order paid, one cart's group)
    answer_v2(httpserver)
    event = load_event(FOLDER, "sqs")

    # When the function handles it
    result = shop.handler(event, LambdaContext())

    # Then both webhooks went through, in order: the checkout's session update, the close, the purchase
    assert result == {"batchItemFailures": []}
    assert [method for method, _ in calls(httpserver)] == ["PUT", "PUT", "POST"]


# --- the relay's limits on the webhook path (issue 24) --------------------------------------------------


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_a_signed_body_nested_past_the_limits_is_queued_then_dead_lettered_with_the_reason(
    shop: Shop, httpserver: HTTPServer, levels: int
) -> None:
    # Given a webhook of a mapped topic, validly signed, whose body nests arrays `levels` deep
    raw = b"[" * levels + b"]" * levels

    # When Shopify posts it
    answer = shop.post("orders/paid", raw, webhook_id=f"wh-deep-{levels}")

    # Then it is stored (200, not a 500 Shopify would retry): the body is Shopify's, and retrying cannot fix it
    assert answer["statusCode"] == 200, answer
    assert body_of(answer)["status"] == "queued"
    # And its queue dead-letters it on its first receive, naming the limit; Talon.One never hears of it
    assert shop.consume() == {"batchItemFailures": []}
    [letter] = shop.dead_letters()
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert f"webhook body nests {levels:,} levels of objects and arrays; at most 64" in reason
    assert json.loads(letter["Body"])["webhookId"] == f"wh-deep-{levels}"
    assert httpserver.log == []


def test_a_signed_body_over_the_size_limit_is_a_413_naming_it_and_nothing_is_queued(
    shop: Shop, httpserver: HTTPServer
) -> None:
    # Given a signed webhook of a mapped topic whose body is over the relay's 1 MiB
    raw = json.dumps({"id": 1, "note": "x" * 1_048_576}).encode()

    # When Shopify posts it
    answer = shop.post("orders/paid", raw, webhook_id="wh-huge")

    # Then it is a 413 naming the size and the limit, with no advice meant for the relay's API callers
    assert answer["statusCode"] == 413, answer
    [error] = body_of(answer)["errors"]
    assert f"webhook body is {len(raw):,} bytes; at most 1,048,576" in error["details"]
    assert "Prefer" not in answer["body"]
    assert shop.queued() == []


def test_a_webhook_sqs_cannot_take_is_a_413_without_api_advice(shop: Shop, httpserver: HTTPServer) -> None:
    # Given a signed webhook within 1 MiB that grows past what SQS takes once queued (every quote escaped)
    raw = json.dumps({"id": 1, "note": '"' * 300_000}).encode()
    assert len(raw) < 1_048_576

    # When Shopify posts it
    answer = shop.post("orders/paid", raw, webhook_id="wh-escaped")

    # Then 413 says it is too large as a queued message, without "send it without Prefer: respond-async"
    assert answer["statusCode"] == 413, answer
    assert "as a queued message" in answer["body"]
    assert "Prefer" not in answer["body"]
    assert shop.queued() == []


def order_groups(shop: Shop) -> list[str]:
    """The ids of the order-group records in the relay's table (what a paid order's receiver writes)."""
    items = shop.stack_dynamodb().scan(TableName=shop.stack.table)["Items"]
    return [item["id"]["S"] for item in items if ".ordergroup#" in item["id"]["S"]]


@pytest.mark.parametrize("note", ["x" * 1_048_576, '"' * 300_000], ids=["over-1-MiB", "over-SQS-once-queued"])
def test_a_webhook_too_large_to_keep_is_refused_before_anything_is_parsed_or_written(
    shop: Shop, httpserver: HTTPServer, note: str
) -> None:
    # Given a signed orders/paid (an order whose group record its receiver keeps) too large to be stored: over
    # 1 MiB, or within it but past what SQS takes once queued (every quote escaped)
    raw = json.dumps({**payload("orders/paid"), "note": note}).encode()

    # When Shopify posts it
    answer = shop.post("orders/paid", raw, webhook_id=f"wh-large-{len(raw)}")

    # Then it is a 413, and its order's group record was not written: nothing of it was kept
    assert answer["statusCode"] == 413, answer
    assert order_groups(shop) == []
    assert shop.queued() == []
    # (the same order within the limits writes that record: the check above can fail)
    assert shop.post("orders/paid", payload("orders/paid"), webhook_id="wh-fits")["statusCode"] == 200
    assert len(order_groups(shop)) == 1


def test_a_message_on_the_webhook_queue_is_read_through_the_relays_limits(shop: Shop, httpserver: HTTPServer) -> None:
    # Given a message on the webhook queue that is not a queued webhook but JSON nested 100,000 deep
    shop.stack.sqs.send_message(
        QueueUrl=shop.queue_url,
        MessageBody="[" * 100_000 + "]" * 100_000,
        MessageGroupId="g-deep",
        MessageDeduplicationId=uuid.uuid4().hex,
    )

    # When the queue delivers it
    assert shop.consume() == {"batchItemFailures": []}

    # Then it is dead-lettered with the relay's own words for the limit
    [letter] = shop.dead_letters()
    reason = letter["MessageAttributes"]["failureReason"]["StringValue"]
    assert "message body nests 100,000 levels of objects and arrays; at most 64" in reason
    assert httpserver.log == []


# --- one order per session with the API's queued changes ------------------------------------------


def test_session_webhooks_join_the_sessions_queue_in_the_sessions_group(
    shop: Shop,
    stack: Stack,
    httpserver: HTTPServer,
    load_handler: Callable[[str], Handler],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the receiver with its own queue and the sessions queue apart, as the template deploys them
    sessions_url = stack.sqs.create_queue(
        QueueName=f"sessions-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    sessions_arn = stack.sqs.get_queue_attributes(QueueUrl=sessions_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    monkeypatch.setenv("SHARED_QUEUE_URL", sessions_url)
    reset_handlers()
    shop.handler = load_handler(FOLDER)
    order = payload("orders/paid")

    # When Shopify posts orders/paid (it closes the cart's session) and customers/update (a profile)
    assert shop.post("orders/paid", order)["statusCode"] == 200
    assert shop.post("customers/update", payload("customers/update"))["statusCode"] == 200

    # Then the order's webhook is on the sessions queue, in the session's group (the one an API caller's queued
    # change of that session joins), naming the receiver; the profile's stays on the receiver's own queue
    [message] = shop._receive(sessions_url)
    assert message["Attributes"]["MessageGroupId"] == order["cart_token"]
    assert message["MessageAttributes"]["relayOperation"]["StringValue"] == "shopifyWebhook"
    assert json.loads(message["Body"])["topic"] == "orders/paid"
    assert [json.loads(m["Body"])["topic"] for m in shop.queued()] == ["customers/update"]

    # And the sessions queue's consumer (updateCustomerSessionV2's function) maps and applies it, in order
    answer_v2(httpserver)
    consumer = load_handler("update_customer_session_v2")
    result = consumer({"Records": [sqs_record(message, sessions_arn)]}, LambdaContext())
    assert result == {"batchItemFailures": []}
    assert calls(httpserver) == [("PUT", f"/v2/customer_sessions/{order['cart_token']}"), ("POST", "/v3/events")]
