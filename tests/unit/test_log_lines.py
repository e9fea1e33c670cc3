"""The layer's log lines are, byte for byte, the lines Powertools' own formatter writes (issue 23).

Every case logs through the layer's Powertools logger, as the relay does, to two handlers on its
logger: one with the layer's formatter (talon_relay/log_lines.py), one with Powertools'
LambdaPowertoolsFormatter reading the same keys (its default serializer, the layer's message reader).
Both format the same record, so the same time and caller: any other difference is a drift.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import THREAD_LOCAL_KEYS, LambdaPowertoolsFormatter

from talon_relay import observability
from talon_relay.core.effect_log import log_effects
from talon_relay.log_lines import LineFormatter, compact_json
from talon_relay.observability import logger
from talon_relay.wire.effects import Effect


class PowertoolsOwn(LambdaPowertoolsFormatter):
    """Powertools' formatter, unchanged, reading the keys of the formatter under test (which the
    Logger's append_keys, clear_state and inject_lambda_context change)."""

    def __init__(self, subject: LambdaPowertoolsFormatter) -> None:
        self.subject = subject
        super().__init__(json_deserializer=observability._message)

    @property
    def log_format(self) -> dict[str, Any]:
        return self.subject.log_format

    @log_format.setter
    def log_format(self, value: dict[str, Any]) -> None:
        """Powertools' __init__ sets its own keys: the subject's are read instead."""


@dataclass
class Lines:
    ours: io.StringIO
    powertools: io.StringIO

    def pair(self) -> tuple[str, str]:
        return self.ours.getvalue(), self.powertools.getvalue()


def _attach(subject: LambdaPowertoolsFormatter) -> Iterator[Lines]:
    target = logging.getLogger(logger.name)
    lines = Lines(io.StringIO(), io.StringIO())
    handlers = [logging.StreamHandler(lines.ours), logging.StreamHandler(lines.powertools)]
    handlers[0].setFormatter(subject)
    handlers[1].setFormatter(PowertoolsOwn(subject))
    keys = dict(subject.log_format)
    context = THREAD_LOCAL_KEYS.get()
    for handler in handlers:
        target.addHandler(handler)
    try:
        yield lines
    finally:
        for handler in handlers:
            target.removeHandler(handler)
        subject.log_format = keys
        THREAD_LOCAL_KEYS.set(context)


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Given the layer's logger writing each line with its formatter and with Powertools' own."""
    yield from _attach(_ours())


def _ours() -> LineFormatter:
    formatter = logger.registered_formatter
    assert isinstance(formatter, LineFormatter)
    return formatter


class _Opaque:
    def __str__(self) -> str:
        return "opaque ü"


def _raise(exc: BaseException) -> None:
    raise exc


def _log_exception(method: str, **kwargs: Any) -> None:
    error = ValueError("boom ü")
    error.add_note("a note")
    try:
        _raise(error)
    except ValueError:
        getattr(logger, method)("failed", **kwargs)


@dataclass
class LambdaContext:
    function_name: str = "update_customer_session_v2"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:update_customer_session_v2"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def _in_lambda() -> None:
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: object) -> None:
        logger.set_correlation_id("req-1")
        logger.append_keys(operation="update_customer_session_v2")
        logger.info("in the handler", extra={"application": "shop"})

    handler({}, LambdaContext())


async def _in_a_task() -> None:
    logger.info("in an asyncio task")


CASES: dict[str, Callable[[], object]] = {
    "plain": lambda: logger.info("x"),
    "args": lambda: logger.info("a %s and %d", "b", 3),
    "dict message": lambda: logger.info({"a": 1, "nested": {"b": [1, 2.5, None, True]}}),
    "json object message": lambda: logger.info('{"k": "v", "n": 1}'),
    "json array message": lambda: logger.info("[1, 2]"),
    "broken json message": lambda: logger.info("[1, 2"),
    "number-like message": lambda: logger.info("123"),
    "non-str message": lambda: logger.info(42),
    "every JSON type": lambda: logger.info(
        "types",
        extra={
            "s": "text",
            "i": -7,
            "f": 0.1,
            "big": 1e16,
            "t": True,
            "no": False,
            "l": [1, "a", None],
            "d": {"k": {}},
        },
    ),
    "non-JSON extras": lambda: logger.info(
        "fallback",
        extra={
            "when": datetime.datetime(2026, 12, 5, 8, 0, tzinfo=datetime.UTC),
            "amount": decimal.Decimal("10.50"),
            "raw": b"\x00\xff",
            "id": uuid.UUID(int=1),
            "opaque": _Opaque(),
            "tuple": (1, 2),
            "nan": float("nan"),
            "inf": float("-inf"),
            "int keys": {1: "one", 2.5: "x", None: "n", False: "f"},
        },
    ),
    "unicode": lambda: logger.info("ünïcødé € 😀 \u2028", extra={"who": "Zoë \x00\n\t\"'\\ 漢字"}),
    "None values stripped": lambda: logger.info("nones", extra={"session_id": None, "profile_id": "p", "x": None}),
    "reserved names as extras": lambda: logger.info(
        "shadow",
        extra={"location": "elsewhere", "timestamp": "never", "level": "LOUD", "service": "other", "sampling_rate": 1},
    ),
    "exception-named extras": lambda: logger.info(
        "named", extra={"exception": "mine", "exception_name": "Mine", "stack_trace": "kept?", "xray_trace_id": "x"}
    ),
    "stack_info": lambda: logger.info("with stack", stack_info=True),
    "warning": lambda: logger.warning("careful", extra={"reason": "r"}),
    "error": lambda: logger.error("bad", extra={"reason": "r"}),
    "critical": lambda: logger.critical("worse"),
    "exception": lambda: _log_exception("exception", extra={"reason": "ValueError"}),
    "error with exc_info": lambda: _log_exception("error", exc_info=True),
    "warning with an exception instance": lambda: logger.warning("w", exc_info=ValueError("given")),
    "exception outside an except": lambda: logger.exception("nothing raised"),
    "lambda context injected": _in_lambda,
    "asyncio task": lambda: asyncio.run(_in_a_task()),
    "effects": lambda: log_effects(
        [
            Effect.parse([1, 2, 0, ["addLoyaltyPoints", 1, 10.0, "Points ü"]]),
            Effect.parse([3, 4, 1, ["setDiscount", "10% off", 5.5]]),
            Effect.parse([5, 6, 2, ["updateAttributeValue", "secret", "customer data"]]),
            Effect.parse("not an effect"),
        ],
        operation="update_customer_session_v2",
        session_id="s-1",
        profile_id="p-1",
        correlation_id="c-1",
    ),
}


def _append_and_remove() -> None:
    logger.append_keys(application="shop", number=5, nothing=None, flag=False)
    logger.remove_keys(["number"])


#: Changes to the logger's keys before a line, as the relay and Powertools make them.
KEYS: dict[str, Callable[[], object]] = {
    "as imported": lambda: None,
    "appended and removed": _append_and_remove,
    "correlation id": lambda: logger.set_correlation_id("req-9"),
    "thread-safe keys": lambda: logger.thread_safe_append_keys(message_id="m-1", target="op", application=None),
    "location removed": lambda: logger.remove_keys(["location", "message"]),
    "a reserved key given another template": lambda: logger.append_keys(location="%(module)s.%(funcName)s"),
    "a reserved key emptied": lambda: logger.append_keys(level=None, timestamp=""),
    "a thread-safe reserved key": lambda: logger.thread_safe_append_keys(level="%(levelno)d"),
    "an extra key in the lambda context's place": lambda: logger.append_keys(function_name="shadowed", cold_start=True),
}


@pytest.mark.parametrize("keys", list(KEYS))
@pytest.mark.parametrize("case", list(CASES))
def test_each_line_is_the_line_powertools_writes(lines: Lines, keys: str, case: str) -> None:
    # Given the logger's keys changed as named
    KEYS[keys]()
    # When the relay logs
    CASES[case]()
    # Then both formatters wrote the same bytes: one or more whole JSON lines
    ours, powertools = lines.pair()
    assert ours == powertools
    assert ours and all(json.loads(line) for line in ours.split("\n") if line.startswith("{"))


def test_the_trace_id_is_read_for_each_line(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Lambda's trace header, then another invocation's
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    logger.info("traced")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-00000000-000000000000000000000002")
    logger.info("traced again")
    # Then each line names its own, as Powertools' does
    ours, powertools = lines.pair()
    assert ours == powertools
    assert [json.loads(line)["xray_trace_id"] for line in ours.split("\n")[:2]] == [
        "1-5759e988-bd862e3fe1be46a994272793",
        "1-00000000-000000000000000000000002",
    ]


@pytest.mark.filterwarnings("ignore:POWERTOOLS_DEV environment variable is enabled")  # (Powertools says so, as meant)
def test_powertools_dev_lines_are_indented_as_powertools_indents_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given POWERTOOLS_DEV set when the formatter is made (as the local gateway sets it)
    monkeypatch.setenv("POWERTOOLS_DEV", "1")
    formatter = observability._formatter()
    formatter.append_keys(**_ours().log_format)
    for lines in _attach(formatter):
        # When a line and an exception are logged
        CASES["effects"]()
        CASES["exception"]()
        # Then both are indented, byte for byte as Powertools writes them
        ours, powertools = lines.pair()
        assert ours == powertools
        assert '{\n    "level":"INFO",\n    "location":"log_effects:' in ours


@pytest.mark.parametrize("rate", [None, "0.5"])
def test_the_formatter_holds_the_keys_powertools_logger_gives_its_own(
    monkeypatch: pytest.MonkeyPatch, rate: str | None
) -> None:
    # Given a sampling rate set or not
    if rate is None:
        monkeypatch.delenv("POWERTOOLS_LOGGER_SAMPLE_RATE", raising=False)
    else:
        monkeypatch.setenv("POWERTOOLS_LOGGER_SAMPLE_RATE", rate)
    # When Powertools' Logger makes its own formatter, and the layer makes its
    probe = Logger(service=f"log-lines-probe-{uuid.uuid4()}", stream=io.StringIO())
    own: LambdaPowertoolsFormatter = probe.registered_formatter  # type: ignore[assignment]
    ours = observability._formatter()
    # Then they hold the same keys in the same order (service aside), also after clear_state
    # (inject_lambda_context(clear_state=True) calls it on every invocation)
    for formatter in (own, ours):
        formatter.append_keys(service="s")
    assert list(ours.log_format.items()) == list(own.log_format.items())
    assert ours.log_format["sampling_rate"] == rate
    own.clear_state()
    ours.clear_state()
    for formatter in (own, ours):
        formatter.append_keys(service="s")
    assert list(ours.log_format.items()) == list(own.log_format.items())
    assert isinstance(logger.registered_formatter, LineFormatter)


@pytest.mark.parametrize(
    "value",
    [
        {"level": "INFO", "n": 1, "f": 1e-7, "u": "ü\u2028\x7f", "none": None, "nested": [[], {}, (1,)]},
        "a str",
        [1, 2],
        {"when": datetime.date(2026, 1, 2), 3: float("inf")},
    ],
)
def test_compact_json_writes_what_json_dumps_writes(value: Any) -> None:
    # Given a value to write, When written by the encoder made once
    written = compact_json()(value)
    # Then it is Powertools' default serializer's text
    assert written == json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("utc", [False, True])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_timestamps_are_the_text_powertools_writes_for_every_time(
    monkeypatch: pytest.MonkeyPatch, zone: str, utc: bool
) -> None:
    # Given a time zone with a daylight-saving change (or none) and the formatter in local time or UTC
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        ours = LineFormatter(json_deserializer=observability._message, utc=utc)
        powertools = LambdaPowertoolsFormatter(json_deserializer=observability._message, utc=utc)
        # (2026-03-29 01:00 UTC: Berlin moves its clocks on; within a second, across seconds, back in time)
        change = 1774746000.0
        times = [change + offset for offset in (-3600.0, -1.0, -0.0005, -0.9995, 0.0, 0.0004, 0.5, 0.9999, 1.0, 2.25)]
        times += [change - 0.5, 1_000_000_000.123, 0.0, 1_800_000_000.999]
        for created in times:
            record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", (), None)
            record.created, record.msecs = created, (created - int(created)) * 1000 // 1 + 0.0
            # When both format its time, Then they write the same text
            assert ours.formatTime(record) == powertools.formatTime(record), created
        # and a format of the caller's own is Powertools' own
        record.created = change
        for options in ({"datefmt": "%H:%M:%S.%F"}, {"use_rfc3339": True}):
            own = LineFormatter(json_deserializer=observability._message, utc=utc, **options)
            theirs = LambdaPowertoolsFormatter(json_deserializer=observability._message, utc=utc, **options)
            assert own.formatTime(record) == theirs.formatTime(record)
    finally:
        monkeypatch.undo()
        time.tzset()
