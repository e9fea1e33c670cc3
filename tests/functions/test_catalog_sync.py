"""syncCatalog's queue: one catalog's queued syncs coalesced into as few calls as Talon.One takes, in order,
against moto's FIFO queue (its clock injected) and the Talon.One emulator (which refuses what Talon.One
refuses: two action types, a SKU twice, an ADD of a SKU it has, a REMOVE of one it has not)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local.emulator import Emulator
from local.gateway import sqs_record
from local.shopify import webhook_headers
from tests.functions.conftest import API_KEY, Stack
from tests.support import FakeClock, LambdaContext, load_event, reset_handlers

FUNCTION = "sync_catalog"
CATALOG = "1"  # the emulator's local catalog


def add(*skus: str, price: float = 10.0, replace: bool = False) -> dict[str, Any]:
    payload = {"price": price, "product": {"name": "Sneakers"}, "attributes": {}}
    if replace:
        payload["replaceIfExists"] = True
    return {"actions": [{"type": "ADD", "payload": {"sku": sku, **payload}} for sku in skus]}


def of(kind: str, *skus: str, **payload: Any) -> dict[str, Any]:
    return {"actions": [{"type": kind, "payload": {"sku": sku, **payload}} for sku in skus]}


@dataclass
class Catalogs:
    """moto's FIFO queue of syncCatalog (grouped by catalog), its DLQ, and the emulator as Talon.One."""

    stack: Stack
    emulator: Emulator
    queue_url: str
    dlq_url: str
    arn: str
    handler: Any

    def send(self, body: Any, catalog: str = CATALOG, **extra: Any) -> str:
        message = body if isinstance(body, str) else json.dumps({"catalogId": catalog, "body": body, **extra})
        return str(
            self.stack.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=message,
                MessageGroupId=catalog,
                MessageDeduplicationId=uuid.uuid4().hex,
            )["MessageId"]
        )

    def received(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The visible messages (at most 10), and the event Lambda's event source makes of them."""
        messages: list[dict[str, Any]] = self.stack.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        return messages, {"Records": [sqs_record(message, self.arn) for message in messages]}

    def run(self, context: Any = None) -> dict[str, Any]:
        """One batch as Lambda's event source hands it over (at most 10), and what Lambda then deletes."""
        messages, event = self.received()
        result: dict[str, Any] = self.handler(event, context or LambdaContext())
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.stack.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        result["received"] = len(messages)
        return result

    def syncs(self) -> list[list[tuple[str, str]]]:
        """Each syncCatalog request Talon.One received that it applied: its (type, sku) actions."""
        return [
            [(action["type"], action["payload"].get("sku")) for action in entry["body"]["actions"]]
            for entry in self.emulator.requests()
            if entry["operation"] == "syncCatalog" and entry["status"] == 200
        ]

    def items(self) -> dict[str, Any]:
        found: dict[str, Any] = self.emulator.state()["catalogs"].get(CATALOG, {}).get("items", {})
        return found

    def dead_letters(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.stack.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        return found


@pytest.fixture
def catalogs(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, sqs_clock: FakeClock, load_handler: Any
) -> Iterator[Catalogs]:
    emulator = Emulator(api_keys={API_KEY})
    emulator.start()
    suffix = uuid.uuid4().hex[:8]
    arn = stack.secrets.create_secret(
        Name=f"talon-emulator-{suffix}", SecretString=json.dumps({"baseUrl": emulator.base_url, "apiKey": API_KEY})
    )["ARN"]
    fifo = {"FifoQueue": "true"}
    dlq_url = stack.sqs.create_queue(QueueName=f"dlq-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    queue_url = stack.sqs.create_queue(
        QueueName=f"catalog-{suffix}.fifo", Attributes={**fifo, "VisibilityTimeout": "30", "RedrivePolicy": redrive}
    )["QueueUrl"]
    queue_arn = stack.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    for name, value in {
        "TALON_SECRET_ARN": arn,
        "QUEUE_URL": queue_url,
        "DEAD_LETTER_QUEUE_URL": dlq_url,
        "MAX_RECEIVE_COUNT": "5",
    }.items():
        monkeypatch.setenv(name, value)
    reset_handlers()
    try:
        yield Catalogs(stack, emulator, queue_url, dlq_url, queue_arn["QueueArn"], load_handler(FUNCTION))
    finally:
        emulator.stop()
        reset_handlers()


def test_a_catalogs_syncs_are_coalesced_by_action_type_in_order(catalogs: Catalogs) -> None:
    # Given one catalog's changes queued: two adds, a patch, a removal, an add
    catalogs.send(add("a"))
    catalogs.send(add("b"))
    catalogs.send(of("PATCH", "a", price=7.5))
    catalogs.send(of("REMOVE", "b"))
    catalogs.send(add("c"))
    # When the function takes the batch
    result = catalogs.run()
    # Then every message succeeded, in four requests of one action type each, in the order queued
    assert (result["received"], result["batchItemFailures"]) == (5, [])
    assert catalogs.syncs() == [
        [("ADD", "a"), ("ADD", "b")],
        [("PATCH", "a")],
        [("REMOVE", "b")],
        [("ADD", "c")],
    ]
    # And the catalog is what the changes make, in that order
    assert {sku: item["price"] for sku, item in catalogs.items().items()} == {"a": 7.5, "c": 10.0}
    assert catalogs.emulator.state()["catalogs"][CATALOG]["version"] == 1 + 4
    assert catalogs.dead_letters() == []


def test_a_sku_repeated_by_a_later_message_goes_in_the_next_request_after_it(catalogs: Catalogs) -> None:
    # Given x added, y added, then x added again with another price (replacing it)
    catalogs.send(add("x", price=1.0))
    catalogs.send(add("y"))
    catalogs.send(add("x", price=2.0, replace=True))
    catalogs.send(add("z"))
    # When the batch is taken
    assert catalogs.run()["batchItemFailures"] == []
    # Then no request held x twice (Talon.One would refuse it whole): the second x, and what follows it,
    # went in the next request
    assert catalogs.syncs() == [[("ADD", "x"), ("ADD", "y")], [("ADD", "x"), ("ADD", "z")]]
    assert catalogs.items()["x"]["price"] == 2.0


def test_no_request_holds_more_than_1000_actions(catalogs: Catalogs) -> None:
    # Given three messages of 400 additions each
    for part in range(3):
        catalogs.send(add(*(f"sku-{part}-{n}" for n in range(400))))
    # When the batch is taken
    assert catalogs.run()["batchItemFailures"] == []
    # Then two messages went together (800), the third alone: no request over 1,000, no message split
    assert [len(sync) for sync in catalogs.syncs()] == [800, 400]
    assert len(catalogs.items()) == 1200


def test_a_refused_coalesced_request_dead_letters_only_the_message_at_fault(catalogs: Catalogs) -> None:
    # Given three items, then removals of one, of a SKU the catalog does not have, and of another
    catalogs.send(add("r1", "r2", "r3"))
    assert catalogs.run()["batchItemFailures"] == []
    catalogs.send(of("REMOVE", "r1"))
    missing = catalogs.send(of("REMOVE", "nope"))
    catalogs.send(of("REMOVE", "r3"))
    # When the batch is taken: Talon.One refuses the joined removal whole (nothing of it applied)
    result = catalogs.run()
    # Then each message was sent again alone: the two good ones applied once, the bad one dead-lettered
    assert result["batchItemFailures"] == []
    assert catalogs.syncs()[1:] == [[("REMOVE", "r1")], [("REMOVE", "r3")]]
    assert set(catalogs.items()) == {"r2"}
    (letter,) = catalogs.dead_letters()
    attributes = letter["MessageAttributes"]
    assert attributes["sourceMessageId"]["StringValue"] == missing
    assert "no item with SKU 'nope'" in attributes["failureReason"]["StringValue"]
    assert attributes["talonStatus"]["StringValue"] == "400"


def test_an_outage_hands_the_group_back_in_order_and_nothing_is_applied_twice(
    catalogs: Catalogs, sqs_clock: FakeClock
) -> None:
    # Given two additions and a removal queued, and Talon.One failing the first request (with its retries)
    catalogs.send(add("o1"))
    catalogs.send(add("o2"))
    catalogs.send(of("REMOVE", "o1"))
    catalogs.emulator.inject_fault(status=503, method="PUT", count=3)  # each attempt of the call
    # When the batch is taken
    first = catalogs.run()
    # Then every message is handed back (the head after its backoff, the rest behind it) and none applied
    assert len(first["batchItemFailures"]) == 3
    assert catalogs.syncs() == [] and catalogs.items() == {}
    # When its backoff has passed and the group comes back
    sqs_clock.advance(3600)
    second = catalogs.run()
    # Then it is applied once, in order
    assert (second["received"], second["batchItemFailures"]) == (3, [])
    assert catalogs.syncs() == [[("ADD", "o1"), ("ADD", "o2")], [("REMOVE", "o1")]]
    assert set(catalogs.items()) == {"o2"} and catalogs.dead_letters() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{broken", "message body"),
        (json.dumps({"catalogId": "1", "body": {"actions": []}}), "/body/actions"),
        (json.dumps({"catalogId": "1", "body": {**add("m1"), "actions": add("m1")["actions"] * 2}}), "repeats the SKU"),
        (
            json.dumps({"catalogId": "1", "body": {"actions": add("m2")["actions"] + of("REMOVE", "m3")["actions"]}}),
            "one action type",
        ),
        (json.dumps({"catalogId": "shoes", "body": add("m4")}), "catalogId must be an integer"),
        (json.dumps({"catalogId": "1", "body": {"actions": [{"type": "ADD", "payload": {"price": "9"}}]}}), "sku"),
    ],
    ids=["not-json", "no-actions", "sku-twice", "two-types", "catalog-not-integer", "no-sku-price-text"],
)
def test_a_bad_message_is_dead_lettered_with_its_reason_and_the_others_are_applied(
    catalogs: Catalogs, body: str, reason: str
) -> None:
    # Given a good change, a bad message, and another good change in one catalog's group
    catalogs.send(add("g1"))
    bad = catalogs.send(body)
    catalogs.send(add("g2"))
    # When the batch is taken
    assert catalogs.run()["batchItemFailures"] == []
    # Then the two good ones went together, and the bad one is a dead letter naming the fault; nothing of it
    # reached Talon.One
    assert catalogs.syncs() == [[("ADD", "g1"), ("ADD", "g2")]]
    (letter,) = catalogs.dead_letters()
    assert letter["MessageAttributes"]["sourceMessageId"]["StringValue"] == bad
    assert reason in letter["MessageAttributes"]["failureReason"]["StringValue"]


def test_an_unknown_catalog_is_dead_lettered_with_talon_ones_404(catalogs: Catalogs) -> None:
    catalogs.send(add("u1"), catalog="999")
    assert catalogs.run()["batchItemFailures"] == []
    (letter,) = catalogs.dead_letters()
    assert letter["MessageAttributes"]["talonStatus"]["StringValue"] == "404"


def test_with_too_little_time_left_nothing_is_sent_and_the_group_comes_back_at_once(catalogs: Catalogs) -> None:
    # Given changes queued, and an invocation with a second left
    catalogs.send(add("t1"))
    catalogs.send(add("t2"))
    result = catalogs.run(LambdaContext(timeout_seconds=1.0))
    # Then nothing was sent, and both are handed back untried, visible again at once, in order
    assert len(result["batchItemFailures"]) == 2 and catalogs.syncs() == []
    assert catalogs.run()["batchItemFailures"] == []
    assert catalogs.syncs() == [[("ADD", "t1"), ("ADD", "t2")]]


def test_the_same_batch_delivered_again_is_answered_from_its_record(catalogs: Catalogs) -> None:
    # Given a coalesced batch applied, whose deletion was lost (SQS delivers it again, the same messages)
    catalogs.send(add("i1"))
    catalogs.send(add("i2"))
    _, event = catalogs.received()
    assert catalogs.handler(event, LambdaContext())["batchItemFailures"] == []
    # When the same records come again
    assert catalogs.handler(event, LambdaContext())["batchItemFailures"] == []
    # Then Talon.One got the joined request once (an ADD sent twice would be refused: the SKU exists)
    assert catalogs.syncs() == [[("ADD", "i1"), ("ADD", "i2")]]
    assert catalogs.dead_letters() == []


def test_applied_messages_delivered_again_among_new_ones_are_not_applied_twice(catalogs: Catalogs) -> None:
    # Given two additions applied as one request, whose deletion was lost
    catalogs.send(add("j1"))
    catalogs.send(add("j2"))
    sqs = catalogs.stack.sqs
    first, event = catalogs.received()
    assert catalogs.handler(event, LambdaContext())["batchItemFailures"] == []
    # When they come again with a new addition behind them
    for message in first:
        sqs.change_message_visibility(
            QueueUrl=catalogs.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    catalogs.send(add("j3"))
    result = catalogs.run()
    # Then the two are found applied by their records' claims and only the new one is sent (never offered to
    # Talon.One again, so no refusal either); nothing is dead-lettered
    assert (result["received"], result["batchItemFailures"]) == (3, [])
    assert catalogs.syncs() == [[("ADD", "j1"), ("ADD", "j2")], [("ADD", "j3")]]
    assert set(catalogs.items()) == {"j1", "j2", "j3"} and catalogs.dead_letters() == []
    assert [entry for entry in catalogs.emulator.requests() if entry["status"] != 200] == []


# --- Shopify's product webhooks, on the same queue ------------------------------------------------------

SHOPIFY_SECRET = "fn-test-catalog-shopify-secret-5c1e"


def product(number: int, price: str = "4.50") -> dict[str, Any]:
    """A products/create (or products/update) webhook's product: two variants with their own SKUs."""
    created: dict[str, Any] = load_event("shopify_webhook/payloads", "products_create")
    variants = [
        {**variant, "id": 60000 + number * 10 + n, "product_id": 7000 + number, "sku": f"W{number}-{n}", "price": price}
        for n, variant in enumerate(created["variants"])
    ]
    return {**created, "id": 7000 + number, "variants": variants}


def webhooks_through_the_receiver(
    catalogs: Catalogs, monkeypatch: pytest.MonkeyPatch, load_handler: Any, posted: list[tuple[str, dict[str, Any]]]
) -> None:
    """Shopify's webhooks posted to the receiver and its queue consumed, with its environment as the template
    gives it (STEP_QUEUE_URLS names syncCatalog's queue); then the catalog function's environment again."""
    sqs, suffix = catalogs.stack.sqs, uuid.uuid4().hex[:8]
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    queue_url = sqs.create_queue(QueueName=f"shopify-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=f"shopify-dlq-{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    secret = catalogs.stack.secrets.create_secret(
        Name=f"shopify-{suffix}", SecretString=json.dumps({"current": SHOPIFY_SECRET})
    )["ARN"]
    own = {"QUEUE_URL": catalogs.queue_url, "DEAD_LETTER_QUEUE_URL": catalogs.dlq_url}
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret)
    monkeypatch.setenv("STEP_QUEUE_URLS", json.dumps({"syncCatalog": catalogs.queue_url}))
    reset_handlers()
    receiver = load_handler("shopify_webhook")
    for topic, body in posted:
        raw = json.dumps(body).encode()
        event = copy.deepcopy(load_event("shopify_webhook", "api"))
        event["headers"] = webhook_headers(topic, raw, SHOPIFY_SECRET)
        event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
        event["body"] = raw.decode()
        assert receiver(event, LambdaContext())["statusCode"] == 200
    for _ in range(5):  # bounded: the few webhooks of a test
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        result = receiver({"Records": [sqs_record(m, arn) for m in messages]}, LambdaContext())
        assert result == {"batchItemFailures": []}
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=dlq_url).get("Messages", []) == []
    for name, value in own.items():
        monkeypatch.setenv(name, value)
    reset_handlers()
    catalogs.handler = load_handler(FUNCTION)


def test_several_product_webhooks_become_one_coalesced_sync(
    catalogs: Catalogs, monkeypatch: pytest.MonkeyPatch, load_handler: Any
) -> None:
    # Given three products created in the shop, Shopify posting a products/create webhook for each
    created = [product(n) for n in range(3)]
    # When the receiver takes them and maps them: each sync goes on syncCatalog's queue, nothing is called
    webhooks_through_the_receiver(catalogs, monkeypatch, load_handler, [("products/create", p) for p in created])
    assert catalogs.emulator.requests() == []
    # And the catalog's function takes its queue's batch
    result = catalogs.run()
    # Then the three webhooks' variants reached Talon.One as one syncCatalog of ADDs, each product's in its order
    assert (result["received"], result["batchItemFailures"]) == (3, [])
    [sync] = catalogs.syncs()
    assert {("ADD", f"W{n}-{v}") for n in range(3) for v in range(2)} == set(sync) and len(sync) == 6
    for n in range(3):
        assert sync.index(("ADD", f"W{n}-0")) < sync.index(("ADD", f"W{n}-1"))
    assert catalogs.items()["W1-0"]["price"] == 4.5
    assert catalogs.dead_letters() == []


def test_a_products_create_update_and_delete_keep_their_order_and_no_request_repeats_a_sku(
    catalogs: Catalogs, monkeypatch: pytest.MonkeyPatch, load_handler: Any
) -> None:
    # Given a product created, updated (its variants again, another price), then deleted, and another created
    first, other = product(1), product(2)
    posted = [
        ("products/create", first),
        ("products/update", product(1, price="5.25")),
        ("products/delete", {"id": first["id"]}),
        ("products/create", other),
    ]
    # When the receiver queues their syncs and the catalog's function takes them
    webhooks_through_the_receiver(catalogs, monkeypatch, load_handler, posted)
    while catalogs.run()["received"]:
        pass
    # Then the update's SKUs, already in the create's request, went in a later request, the removal after it,
    # each request of one action type; and the catalog holds the other product alone
    syncs = catalogs.syncs()
    assert all(len({sku for _, sku in sync}) == len(sync) for sync in syncs)
    assert all(len({kind for kind, _ in sync}) == 1 for sync in syncs)
    mine = [sync for sync in syncs if any(sku and sku.startswith("W1-") for _, sku in sync) or sync[0][0] != "ADD"]
    assert [sync[0][0] for sync in mine] == ["ADD", "ADD", "REMOVE_MANY"]
    assert set(catalogs.items()) == {"W2-0", "W2-1"}
    assert catalogs.dead_letters() == []


# --- the backfill (local/backfill.py) ---------------------------------------------------------------------


def products(count: int, variants: int) -> list[dict[str, Any]]:
    """Shopify products as the Admin API and products/create have them (the fields the mapping reads)."""
    return [
        {
            "id": 9000 + p,
            "title": f"Product {p}",
            "variants": [
                {"id": 50000 + p * 100 + v, "product_id": 9000 + p, "sku": f"P{p}-V{v}", "price": f"{v + 1}.50"}
                for v in range(variants)
            ],
        }
        for p in range(count)
    ]


def test_a_backfill_is_chunked_in_order_at_1000_actions_and_before_a_repeated_sku() -> None:
    from local.backfill import chunks

    actions = [{"type": "ADD", "payload": {"sku": f"s{n}"}} for n in range(2500)]
    assert [len(part) for part in chunks(actions)] == [1000, 1000, 500]
    repeated = [{"type": "ADD", "payload": {"sku": sku}} for sku in ("a", "b", "a", "c")]
    assert [[a["payload"]["sku"] for a in part] for part in chunks(repeated)] == [["a", "b"], ["a", "c"]]


def test_a_whole_catalog_backfilled_through_the_queue_is_in_talon_one(catalogs: Catalogs, tmp_path: Any) -> None:
    from local.backfill import messages, product_actions, read_products, send

    # Given 30 products of 50 variants each, as the Admin API lists them
    file = tmp_path / "products.json"
    file.write_text(json.dumps({"products": products(30, 50)}))
    # When the backfill queues them on the syncCatalog queue
    bodies = messages(CATALOG, product_actions(read_products(file)), "run-1")
    assert send(catalogs.stack.sqs, catalogs.queue_url, CATALOG, bodies) == 2
    # And the function takes the queue's batches
    while catalogs.run()["received"]:
        pass
    # Then every variant is an item, priced, each sync at most 1,000 actions, nothing dead-lettered
    items = catalogs.items()
    assert len(items) == 1500 and items["P7-V3"]["price"] == 4.5
    assert [len(sync) for sync in catalogs.syncs()] == [1000, 500]
    assert catalogs.dead_letters() == []


def test_a_product_of_more_variants_than_one_sync_takes_is_backfilled_whole(catalogs: Catalogs) -> None:
    from local.backfill import messages, product_actions, send

    # Given one product of 2,048 variants (Shopify's most), more than one sync's 1,000 actions
    (product,) = products(1, 2048)
    for n, variant in enumerate(product["variants"]):
        variant["sku"] = f"BIG-{n}"
    # When the backfill queues it, and the function takes the queue's batches
    bodies = messages(CATALOG, product_actions([product]), "run-big")
    assert send(catalogs.stack.sqs, catalogs.queue_url, CATALOG, bodies) == 3
    while catalogs.run()["received"]:
        pass
    # Then every variant is an item, in syncs of at most 1,000 actions, nothing dead-lettered
    assert len(catalogs.items()) == 2048
    assert [len(sync) for sync in catalogs.syncs()] == [1000, 1000, 48]
    assert catalogs.dead_letters() == []


def test_a_sku_twice_in_a_product_of_more_variants_than_one_sync_is_still_refused(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.backfill import main

    # Given a product of 1,500 variants whose 1,200th repeats the SKU of its 3rd (in another 1,000)
    (product,) = products(1, 1500)
    for n, variant in enumerate(product["variants"]):
        variant["sku"] = f"BIG-{n}"
    product["variants"][1200]["sku"] = "BIG-2"
    file = tmp_path / "products.json"
    file.write_text(json.dumps([product]))
    # Then the command fails before sending anything, as for a smaller product
    assert main(["--catalog", CATALOG, "--file", str(file), "--dry-run"]) == 1
    assert "actions/1200/payload/sku repeats the SKU of actions/2" in capsys.readouterr().err


def test_a_backfill_the_relay_would_refuse_sends_nothing(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from local.backfill import main

    # Given a product whose two variants have the same SKU (Talon.One refuses such a sync whole)
    bad = products(2, 2)
    bad[1]["variants"][1]["sku"] = bad[1]["variants"][0]["sku"]
    file = tmp_path / "products.json"
    file.write_text("\n".join(json.dumps(product) for product in bad))
    # Then the command fails before sending anything (no stack is asked for), naming the product and the fault
    assert main(["--catalog", CATALOG, "--file", str(file)]) == 1
    error = capsys.readouterr().err
    assert "nothing sent: product 1 (id 9001)" in error and "repeats the SKU" in error


def test_a_backfill_of_a_catalog_that_is_not_an_integer_sends_nothing(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.backfill import main

    file = tmp_path / "products.json"
    file.write_text(json.dumps(products(1, 1)))
    assert main(["--catalog", "shoes", "--file", str(file), "--dry-run"]) == 1
    assert "catalogId must be an integer" in capsys.readouterr().err
