"""Powertools' JSON log line with less work per line (issue 23): the same bytes, key for key.

Powertools' formatter copies the record's whole `__dict__` for every line, writes the time into it
and formats each of its keys' `%(...)s` templates against that copy, and scans a 24-name tuple for
every record attribute. This subclass ("Bring your own formatter", `Logger(logger_formatter=...)`)
builds the same dict from the formatter's own keys, fills Powertools' three default templates
(`level`, `location`, `timestamp`) straight from the record, and takes the extras by a set lookup.
Anything else (an exception, a reserved key given another template, such as `location` made
`%(module)s`) is left to Powertools' own `format`. tests/unit/test_log_lines.py compares the two.
`compact_json` writes a line as Powertools' default serializer does, with the encoder made once.
"""

from __future__ import annotations

import json.encoder
import logging
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter, _get_context

#: The names Powertools keeps out of a line's extras (a frozenset: Powertools scans its tuple per name).
RESERVED = frozenset(RESERVED_LOG_ATTRS)

#: Powertools' default templates of its reserved keys: filled here from the record with the same conversions.
_LEVEL, _LOCATION, _TIMESTAMP = "%(levelname)s", "%(funcName)s:%(lineno)d", "%(asctime)s"
#: Powertools' default time format (`%F`: the milliseconds), cut at them: `formatTime` writes each side once a second.
_DEFAULT_TIME, _MILLISECONDS = "%Y-%m-%d %H:%M:%S,%F%z", "%F"
_BEFORE_MS, _AFTER_MS = _DEFAULT_TIME.split(_MILLISECONDS)


class LineFormatter(LambdaPowertoolsFormatter):
    """LambdaPowertoolsFormatter whose usual line skips the record copy and the per-key templates."""

    #: the default timestamp's text of one second (`formatTime`): (second, converter, before and after the ms)
    _second: tuple[int, Any, str, str] = (-1, None, "", "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Powertools' timestamp, its default format's two `time.strftime` calls made once a second (about
        2 us a line, several times that in a warm call) rather than on every line: the same text, as the
        second's fields are the same for every record within it. Any other format is Powertools' own."""
        if (
            datefmt is not None
            or self.datefmt
            or self.use_rfc3339_iso8601
            or self.default_time_format != _DEFAULT_TIME
            or self.custom_ms_time_directive != _MILLISECONDS
        ):
            return super().formatTime(record, datefmt)
        created = record.created
        now = int(created // 1)  # the second the converter reads (it floors the time)
        second, converter, before, after = self._second
        if second != now or converter is not self.converter:
            struct = self.converter(created)
            before, after = time.strftime(_BEFORE_MS, struct), time.strftime(_AFTER_MS, struct)
            self._second = (now, self.converter, before, after)
        return before + "%03d" % record.msecs + after  # noqa: UP031 - Powertools' conversion of the milliseconds

    def format(self, record: logging.LogRecord) -> str:
        """The line Powertools writes for `record` (its own `format` for the rare lines, as said above)."""
        fields = record.__dict__
        context: dict[str, Any] = _get_context().get()
        if record.exc_info or (context and not RESERVED.isdisjoint(context)):
            return super().format(record)
        line = self.log_format.copy()
        for key in RESERVED.intersection(line):
            template = line[key]
            if not template:
                continue
            if template == _LEVEL:
                line[key] = "%s" % (fields["levelname"],)  # noqa: UP031 - the same conversion as the template
            elif template == _LOCATION:
                line[key] = "%s:%d" % (fields["funcName"], fields["lineno"])  # noqa: UP031
            elif template == _TIMESTAMP:
                line[key] = "%s" % (self.formatTime(record=record),)  # noqa: UP031
            else:
                return super().format(record)
        if context:
            line.update(context)
        for key, value in fields.items():
            if key not in RESERVED:
                line[key] = value
        line["message"] = self._extract_log_message(log_record=record)
        if self.serialize_stacktrace:
            line["stack_trace"] = None
        line["xray_trace_id"] = self._get_latest_trace_id()
        return self.serialize(log={key: value for key, value in line.items() if value is not None})


def compact_json() -> Callable[[Any], str]:
    """`json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False)`, Powertools' default
    serializer, as the stdlib's own C encoder made once: `json.dumps` and `JSONEncoder.encode` make one
    for every line (about 1 us of a line's 3-4 us of JSON). The same encoder with the same options writes
    the same text; only a circular value fails differently (RecursionError instead of ValueError: either
    way logging reports it and writes no line)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the _json accelerator
        return json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False).encode
    chunks = make(None, str, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def encode(log: Any) -> str:
        return "".join(chunks(log, 0))

    return encode
