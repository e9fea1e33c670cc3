"""`make generate`: the handler modules and sample events are what the operation table makes, and a
file that differs, is missing or belongs to no entry is named by `--check` (what `make lint` runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from talon_relay.operations import OPERATIONS, Contract, Operation
from template import generate, samples
from tests.template.helpers import TABLE, ops

ROOT = generate.ROOT


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """functions/ and events/ copied to tmp_path, the generator pointed at the copy."""
    for folder in ("functions", "events"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    monkeypatch.setattr(generate, "FUNCTIONS", tmp_path / "functions")
    monkeypatch.setattr(generate, "EVENTS", tmp_path / "events")
    return tmp_path


def test_committed_files_are_what_the_table_makes() -> None:
    # Given the committed functions/ and events/, and what the table makes
    # Then nothing differs, nothing is missing, nothing is stale
    assert generate.problems(list(OPERATIONS.values())) == []


@ops
def test_each_entry_has_its_handler_module_naming_it(op: Operation) -> None:
    # Given the entry's generated handler module
    text = (ROOT / "functions" / op.function / f"{op.function}.py").read_text()
    # Then it serves exactly this entry, and says what triggers it
    assert text.endswith(f'handler = lambda_handler("{op.name}")\n')
    assert f"{op.method.upper()} {op.path}" in text


def test_check_names_a_changed_a_missing_and_a_stale_file(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a sample edited by hand, a handler module deleted and the folders of an entry that is gone
    op = TABLE[0]
    (copy / "events" / op.function / "api.json").write_text("{}\n")
    (copy / "functions" / op.function / f"{op.function}.py").unlink()
    (copy / "functions" / "gone_operation").mkdir()
    (copy / "functions" / "gone_operation" / "gone_operation.py").write_text("")
    (copy / "events" / "gone_operation").mkdir()
    (copy / "events" / "gone_operation" / "sqs.json").write_text("{}")

    # When the generated files are checked
    status = generate.main(["--check"])

    # Then the check fails, naming each, and the command that fixes them
    err = capsys.readouterr().err
    assert status == 1
    assert f"events/{op.function}/api.json: differs" in err
    assert f"functions/{op.function}/{op.function}.py: missing" in err
    assert "functions/gone_operation/gone_operation.py: stale" in err
    assert "events/gone_operation/sqs.json: stale" in err
    assert "make generate" in err

    # And writing puts every file back and removes the stale ones, after which the check passes
    assert generate.main([]) == 0
    assert not (copy / "functions" / "gone_operation").exists()
    assert not (copy / "events" / "gone_operation").exists()
    assert generate.main(["--check"]) == 0


def test_an_entry_without_a_queue_has_no_sqs_sample(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an entry without a queue (a GET, or a read sent as POST) whose folder holds an SQS sample all the same
    unqueued = [op for op in TABLE if not op.queued]
    assert unqueued and all(op.method.upper() == "GET" or op.delivery.read for op in unqueued)
    op = unqueued[0]
    assert "sqs" not in samples.samples(op)
    stray = copy / "events" / op.function / "sqs.json"
    stray.write_text("{}\n")

    # Then the check names it stale, and writing removes it (its api.json stays)
    assert generate.main(["--check"]) == 1
    assert f"events/{op.function}/sqs.json: stale" in capsys.readouterr().err
    assert generate.main([]) == 0
    assert not stray.exists() and (copy / "events" / op.function / "api.json").is_file()
    assert generate.main(["--check"]) == 0


def test_a_webhook_receivers_hand_written_samples_must_be_there(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a webhook receiver whose sqs.json is gone (its samples are its platform's, written by hand)
    (receiver,) = [op for op in TABLE if op.webhook is not None][:1]
    (copy / "events" / receiver.function / "sqs.json").unlink()
    # Then the check names it
    assert generate.main(["--check"]) == 1
    assert f"events/{receiver.function}/sqs.json: missing" in capsys.readouterr().err


def test_a_body_model_without_examples_is_refused() -> None:
    # Given an entry whose request model has no sample bodies
    op = Operation(Contract(name="noExamples", method="PUT", path="/v2/x/{id}", body="wire.models_v2:CartItem"))
    # Then its samples cannot be made, and the error says what to add
    with pytest.raises(ValueError, match=r"CartItem needs sample bodies: model_config = examples"):
        samples.samples(op)


def test_a_path_parameter_without_example_is_named_after_its_resource() -> None:
    # Given an entry with no examples for its path parameters
    op = Operation(Contract(name="returnThings", method="POST", path="/v2/customer_sessions/{sessionId}/returns"))
    # Then each customer's sample id is the resource's first letter, numbered
    assert [samples.param_value(op, "sessionId", n) for n in (1, 2, 3)] == ["s-1", "s-2", "s-3"]
