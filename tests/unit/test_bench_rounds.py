"""The warm rows (bench/run.py): a row is its median round, one process's figures, every round shown; it is judged
on the overhead measured with DynamoDB's answers replayed, and shows the measured time less the round trips beside."""

from __future__ import annotations

from typing import Any

from bench.events import OPS
from bench.run import _warm_row, median_round


def case(
    overhead_us: float, *, round_: int, dynamodb_us: float = 1500.0, replayed_us: float | None = None
) -> dict[str, Any]:
    """One round's medians of a case, as child_warm reports them, with an overhead less the DynamoDB round trips
    and, when given, the overhead measured with DynamoDB's answers replayed (raw urllib3 a little slower then)."""
    raw = 400_000.0
    measured: dict[str, Any] = {
        "handler_ns": raw + (overhead_us + dynamodb_us) * 1e3,
        "raw_ns": raw,
        "handler_without_dynamodb_ns": raw + overhead_us * 1e3,
        "dynamodb_ns": dynamodb_us * 1e3,
        "dynamodb_calls": 1.0,
        "round": round_,
    }
    if replayed_us is not None:
        measured["replayed"] = {
            "handler_ns": raw + 10_000 + replayed_us * 1e3 + 40_000,
            "raw_ns": raw + 10_000,
            "handler_without_door_ns": raw + 10_000 + replayed_us * 1e3,
            "door_ns": 40_000,
        }
    return measured


def test_a_row_is_its_median_round_whole_and_shows_every_round_in_the_order_they_ran() -> None:
    # Given three rounds of one case, the first on a slow spell of the machine
    rounds = [case(512, round_=1), case(287, round_=2), case(301, round_=3)]
    # When the rounds are combined
    chosen = median_round(rounds)
    # Then the row is the median round's, every figure of that one process (not a mix of rounds)
    assert chosen["round"] == 3
    assert chosen["handler_ns"] == rounds[2]["handler_ns"] and chosen["dynamodb_ns"] == rounds[2]["dynamodb_ns"]
    # And every round's overhead is kept, in the order the rounds ran, and shown in the row beside its verdict
    assert chosen["rounds_ns"] == [512_000, 287_000, 301_000]
    row = _warm_row(OPS["track_event"], "API event, signed", chosen)
    assert "less them +301 us; rounds +512 / +287 / +301 us" in row.cells()[2]
    assert row.cells()[-1] == "FAIL"


def test_of_an_even_count_of_rounds_the_higher_middle_one_is_taken() -> None:
    # Given two rounds (an even count: no single middle one)
    rounds = [case(250, round_=1), case(310, round_=2)]
    # When combined, then the higher of the two middle ones is the row: never the easier figure of a pair
    assert median_round(rounds)["round"] == 2


def test_one_round_is_shown_as_it_was_measured() -> None:
    # Given a single round (--warm-rounds 1)
    chosen = median_round([case(280, round_=1)])
    # Then the row shows no rounds beside its figure, and passes on it
    row = _warm_row(OPS["track_event"], "API event, signed", chosen)
    assert "rounds" not in row.cells()[2] and row.cells()[-1] == "PASS"


def test_a_row_with_dynamodb_replayed_is_judged_on_that_figure_and_shows_the_round_trips_less_beside_it() -> None:
    # Given a queued record's case: +480 us over raw urllib3 once its round trips' time is taken off (their
    # waits still slowing the code after them), +240 us measured with DynamoDB's answers replayed in-process
    measured = case(480, round_=1, dynamodb_us=5000, replayed_us=240)
    # When its row is made
    row = _warm_row(OPS["track_event"], "SQS, 1 record", median_round([measured]))
    # Then both figures are in it, and the verdict is on the replayed one (raw urllib3 of the same calls)
    assert "less them +480 us, without them (answered in-process) +240 us" in row.cells()[2]
    assert row.cells()[-1] == "PASS"
    # And over the limit that way, it fails whatever the other figure says
    over = _warm_row(OPS["track_event"], "SQS, 1 record", case(250, round_=1, replayed_us=320))
    assert over.cells()[-1] == "FAIL"


def test_the_median_round_is_chosen_on_the_replayed_figure_when_there_is_one() -> None:
    # Given three rounds whose two figures disagree on the order
    rounds = [
        case(700, round_=1, replayed_us=200),
        case(400, round_=2, replayed_us=290),
        case(500, round_=3, replayed_us=250),
    ]
    # When combined, then the round of the median replayed figure is the row, and those are the rounds shown
    chosen = median_round(rounds)
    assert chosen["round"] == 3
    assert chosen["rounds_ns"] == [200_000, 290_000, 250_000]


def test_a_coalesced_batch_is_judged_per_call_and_shows_its_overhead_per_message_too() -> None:
    # Given a batch of 10 messages coalesced into one call, +950 us over one raw call with DynamoDB replayed
    measured = case(1400, round_=1, dynamodb_us=15000, replayed_us=950)
    # When its row is made
    row = _warm_row(OPS["sync_catalog"], "SQS batch of 10", median_round([measured]), messages=10)
    # Then it shows +95 us per message, and is judged on the call's +950 us
    assert "without them (answered in-process) +950 us (+95 us per message)" in row.cells()[2]
    assert row.cells()[-1] == "FAIL"
