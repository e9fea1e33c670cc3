"""The warm rows' figure without DynamoDB (bench/child_warm.py): each case that reaches DynamoDB is measured a second
time with DynamoDB's answers replayed at urllib3's door (bench/door.py), the Talon.One call still real; a replay
that took another path than the measured calls fails the child, naming the difference."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from bench import child_warm, door
from bench.events import OPS
from bench.harness import one_function
from bench.run import measure_warm, overhead_ns
from tests.unit.test_bench_ab import fresh_moto, runtime  # noqa: F401 - the bench's fixtures


class Pool:
    """What the door reads of urllib3's connection pool."""

    host, port = "127.0.0.1", 4566


def update_item(key: str, condition: str = "attribute_not_exists(id)") -> dict[str, Any]:
    """A DynamoDB UpdateItem request as the relay's table client sends it (one call site, one key)."""
    body = {
        "TableName": "t",
        "Key": {"id": {"S": key}},
        "UpdateExpression": "SET s = :s",
        "ConditionExpression": condition,
    }
    return {"body": json.dumps(body).encode(), "headers": {"X-Amz-Target": "DynamoDB_20120810.UpdateItem"}}


def answer(status: int, body: bytes) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(body=body, status=status, headers={"Content-Type": "application/x-amz-json-1.0"})


def test_one_call_site_is_one_request_kind_whatever_its_key_and_another_site_is_another() -> None:
    # Given two claims of different records from one call site, and a request with another condition
    first, second = (
        door.key_of(Pool(), "POST", "/", (), update_item("a")),
        door.key_of(Pool(), "POST", "/", (), update_item("b")),
    )
    other = door.key_of(Pool(), "POST", "/", (), update_item("a", condition="attribute_exists(id)"))
    # Then the two claims are one kind, the other request another, and it is labelled by DynamoDB's operation
    assert first == second and other != first
    assert door.label(first) == "dynamodb.UpdateItem"


def test_a_recorded_answer_is_replayed_whole_as_a_new_response_each_time() -> None:
    # Given a recorded answer of one kind
    recordings, key = door.Recordings(), door.key_of(Pool(), "POST", "/", (), update_item("a"))
    recordings.record(key, answer(200, b'{"Attributes":{}}'))
    # When it is replayed twice, then each is a response of its own with the status and the whole body
    one, two = recordings.replay(key, "POST"), recordings.replay(key, "POST")
    assert one is not None and two is not None and one is not two
    assert (one.status, one.data, two.data) == (200, b'{"Attributes":{}}', b'{"Attributes":{}}')
    # And a kind never recorded has nothing to replay
    assert recordings.replay(door.key_of(Pool(), "GET", "/other", (), {}), "GET") is None


def test_a_kind_answered_two_ways_while_recording_is_named_as_not_replayable() -> None:
    # Given a claim answered once and refused once (its condition failed) while recording
    recordings, key = door.Recordings(), door.key_of(Pool(), "POST", "/", (), update_item("a"))
    recordings.record(key, answer(200, b"{}"))
    recordings.record(key, answer(400, b'{"__type":"ConditionalCheckFailedException"}'))
    # Then it is named with both statuses
    assert list(recordings.twice().values()) == [[200, 400]]


def calls(talon: int, dynamodb: int, n: int = 4) -> list[tuple[int, int, int, int, int]]:
    """`n` measured calls as child_warm's relay_call reports them: time, DynamoDB time and calls, door, Talon.One."""
    return [(500_000, 0, dynamodb, 40_000, talon)] * n


def test_a_replay_that_skips_the_talon_one_call_fails_the_child_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a case whose measured calls each made 2 DynamoDB calls and 1 Talon.One call
    monkeypatch.setattr(child_warm.AWS, "recordings", door.Recordings())
    measured_dynamodb, measured_talon = [2] * 4, [1] * 4

    # When, replayed, its calls reach Talon.One no more (a replayed answer sent them down another path)
    def measure(first: int) -> tuple[list[int], list[tuple[int, int, int, int, int]]]:
        return [400_000] * 4, calls(talon=0, dynamodb=2)

    # Then the child stops, naming what differs
    with pytest.raises(SystemExit, match=r"Talon\.One calls per call were \[0\] \(0 in all\) against \[1\] \(4\)"):
        child_warm.replayed(
            {"name": "sqs"}, measure, lambda n: calls(1, 2, 1)[0], 10, measured_dynamodb, measured_talon
        )
    # And the door is closed again: the next case is measured against the real servers
    assert child_warm.AWS.replaying is False


def test_a_replay_of_the_same_path_reports_the_handler_without_the_door_beside_raw_urllib3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a case measured with 2 DynamoDB calls and 1 Talon.One call each, replayed the same way
    monkeypatch.setattr(child_warm.AWS, "recordings", door.Recordings())

    def measure(first: int) -> tuple[list[int], list[tuple[int, int, int, int, int]]]:
        return [400_000] * 4, calls(talon=1, dynamodb=2)

    # When it is measured replayed
    result = child_warm.replayed({"name": "sqs"}, measure, lambda n: calls(1, 2, 1)[0], 10, [2] * 4, [1] * 4)
    # Then its figure is the handler's time less the door's, against raw urllib3's in the same calls
    assert result == {"handler_ns": 500_000, "raw_ns": 400_000, "handler_without_door_ns": 460_000, "door_ns": 40_000}


@pytest.mark.slow
@pytest.mark.usefixtures("runtime", "fresh_moto")
def test_a_queued_record_and_a_signed_call_are_measured_again_with_dynamodb_replayed() -> None:
    # Given a function as the bench runs it (python3.13, the built layer, moto, the stand-in, the extension)
    op = OPS["delete_coupon_reservation"]
    with one_function(op) as setup:
        # When its warm rows are measured, a few calls of each trigger
        rows, measured = measure_warm(setup, [op], warmup=3, calls=6, rounds=1)
    # Then each case that reached DynamoDB was measured again with its answers replayed (the door's own time
    # apart), and its row is judged on that figure, shown beside the measured time less the round trips
    for name in ("api", "sqs"):
        case = measured[op.folder][name]
        assert case["dynamodb_calls"] >= 1
        replayed = case["replayed"]
        assert replayed["door_ns"] > 0 and replayed["handler_without_door_ns"] < replayed["handler_ns"]
        assert overhead_ns(case) == replayed["handler_without_door_ns"] - replayed["raw_ns"]
    assert all("without them (answered in-process)" in row.cells()[2] for row in rows)
