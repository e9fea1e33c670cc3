"""The warm cost of publishing an answer's effects on the event bus (EffectsToEventBus, docs/events.md).

One function, one process, its API event answered with three effects (the rich stand-in), measured with
the variables EffectsToEventBus=enabled gives the function (EVENT_BUS_NAME, EVENTS_DEAD_LETTER_QUEUE_URL)
and without them, alternating with raw urllib3 as the warm rows do: the difference is the one `PutEvents`
call of three entries per invocation, here to moto's EventBridge on loopback (in AWS, a call to EventBridge
in the region instead). Its floor, measured after (not interleaved) in a process of the function's
environment: boto3's `PutEvents` of the same three entries alone (`child_putevents.py`); on loopback moto
nearly all of the added time is moto serving the call. The harness checks that every invocation published
(moto served one PutEvents of three entries each) and that nothing was dead-lettered.

Part of `make bench` (the "Publishing" row); alone, with the same setup and nothing else measured:
`.venv/bin/python -m bench.publishing [--warm-calls N] [--warmup N]` (prints its row).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import harness, report
from bench.events import OPS
from bench.harness import API_KEY, Setup, lambda_env, warm_cases
from bench.infra import BenchError, log
from bench.report import Row, ms, ratio

#: The function measured: a session update, whose answers carry effects.
FOLDER = "update_customer_session_v2"


class PutEventsCalls:
    """Counts the PutEvents calls moto serves in this process (the bench's moto is in-process), and their entries."""

    def __init__(self) -> None:
        self.calls = 0
        self.entries = 0
        self._original: Any = None

    def __enter__(self) -> PutEventsCalls:
        from moto.events.responses import EventsHandler

        self._original = original = EventsHandler.put_events

        def counted(handler: Any) -> Any:
            self.calls += 1
            self.entries += len(handler._get_param("Entries") or [])
            return original(handler)

        EventsHandler.put_events = counted  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.events.responses import EventsHandler

        EventsHandler.put_events = self._original  # type: ignore[method-assign]


def measure_publishing(setup: Setup, warmup: int, calls: int) -> list[Row]:
    """The warm row of FOLDER's API event, 3 effects, with EffectsToEventBus's variables and without."""
    from local.aws import local_client

    assert setup.standin is not None and setup.aws is not None
    op = OPS[FOLDER]
    events = local_client("events", setup.aws.url)
    bus = "bench-events"
    events.create_event_bus(Name=bus)
    dlq = setup.aws.create_queue("bench-events-dlq")
    (api_case,) = [case for case in warm_cases(op) if case["name"] == "api"]
    enabled = {**api_case, "name": "api_bus", "env": {"EVENT_BUS_NAME": bus, "EVENTS_DEAD_LETTER_QUEUE_URL": dlq}}
    spec = {
        "module": op.folder,
        "function_name": op.function_name,
        "url": setup.standin.rich_url,
        "api_key": API_KEY,
        "warmup": warmup,
        "calls": calls,
        "cases": [api_case, enabled],
        "no_replay": True,  # (the rows compare the handler's times as measured: no replay of DynamoDB wanted)
    }
    log(f"publishing: {op.folder} API event, 3 effects, with and without the bus ({warmup} + {calls} calls each)")
    with PutEventsCalls() as put:
        result, _ = setup.run_child("warm", spec, lambda_env(setup, op, secret_arn=setup.rich_secret))
    invocations = warmup + calls
    dead = local_client("sqs", setup.aws.url).get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    if put.calls != invocations or put.entries != 3 * invocations or dead != "0":
        raise BenchError(
            f"publishing: expected {invocations} PutEvents of 3 entries and no dead letter, moto served "
            f"{put.calls} calls of {put.entries} entries, {dead} dead-lettered"
        )
    # the floor: the same three entries put by boto3 alone, in a process of the function's environment
    entries = bus_entries(bus)
    floor, _ = setup.run_child(
        "putevents",
        {"entries": entries, "warmup": warmup, "calls": calls},
        lambda_env(setup, op, secret_arn=setup.rich_secret),
    )
    off, on = result["cases"]["api"], result["cases"]["api_bus"]
    added, put = on["handler_ns"] - off["handler_ns"], floor["put_ns"]
    return [
        Row(
            "Publishing",
            f"{op.folder} (API event, 3 effects), EffectsToEventBus=enabled: 1 PutEvents a call (moto)",
            f"{ms(on['handler_ns'])} per call (+{added / 1e3:,.0f} us)",
            f"disabled: {ms(off['handler_ns'])}; boto3's PutEvents of the 3 entries alone (after): {ms(put)}",
            ratio(on["handler_ns"], off["handler_ns"]),
            "state the cost (docs/events.md)",
            "info",
        )
    ]


def bus_entries(bus: str) -> list[dict[str, Any]]:
    """The entries the relay makes of the rich stand-in's three effects (core/bus.py)."""
    from bench.standin import _V2_EFFECTS
    from talon_relay.core.bus import effect_entries
    from talon_relay.wire.effects import Effect

    effects = [Effect.parse(effect) for effect in _V2_EFFECTS]
    return effect_entries(
        bus, effects, operation="updateCustomerSessionV2", key="bench", session_id="s", profile_id="p"
    )


def main(argv: list[str] | None = None) -> int:
    """This row alone, with `make bench`'s setup (the built layer on python3.13, the stand-in, moto)."""
    parser = argparse.ArgumentParser(prog="python -m bench.publishing", description=__doc__)
    parser.add_argument("--warm-calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    began = time.monotonic()
    try:
        with harness.one_function(OPS[FOLDER]) as setup:
            rows = measure_publishing(setup, args.warmup, args.warm_calls)
            python = harness.python_version(setup.python)
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    print(report.table(rows))
    print(f"\n(python {python}, {time.monotonic() - began:.0f} s; not written to bench/results.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
