"""A coalesced catalog batch's DynamoDB round trips, counted by the moto server that serves them.

Each queued sync keeps its own idempotency record (the records `aws.idempotency` writes for one message),
but a group's records are claimed in one TransactWriteItems and written in one BatchWriteItem
(`aws.idempotency_batch`): two round trips for a batch of ten, not twenty. A claim DynamoDB cancels says
which records it met: applied already (not sent again), a key used for another payload (dead-lettered with
the reason), in progress (handed back, with every message behind it); the rest are claimed once more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from talon_relay.aws import idempotency_batch
from talon_relay.aws.idempotency import COMPLETED, run_once
from talon_relay.container import Container
from talon_relay.core import messages
from talon_relay.operations import OPERATIONS
from tests.functions.test_catalog_sync import CATALOG, Catalogs, add, catalogs
from tests.support import FakeClock, LambdaContext, reset_handlers

__all__ = ["catalogs"]  # the fixture, shared (dynamodb_calls: tests/functions/conftest.py)

OP = OPERATIONS["syncCatalog"]


def payload_of(body: dict[str, Any]) -> dict[str, Any]:
    """A queued sync's payload as the relay hashes it (its record's `validation`)."""
    request, _ = messages.decode(OP, json.dumps({"catalogId": CATALOG, "body": body}))
    return request.payload


def never() -> str | None:
    raise AssertionError("Talon.One must not be called: the record answers")


def records(catalogs: Catalogs) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=catalogs.stack.table)["Items"]
    return [item for item in items if "status" in item]


def test_a_batch_of_ten_in_one_catalog_is_two_round_trips_and_its_records_are_one_messages(
    catalogs: Catalogs, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given ten syncs of one catalog queued, each with its idempotency key
    for n in range(10):
        catalogs.send(add(f"k{n}"), idempotencyKey=f"sync-k{n}")
    # When the function takes the batch
    result = catalogs.run()
    # Then they went as one syncCatalog, with one DynamoDB request before it (the claims) and one after
    assert (result["received"], result["batchItemFailures"]) == (10, [])
    assert catalogs.syncs() == [[("ADD", f"k{n}") for n in range(10)]]
    assert dynamodb_calls() == ["TransactWriteItems", "BatchWriteItem"]
    # And each message has its own completed record, as one sent alone keeps: the one-message path answers
    # a repeat of any of them from it, without calling Talon.One
    assert sorted(item["status"]["S"] for item in records(catalogs)) == [COMPLETED] * 10
    answer = run_once(Container(), "sync-k3", scope=OP.name, payload=payload_of(add("k3")), call=never)
    assert answer is not None and json.loads(answer)["id"] == int(CATALOG)


def test_a_cancelled_claim_drops_replays_and_reused_keys_and_claims_the_rest_once_more(
    catalogs: Catalogs, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given p1 applied before (its record completed), and the key p2 used before for another sync
    container = Container()
    run_once(container, "p1", scope=OP.name, payload=payload_of(add("p1")), call=lambda: '{"id": 1}')
    run_once(container, "p2", scope=OP.name, payload=payload_of(add("elsewhere")), call=lambda: '{"id": 1}')
    seeded = len(dynamodb_calls())
    # When p1 comes again, p2 with the reused key, and a new p3, in one batch
    catalogs.send(add("p1"), idempotencyKey="p1")
    reused = catalogs.send(add("p2"), idempotencyKey="p2")
    catalogs.send(add("p3"), idempotencyKey="p3")
    result = catalogs.run()
    # Then the claims were cancelled once (naming p1 applied, p2 reused), p3 claimed once more (alone: its
    # UpdateItem) and sent alone, and the outcome written in one batch
    assert dynamodb_calls()[seeded:] == ["TransactWriteItems", "UpdateItem", "BatchWriteItem"]
    assert catalogs.syncs() == [[("ADD", "p3")]]
    assert result["batchItemFailures"] == []
    # And p2 is a dead letter saying why, nothing of it sent; p1 was acknowledged, not sent twice
    (letter,) = catalogs.dead_letters()
    assert letter["MessageAttributes"]["sourceMessageId"]["StringValue"] == reused
    assert "'p2' was already used for a different" in letter["MessageAttributes"]["failureReason"]["StringValue"]


def test_a_message_in_progress_elsewhere_is_handed_back_with_every_message_behind_it(
    catalogs: Catalogs, dynamodb_calls: Callable[[], list[str]], sqs_clock: FakeClock
) -> None:
    # Given q1, q2, q3 queued, and q2's key held in progress by another invocation while this batch runs
    catalogs.send(add("q1"), idempotencyKey="q1")
    held = catalogs.send(add("q2"), idempotencyKey="q2")
    behind = catalogs.send(add("q3"), idempotencyKey="q3")
    results: list[dict[str, Any]] = []

    def batch_while_q2_is_in_progress() -> None:
        results.append(catalogs.run())

    run_once(Container(), "q2", scope=OP.name, payload=payload_of(add("q2")), call=batch_while_q2_is_in_progress)
    # Then q1 went alone; q2 and q3 were handed back untried, in order, and nothing is dead-lettered
    (result,) = results
    assert catalogs.syncs() == [[("ADD", "q1")]]
    assert {item["itemIdentifier"] for item in result["batchItemFailures"]} == {held, behind}
    assert catalogs.dead_letters() == []
    # And q3 was never claimed: after q2's own claim, one transaction was cancelled on q2, then q1 alone
    # was claimed (its UpdateItem)
    assert dynamodb_calls()[1:4] == ["TransactWriteItems", "UpdateItem", "BatchWriteItem"]
    assert len(records(catalogs)) == 2  # q1's (ours) and q2's (the other invocation's, completed by it)
    # When the group comes back after its backoff
    sqs_clock.advance(3600)
    assert catalogs.run()["batchItemFailures"] == []
    # Then q2, which the other invocation applied, is not sent again; q3 is
    assert catalogs.syncs() == [[("ADD", "q1")], [("ADD", "q3")]]


def test_one_key_twice_in_a_batch_is_one_call_and_another_payload_under_it_is_a_dead_letter(
    catalogs: Catalogs,
) -> None:
    # Given a sync queued twice with one key, then another sync under that key
    catalogs.send(add("r1"), idempotencyKey="r")
    catalogs.send(add("r1"), idempotencyKey="r")
    other = catalogs.send(add("r2"), idempotencyKey="r")
    # When the batch is taken
    assert catalogs.run()["batchItemFailures"] == []
    # Then r1 was sent once, and the other payload is a dead letter naming the reused key
    assert catalogs.syncs() == [[("ADD", "r1")]]
    (letter,) = catalogs.dead_letters()
    assert letter["MessageAttributes"]["sourceMessageId"]["StringValue"] == other
    assert "'r' was already used for a different" in letter["MessageAttributes"]["failureReason"]["StringValue"]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(catalogs: Catalogs) -> None:
    # Given an item, in the local DynamoDB (moto, its transactions' rollback patched: local/aws.py)
    client: Any = boto3.client("dynamodb")
    table = catalogs.stack.table
    client.put_item(TableName=table, Item={"id": {"S": "kept"}, "n": {"N": "1"}})

    def update(key: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": table,
                "Key": {"id": {"S": key}},
                "UpdateExpression": "SET n = :n",
                "ConditionExpression": "attribute_not_exists(fails)",
                "ExpressionAttributeValues": {":n": {"N": "2"}},
            }
        }

    client.put_item(TableName=table, Item={"id": {"S": "blocks"}, "fails": {"S": "yes"}})
    # When a transaction updates it and creates another, then meets a condition that fails
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=[update("kept"), update("created"), update("blocks")])
    codes = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    # Then it was cancelled, and the item is as it was and the other was not created
    assert codes == ["None", "None", "ConditionalCheckFailed"]
    assert client.get_item(TableName=table, Key={"id": {"S": "kept"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in client.get_item(TableName=table, Key={"id": {"S": "created"}})


def test_a_group_of_one_message_is_sent_as_any_queued_message_and_a_group_of_several_reads_its_record(
    catalogs: Catalogs, dynamodb_calls: Callable[[], list[str]]
) -> None:
    # Given one sync queued, then the same sync delivered again (its deletion lost)
    catalogs.send(add("s1"), idempotencyKey="s1")
    first, event = catalogs.received()
    # When the function takes it twice
    assert catalogs.handler(event, LambdaContext())["batchItemFailures"] == []
    assert catalogs.handler(event, LambdaContext())["batchItemFailures"] == []
    # Then it went as any queued message goes: its claim one conditional UpdateItem (a write unit, not a
    # transaction's two), its answer one UpdateItem, and the second delivery was answered by the claim alone
    assert dynamodb_calls() == ["UpdateItem", "UpdateItem", "UpdateItem"]
    assert catalogs.syncs() == [[("ADD", "s1")]]
    # And when it comes a third time, now with a new sync behind it (a group of two: coalesced)
    catalogs.stack.sqs.change_message_visibility(
        QueueUrl=catalogs.queue_url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    catalogs.send(add("s2"), idempotencyKey="s2")
    result = catalogs.run()
    # Then the group's claims found its record applied (one record, whichever path wrote it): only the new
    # sync is sent, and nothing is dead-lettered
    assert (result["received"], result["batchItemFailures"]) == (2, [])
    assert catalogs.syncs() == [[("ADD", "s1")], [("ADD", "s2")]]
    assert catalogs.dead_letters() == []


def test_a_message_applied_in_a_group_delivered_again_alone_is_answered_from_its_record(
    catalogs: Catalogs,
) -> None:
    # Given two syncs applied as one coalesced request (their records written by the group's BatchWriteItem)
    catalogs.send(add("v1"), idempotencyKey="v1")
    catalogs.send(add("v2"), idempotencyKey="v2")
    _, event = catalogs.received()
    assert catalogs.handler(event, LambdaContext())["batchItemFailures"] == []
    # When the second comes again alone (a group of one: sent as any queued message is)
    assert catalogs.handler({"Records": event["Records"][1:]}, LambdaContext())["batchItemFailures"] == []
    # Then its claim found the group's record applied: not sent again (an ADD twice would be refused)
    assert catalogs.syncs() == [[("ADD", "v1"), ("ADD", "v2")]]
    assert catalogs.dead_letters() == []


def test_a_message_alone_whose_key_a_groups_claim_holds_is_handed_back_untried(catalogs: Catalogs) -> None:
    # Given w1's key claimed by a group's claim in another invocation, still in progress
    entry = idempotency_batch.Entry(OP.name, "w1", payload_of(add("w1")))
    assert idempotency_batch.claim(Container(), [entry], context=LambdaContext()) == [idempotency_batch.CLAIMED]
    # When w1 comes alone
    held = catalogs.send(add("w1"), idempotencyKey="w1")
    result = catalogs.run()
    # Then it is handed back for later, neither sent nor dead-lettered
    assert [item["itemIdentifier"] for item in result["batchItemFailures"]] == [held]
    assert catalogs.syncs() == [] and catalogs.dead_letters() == []


def test_with_the_table_unavailable_nothing_is_sent_and_the_group_comes_back_in_order(
    catalogs: Catalogs, monkeypatch: pytest.MonkeyPatch, load_handler: Any
) -> None:
    # Given syncs queued, and the function's idempotency table missing (its claims cannot be written)
    ids = [catalogs.send(add(f"u{n}"), idempotencyKey=f"u{n}") for n in range(3)]
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "no-such-table")
    reset_handlers()
    catalogs.handler = load_handler("sync_catalog")
    # When the batch is taken
    result = catalogs.run()
    # Then nothing reached Talon.One, and every message is handed back (none dead-lettered)
    assert catalogs.syncs() == []
    assert [item["itemIdentifier"] for item in result["batchItemFailures"]] == ids
    assert catalogs.dead_letters() == []
