"""bench/ab.py --cpu: the relay's own CPU per API call or queued record, every answer replayed at the door.

Runs the bench as a developer does (python3.13, the built layer, bench/.venv-runtime, moto, the stand-in,
the extension on 127.0.0.1), one round of a few calls per side: it must report figures and fail loudly
when a call is answered otherwise than it should be, or a record does not do the full work.
"""

from __future__ import annotations

import fcntl
import json
import re
from typing import Any

import pytest
import urllib3

from bench import ab, events, infra


@pytest.fixture
def fresh_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's state is this process's (one per `python -m bench.ab`): reset when the bench stops its server,
    so the next run in this test process creates its secrets and queues anew."""
    stop = infra.LocalAws.stop

    def reset_then_stop(self: infra.LocalAws) -> None:
        urllib3.request("POST", f"{self.url}/moto-api/reset")
        stop(self)

    monkeypatch.setattr(infra.LocalAws, "stop", reset_then_stop)


@pytest.fixture(scope="module")
def runtime() -> None:
    """The bench's own resources: a python3.13, the built layer, and the runtime venv (made here as `make bench`
    makes it, from the package index, when a fresh clone has none)."""
    try:
        python = infra.runtime_python()
    except infra.BenchError as exc:
        pytest.skip(f"no python3.13 to run the bench with: {exc}")
    if not infra.LAYER_BYTECODE.is_file():
        pytest.skip("no built layer with python3.13 bytecode (.aws-sam/build: `make build`)")
    with open(infra.ROOT / "bench" / ".venv-runtime.lock", "w") as lock:  # one maker at a time (pytest-xdist)
        fcntl.flock(lock, fcntl.LOCK_EX)
        infra.ensure_runtime_venv(python)


ARGS = ["sync_catalog", "--cpu", "--trigger", "sqs", "--old", "HEAD", "--rounds", "1", "--calls", "4", "--warmup", "2"]


@pytest.mark.slow
@pytest.mark.usefixtures("runtime", "fresh_moto")
def test_a_queued_record_s_cpu_is_reported_per_side_with_its_door_calls_and_log_bytes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given sync_catalog's one-record SQS event, old (HEAD) and new (the working tree) one round each

    # When the bench measures it with every answer replayed at the door
    assert ab.main(ARGS) == 0

    # Then each side has a CPU figure per record, and its round's new-minus-old
    out = capsys.readouterr().out
    figure = re.search(r"CPU time, lower quartile per record \(door apart\): old ([\d.,]+) us, new ([\d.,]+) us", out)
    assert figure is not None, out
    assert float(figure[1].replace(",", "")) > 0 and float(figure[2].replace(",", "")) > 0
    assert re.search(r"new-old \[[-\d.]+\]", out), out
    # And every record did the full work (batches answered without failures: else the bench raises):
    # the claim, the Talon.One call and the completion, and wrote its log lines
    for side in ("old", "new"):
        line = re.search(rf"{side}: ([\d.]+) door calls per record .*?, ([\d,]+) log bytes per record: (.*)", out)
        assert line is not None, out
        assert float(line[1]) >= 3 and int(line[2].replace(",", "")) > 0
        assert "PUT /v1/catalogs/1/sync 1" in line[3] and "dynamodb.UpdateItem 1" in line[3]


@pytest.mark.slow
@pytest.mark.usefixtures("runtime", "fresh_moto")
def test_a_record_that_does_not_reach_talon_one_fails_the_bench_naming_why(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a queued catalog sync whose message has no body: the relay dead-letters it, calling nobody
    sample = events.load_event

    def without_body(folder: str, name: str) -> dict[str, Any]:
        event = sample(folder, name)
        if name == "sqs":
            for record in event["Records"]:
                message = json.loads(record["body"])
                message.pop("body", None)
                record["body"] = json.dumps(message)
        return event

    monkeypatch.setattr(events, "load_event", without_body)

    # When the bench measures it
    with pytest.raises(infra.BenchError) as failure:
        ab.main(ARGS)

    # Then it fails loudly, saying the record made no Talon.One call and what the handler logged
    assert "no Talon.One call" in str(failure.value)
    assert "logged:" in str(failure.value) and "dead-letter" in str(failure.value)


API_ARGS = ["--cpu", "--old", "HEAD", "--rounds", "1", "--calls", "4", "--warmup", "2"]


@pytest.mark.slow
@pytest.mark.usefixtures("runtime", "fresh_moto")
def test_an_api_call_s_cpu_is_reported_per_side_with_its_door_calls_a_cached_read_s_without_talon_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a session update's signed API event, and a read the read cache keeps (its first call a miss),
    # old (HEAD) and new (the working tree) one round each
    functions = ["update_customer_session_v2", "get_customer_inventory"]

    # When the bench measures them with every answer replayed at the door
    assert ab.main([*functions, *API_ARGS]) == 0

    # Then each side has a CPU figure per call for each function
    out = capsys.readouterr().out
    for function in functions:
        figure = re.search(
            rf"{function} api, relay CPU time, lower quartile per call \(door apart\): "
            r"old ([\d.,]+) us, new ([\d.,]+) us",
            out,
        )
        assert figure is not None, out
        assert float(figure[1].replace(",", "")) > 0 and float(figure[2].replace(",", "")) > 0
    # And its door calls per call: the signature's replay write and the Talon.One call for the update; the
    # replay write alone for the read, answered from the cache (not failed for calling no Talon.One)
    for side in ("old", "new"):
        lines = re.findall(rf"{side}: ([\d.]+) door calls per call .*?, ([\d,]+) log bytes per call: (.*)", out)
        assert [(calls, by_kind) for calls, _, by_kind in lines] == [
            ("2", "dynamodb.PutItem 1, PUT /v2/customer_sessions/s-1 1"),
            ("1", "dynamodb.PutItem 1"),
        ], out
        assert all(int(log_bytes.replace(",", "")) > 0 for _, log_bytes, _ in lines)


@pytest.mark.slow
@pytest.mark.usefixtures("runtime", "fresh_moto")
def test_an_api_call_answered_with_an_unexpected_status_fails_the_bench_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a session update whose body is not JSON: the relay answers 400, calling nobody
    sample = events.load_event

    def not_json(folder: str, name: str) -> dict[str, Any]:
        event = sample(folder, name)
        if name == "api":
            event["body"] = "{not json"
        return event

    monkeypatch.setattr(events, "load_event", not_json)

    # When the bench measures it
    with pytest.raises(infra.BenchError) as failure:
        ab.main(["update_customer_session_v2", *API_ARGS])

    # Then it fails loudly, naming the call, its answer's status and what the handler logged
    assert "cpu child (update_customer_session_v2, api) failed" in str(failure.value)
    assert "handler answered" in str(failure.value) and '"statusCode": 400' in str(failure.value)
    assert "logged:" in str(failure.value)
