"""moto parses each distinct expression once (local/aws.py `patch_expression_parsing`), and answers as it did.

A speed patch, not a behaviour patch: the relay's own DynamoDB requests (group claims in a transaction, one
record's claim with signatures, completions, releases, ordering records, used signatures, conditions that
fail) are recorded as the relay sends them, then sent again to a new table by moto without the patch and
with it (its parses kept from before): every answer, every refusal and the table afterwards are the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.aws import create_relay_table, local_client
from talon_relay.aws import idempotency, idempotency_batch
from talon_relay.aws.idempotency_batch import Entry
from talon_relay.aws.store import Store, error_code
from talon_relay.container import Container
from talon_relay.errors import Unauthenticated
from tests.support import LambdaContext

Call = tuple[str, dict[str, Any]]


class Recording:
    """A DynamoDB client that sends each request to moto and keeps it (the method's name and arguments)."""

    def __init__(self, client: Any, calls: list[Call]) -> None:
        self._client, self._calls = client, calls

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def send(**kwargs: Any) -> Any:
            self._calls.append((name, kwargs))
            return getattr(self._client, name)(**kwargs)

        return send


class RecordingStore(Store):
    """The relay's table, its requests kept (`calls`)."""

    def __init__(self, container: Container, table: str, client: Any) -> None:
        super().__init__(container, table, owner="fn")
        self.calls: list[Call] = []
        self._recording = Recording(client, self.calls)

    @property
    def client(self) -> Any:
        return self._recording


def new_table(dynamodb: Any, name: str | None = None) -> str:
    return create_relay_table(dynamodb, name or f"relay-{uuid.uuid4().hex[:8]}")


def outcome(dynamodb: Any, name: str, kwargs: dict[str, Any]) -> Any:
    """moto's answer to one request (without its metadata), or the error it names with what it says."""
    try:
        answer = getattr(dynamodb, name)(**kwargs)
    except dynamodb.exceptions.ClientError as exc:
        return {
            "error": error_code(exc),
            "item": exc.response.get("Item"),
            "reasons": exc.response.get("CancellationReasons"),
        }
    answer.pop("ResponseMetadata", None)
    return answer


def replay(dynamodb: Any, calls: list[Call]) -> tuple[list[Any], list[Any]]:
    """The calls sent again to a new table (of one name: moto's answers name it): each one's outcome, and the
    table's items afterwards."""
    table = new_table(dynamodb, "relay-replayed")
    try:
        outcomes = [outcome(dynamodb, name, {**kwargs, **with_table(kwargs, table)}) for name, kwargs in calls]
        items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    finally:
        dynamodb.delete_table(TableName=table)
    return outcomes, sorted(items, key=lambda item: str(item["id"]))


def with_table(kwargs: dict[str, Any], table: str) -> dict[str, Any]:
    """The same request's arguments naming `table` (a transaction names it per item, a batch as its key)."""
    if "TableName" in kwargs:
        return {"TableName": table}
    if "TransactItems" in kwargs:
        items = [{kind: {**op, "TableName": table} for kind, op in item.items()} for item in kwargs["TransactItems"]]
        return {"TransactItems": items}
    ((_, writes),) = kwargs["RequestItems"].items()
    return {"RequestItems": {table: writes}}


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Iterator[Any]:
    client = local_client("dynamodb", moto_endpoint)
    yield client
    client.close()


@pytest.fixture
def relay_calls(dynamodb: Any, container: Container, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Call], list[Any]]:
    """Given the relay's requests to its table while it claims, completes and releases records (one group
    and one at a time, a replay and a reused key among them), keeps ordering records and used signatures;
    and what moto answered them, with the patch."""
    monkeypatch.setenv("TALON_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:talon")
    table = RecordingStore(container, new_table(dynamodb), dynamodb)
    monkeypatch.setattr(idempotency_batch, "store", lambda _container: table)
    entries = [Entry("syncCatalog", f"k{n}", {"sku": f"s{n}"}) for n in range(4)]
    # a group claimed in one transaction, its outcomes in one batch (one applied, one released)
    assert idempotency_batch.claim(container, entries[:3], context=LambdaContext()) == ["claimed"] * 3
    idempotency_batch.finish(container, applied=[(entries[0], '{"id": 1}')], released=[entries[2]])
    # claimed again with a reused key: cancelled (a replay, a record in progress, a reused key), the rest again
    reused = Entry("syncCatalog", "k1", {"sku": "other"})
    again = idempotency_batch.claim(container, [entries[0], entries[2], entries[3], reused], context=LambdaContext())
    assert again[:3] == ["replay", "claimed", "claimed"]
    # one record with a caller's signature: claimed, the same signature refused, completed, another released
    record = idempotency._Record(table, "fn.one#a", "hash-a", ("sig-1",))
    assert record.claim(expires=2_000_000_000, in_progress_ms=None) is None
    with pytest.raises(Unauthenticated, match="used before"):
        record.add_signatures()
    record.complete('{"id": 2}', expires=2_000_000_000)
    other = idempotency._Record(table, "fn.one#b", "hash-b", ("sig-2",))
    other.claim(expires=2_000_000_000, in_progress_ms=1)
    other.release()
    # a customer's ordering record: forward, not backward, a hole marked and settled
    ordering = table.ordering_id("updateCustomerSession", "c1")
    table.record_position(ordering, "0002", message_id="m2", expires=2_000_000_000)
    table.record_position(ordering, "0001", message_id="m1", expires=2_000_000_000)
    table.mark_hole(ordering, "0003", expires=2_000_000_000)
    table.settle(ordering, "0001", done=frozenset({"0003"}), message_id="m1", expires=2_000_000_000)
    table.settle(ordering, "0004", done=frozenset(), message_id="m4", expires=2_000_000_000)
    # a used signature, and the same once more (refused)
    assert table.remember_signature("r1", expires=2_000_000_000, now=1_900_000_000)
    assert not table.remember_signature("r1", expires=2_000_000_000, now=1_900_000_000)
    return table.calls, replay(dynamodb, table.calls)[0]


def test_moto_answers_the_relays_requests_with_its_parses_kept_as_it_does_without(
    dynamodb: Any, relay_calls: tuple[list[Call], list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing import expressions

    parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]  # moto's untyped parser

    calls, patched = relay_calls
    names = {name for name, _ in calls}
    assert {"transact_write_items", "batch_write_item", "update_item", "put_item"} <= names
    # Given moto's parses kept (the same text parsed twice is one tree)
    text = "SET #status = :inprogress REMOVE #data"
    assert parser.make(text) is parser.make(text)
    kept_again = replay(dynamodb, calls)
    # When the same requests go to moto as it is, without the patch
    for owner, name, original in parser._talon_relay_unpatched:
        monkeypatch.setattr(owner, name, original)
    assert parser.make(text) is not parser.make(text)
    unpatched = replay(dynamodb, calls)
    # Then every answer, refusal and item is the same, conditions that failed included
    assert kept_again == unpatched
    assert patched == unpatched[0]
    errors = [answer["error"] for answer in unpatched[0] if "error" in answer]
    assert errors.count("ConditionalCheckFailedException") >= 3
    assert "TransactionCanceledException" in errors


@pytest.mark.parametrize(
    "update",
    [
        "SET a = :a SET b = :a",  # two SET clauses
        "SET a = :a REMOVE a",  # one path twice
        "SET a = :a,",  # not an expression
    ],
)
def test_moto_refuses_the_updates_it_refused_with_its_parses_kept(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, update: str
) -> None:
    from moto.dynamodb.parsing import expressions

    parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]  # moto's untyped parser
    request = {
        "TableName": "relay",
        "Key": {"id": {"S": "k"}},
        "UpdateExpression": update,
        "ExpressionAttributeValues": {":a": {"S": "v"}},
    }
    # Given an update moto refuses, sent twice with its parses kept (the second finds them kept, if any)
    calls: list[Call] = [("update_item", request), ("update_item", request)]
    patched = replay(dynamodb, calls)
    # When it is sent to moto as it is
    for owner, name, original in parser._talon_relay_unpatched:
        monkeypatch.setattr(owner, name, original)
    unpatched = replay(dynamodb, calls)
    # Then moto refuses it the same way, each time, and writes nothing
    assert patched == unpatched
    assert all(answer.get("error") == "ValidationException" for answer in unpatched[0])
    assert unpatched[1] == []
