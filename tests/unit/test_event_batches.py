"""aws/events.py: entries in PutEvents calls of at most 10 and 256 KB, partial failures retried, then refused."""

from __future__ import annotations

import json
from typing import Any

from talon_relay.aws import events


def entry(n: int, size: int = 10) -> dict[str, Any]:
    return {
        "Source": "talon-relay.effects",
        "DetailType": "setDiscount",
        "Detail": json.dumps({"id": f"e{n}", "x": "a" * size}),
    }


class FlakyEvents:
    """A PutEvents that fails the entries named in `fail` for `times` calls, as EventBridge reports it."""

    def __init__(self, fail: set[str], times: int) -> None:
        self.fail, self.times, self.calls = fail, times, []  # type: ignore[var-annotated]

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([json.loads(e["Detail"])["id"] for e in Entries])
        failing = self.times > 0
        self.times -= 1
        results = []
        for e in Entries:
            if failing and json.loads(e["Detail"])["id"] in self.fail:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": "x"})
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


class Box:
    def __init__(self, client: Any) -> None:
        self.client = client

    def aws(self, service: str) -> Any:
        assert service == "events"
        return self.client


def test_entries_go_in_calls_of_ten_and_256_kb() -> None:
    calls, refused = events.batches([entry(n) for n in range(23)])
    assert [len(call) for call in calls] == [10, 10, 3]
    big = [entry(n, 100_000) for n in range(5)]
    calls, refused = events.batches(big)
    assert [len(call) for call in calls] == [2, 2, 1]
    calls, refused = events.batches([entry(0, 300_000)])
    assert calls == [] and "PutEvents takes" in refused[0].reason


def test_only_the_failed_entries_are_sent_again() -> None:
    client = FlakyEvents({"e1"}, times=1)
    pauses: list[float] = []
    refused = events.put(Box(client), [entry(n) for n in range(3)], sleep=pauses.append)  # type: ignore[arg-type]
    assert refused == []
    assert client.calls == [["e0", "e1", "e2"], ["e1"]]
    assert pauses == [events.RETRY_PAUSE_SECONDS]


def test_what_still_fails_after_the_attempts_is_refused_with_its_reason() -> None:
    client = FlakyEvents({"e2"}, times=99)
    refused = events.put(Box(client), [entry(n) for n in range(3)], sleep=lambda _: None)  # type: ignore[arg-type]
    assert len(client.calls) == events.ATTEMPTS
    assert [json.loads(r.entry["Detail"])["id"] for r in refused] == ["e2"]
    assert refused[0].reason == "InternalFailure: try again"


class ShortAnswer:
    """A PutEvents answering fewer results than entries (EventBridge promises one each; a proxy, a stub or a
    truncated answer may not keep that promise)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([json.loads(e["Detail"])["id"] for e in Entries])
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}] if len(self.calls) == 1 else []}


def test_an_entry_the_answer_says_nothing_of_is_not_taken_for_published() -> None:
    # Given a PutEvents answer that names a result for the first entry only
    client = ShortAnswer()
    # When three entries are put
    refused = events.put(Box(client), [entry(n) for n in range(3)], sleep=lambda _: None)  # type: ignore[arg-type]
    # Then the two it said nothing of are sent again, and, never confirmed, refused with the reason (dead-lettered)
    assert client.calls[:2] == [["e0", "e1", "e2"], ["e1", "e2"]]
    assert [json.loads(r.entry["Detail"])["id"] for r in refused] == ["e1", "e2"]
    assert "no result" in refused[0].reason
