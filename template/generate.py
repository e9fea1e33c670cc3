"""Write what the operation table makes, besides template.yaml and checkers.json (`make generate`).

    python -m template.generate           write the functions' handler modules and the sample events
    python -m template.generate --check   exit 1 when one differs from what the table makes (`make lint`)

For each entry of talon_relay.operations.OPERATIONS:

- `functions/<function>/<function>.py`: the three-line handler module, its docstring from the entry;
- `events/<function>/api.json`, `sqs.json` (none for an entry without a queue, a GET; and `schedule.json`,
  `schedule_ids.json` for the entry the off-peak schedule drains): its sample events (template/samples.py).
  A webhook receiver's samples are its platform's signed webhooks, written by hand (`payloads/` one per
  topic); only their presence is checked here.

A handler module or sample file of no entry (an entry renamed or removed), or a sample an entry no longer
has (the `sqs.json` of an entry without a queue), is stale: `--check` names it, a write removes it.
`make generate` also renders template.yaml (`make template`) and writes checkers.json (`make checkers`);
`make lint` checks all of them.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from talon_relay.operations import OPERATIONS, Operation
from template import samples

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
EVENTS = ROOT / "events"
#: The sample files a webhook receiver's folder must hold (written by hand).
WEBHOOK_SAMPLES = ("api.json", "sqs.json")
#: The sample files this script writes (what a stale folder may hold of them).
GENERATED_SAMPLES = ("api.json", "sqs.json", "schedule.json", "schedule_ids.json")


#: Receivers whose platform's webhooks map to no operation: what the function is and what its queue does
#: (the others map each topic by their mapping files).
UNMAPPED_RECEIVERS = {
    "talon_one": (
        "Lambda function receiving Talon.One's notifications and publishing them on the relay's event bus.",
        "API Gateway ({route}: the secret header checked, the notification queued, 200) and its own FIFO"
        " queue (each notification published on the bus once per X-UUID, then a loyalty balance or tier"
        " written back to the Shopify customer's metafields; docs/events.md).",
    ),
}


def _triggers(op: Operation) -> str:
    route = f"{op.method.upper()} {op.path}"
    if op.webhook in UNMAPPED_RECEIVERS:
        return UNMAPPED_RECEIVERS[op.webhook][1].format(route=route)
    if op.webhook is not None:
        return (
            f"API Gateway ({route}: the signature checked, the webhook queued, 200) and its own FIFO queue"
            f" (each webhook's topic mapped, by the files of talon_relay/webhooks/{op.webhook}/topics/, to the"
            " Integration API operations it names, run in order)."
        )
    if not op.queued:
        return f"API Gateway ({route}) only: a read is answered at once, it has no queue."
    other = "the off-peak schedule that drains its queue" if op.schedule else "SQS"
    return f"API Gateway ({route}) and {other}."


def handler_module(op: Operation) -> str:
    """The text of functions/<function>/<function>.py."""
    if op.webhook is None:
        what = f"Lambda function for Talon.One's {op.name}."
    elif op.webhook in UNMAPPED_RECEIVERS:
        what = UNMAPPED_RECEIVERS[op.webhook][0]
    else:
        what = (
            f"Lambda function receiving {op.webhook.capitalize()}'s webhooks and mapping them to Talon.One operations."
        )
    paragraphs = [
        what,
        "Triggers: " + _triggers(op),
        "Everything but the choice of entry lives in the talon_relay layer, shared by every function; the"
        " entry (route, models, queue) is in talon_relay.operations. Written by `make generate` from it:"
        " edit the table, not this file.",
    ]
    # a route ("POST /v2/...") is never broken between its method and its path: a reader greps for it
    keep = f"{op.method.upper()} {op.path}"
    glued = [text.replace(keep, keep.replace(" ", "\x00")) for text in paragraphs]
    docstring = "\n\n".join(textwrap.fill(text, width=104).replace("\x00", " ") for text in glued)
    code = f'from talon_relay.entry import lambda_handler\n\nhandler = lambda_handler("{op.name}")\n'
    return f'"""{docstring}\n"""\n\n{code}'


def expected_files(operations: list[Operation]) -> dict[Path, str]:
    """Every generated file, by path, with its text."""
    files: dict[Path, str] = {}
    for op in operations:
        files[FUNCTIONS / op.function / f"{op.function}.py"] = handler_module(op)
        for name, event in samples.samples(op).items():
            files[EVENTS / op.function / f"{name}.json"] = samples.dump(event)
    return files


def stale_files(operations: list[Operation]) -> list[Path]:
    """Generated files that belong to no entry, or that their entry no longer makes."""
    folders = {op.function for op in operations}
    expected = expected_files(operations)
    # a webhook receiver's api.json and sqs.json are written by hand
    by_hand = {op.function for op in operations if op.webhook is not None}
    found = [
        path
        for path in sorted(FUNCTIONS.glob("*/*.py"))
        if path.parent.name not in folders and path.stem == path.parent.name
    ]
    found += [
        path
        for path in sorted(EVENTS.glob("*/*.json"))
        if path.name in GENERATED_SAMPLES
        and (path.parent.name not in folders or (path.parent.name not in by_hand and path not in expected))
    ]
    return found


def problems(operations: list[Operation]) -> list[str]:
    """What differs from what the table makes, one line each (empty: all up to date)."""
    found = []
    for path, text in expected_files(operations).items():
        if not path.exists():
            found.append(f"{path.relative_to(ROOT)}: missing")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{path.relative_to(ROOT)}: differs from what the table makes")
    found += [f"{path.relative_to(ROOT)}: stale (no entry has this function)" for path in stale_files(operations)]
    for op in operations:
        if op.webhook is not None:
            found += [
                f"events/{op.function}/{name}: missing (a webhook receiver's samples are written by hand)"
                for name in WEBHOOK_SAMPLES
                if not (EVENTS / op.function / name).is_file()
            ]
    return found


def write(operations: list[Operation]) -> list[Path]:
    """Write every generated file that differs, remove stale ones; the paths changed."""
    changed = []
    for path, text in expected_files(operations).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in stale_files(operations):
        path.unlink()
        changed.append(path)
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m template.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated file differs from the table")
    args = parser.parse_args(argv)
    operations = list(OPERATIONS.values())
    if args.check:
        found = problems(operations)
        if found:
            sys.stderr.write(
                "\n".join(found) + "\n\nrun `make generate` (and commit the result): edit the"
                " operation table or the request models' examples, never these files.\n"
            )
            return 1
        return 0
    for path in write(operations):
        print(f"{'removed' if not path.exists() else 'wrote'} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
