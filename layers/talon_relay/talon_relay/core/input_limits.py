"""The input limits, checked up front on the raw bytes and the parsed JSON (docs/api.md, "Limits").

Whatever a sender sends is either within these limits or refused here with an InvalidRequest naming
what is wrong (an API caller gets a 400, 413 or 415; a queued message is dead-lettered with it as its
`failureReason`). Past this point, parsing, validating and serialising cannot fail: no RecursionError,
no integer-conversion error, no NaN silently sent as null, no string that cannot be encoded as UTF-8.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

from talon_relay.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

#: A request body, in bytes as sent (1 MiB).
MAX_BODY_BYTES = 1_048_576
#: Levels of objects and arrays a body may nest (the body's own object is level 1). Far beyond any
#: Talon.One model; pydantic refuses to serialise past ~255 and json past ~1,000.
MAX_DEPTH = 64
#: Characters of one JSON number (digits, sign, point, exponent). Python refuses to read integers
#: of more than 4,300 digits; a number this long is no price, quantity or id anyway.
MAX_NUMBER_CHARS = 100

#: Every byte but a bracket and a quote: deleted to leave a body's skeleton (bytes.translate, C speed).
_NOT_SKELETON = bytes(set(range(256)) - set(b'[]{}"'))
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
#: The body's bytes as number shapes (digits 0, exponents e, signs s, anything else .), to look for
#: what may be a number out of the limits: a long run of digits (a number of over MAX_NUMBER_CHARS
#: characters has one of at least 48), an exponent of 3 digits or more (past a 64-bit float), or a
#: constant. Found anywhere (in a string too), the body is read with the exact checks of each number.
_NUMBER_SHAPES = bytes(
    ord("0") if b in b"0123456789" else ord("e") if b in b"eE" else ord("s") if b in b"+-" else ord(".")
    for b in range(256)
)
_SUSPECT_SHAPES = (b"0" * 32, b"e000", b"es000")
#: Digits 0, anything else a dot: a number over MAX_NUMBER_CHARS characters has a run of at least 32 digits.
_DIGITS = bytes(ord("0") if b in b"0123456789" else ord(".") for b in range(256))
#: A \uD800-\uDFFF escape: the only way a lone surrogate gets into valid UTF-8 JSON text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    """A JSON number out of the limits, raised from inside json.loads."""


def _invalid(what: str, details: str) -> InvalidRequest:
    return InvalidRequest.single(f"Invalid {what}", details, pointer="")


def check_body_size(raw: bytes, *, what: str = "body", limit: int = MAX_BODY_BYTES) -> None:
    if len(raw) > limit:
        raise PayloadTooLarge.single(
            "Payload too large", f"{what} is {len(raw):,} bytes; at most {limit:,} are allowed", pointer=""
        )


def check_content_type(value: str | None) -> None:
    """A body must be JSON in UTF-8: `application/json` (or `*/*+json`), charset utf-8 when given."""
    if value is None or not value.strip():
        return
    media, _, params = value.partition(";")
    media = media.strip().lower()
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        details = f"Content-Type {printable(value[:100])!r} is not JSON: send application/json"
    elif charset and charset.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        details = f"charset {printable(charset.group(1)[:40])!r} is not supported: send UTF-8"
    else:
        return
    raise UnsupportedMediaType.single("Unsupported media type", details, parameter="Content-Type")


def check_encoding(raw: bytes, content_encoding: str | None = None) -> None:
    """A body is JSON text sent as it is: compressed (a Content-Encoding, or gzip's magic bytes) or JSON in
    UTF-16 or UTF-32 is a 415."""
    coding = (content_encoding or "").strip().lower()
    parameter = "Content-Type"
    if coding not in ("", "identity"):
        parameter = "Content-Encoding"
        details = f"Content-Encoding {printable(coding[:40])!r} is not supported: send the body uncompressed"
    elif raw.startswith(b"\x1f\x8b"):
        details = "the body is gzip-compressed: send it uncompressed, as UTF-8 JSON"
    elif encoding := _json_in_utf16_or_32(raw):
        details = f"the body is JSON in {encoding}: send UTF-8"
    else:
        return
    raise UnsupportedMediaType.single("Unsupported media type", details, parameter=parameter)


def _json_in_utf16_or_32(raw: bytes) -> str | None:
    """UTF-16 or UTF-32, when `raw` is JSON text in one (a byte order mark, or NULs among its first bytes,
    which UTF-8 JSON text never has); bytes that are no text at all are for parse_json to refuse (400)."""
    if not (raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4]):
        return None
    for codec in ("utf-32", "utf-16", "utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[", '"'):
            return codec[:6].upper()
    return None


def printable(text: str) -> str:
    """`text` with lone surrogates written as escapes: safe for logs, JSON answers and SQS attributes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def nesting_depth(text: str | bytes, limit: int = MAX_DEPTH) -> int:
    """How deep the JSON text nests objects and arrays, when that is over `limit` (else at most it).

    On the bytes, in C loops: escaped backslashes and quotes removed (left to right, as JSON reads
    them), then everything but brackets and quotes, then the strings; what is left are the brackets
    that nest (about 1 ms per 600 KB, where a regular expression over the text took 10)."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= limit:
        return 0  # cannot nest deeper than it has brackets (the common case: no scan at all)
    skeleton = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_SKELETON)
    outside = skeleton.replace(b'""', b"")  # the strings that hold no bracket (most, or all)
    if b'"' in outside:
        outside = b"".join(outside.split(b'"')[0::2])  # every other part is inside a string
    return max(accumulate(array("b", outside.translate(_BRACKET_STEPS))), default=0)


def header_token(value: str) -> bool:
    """1 to 255 printable ASCII characters, no spaces: a header value every HTTP stack sends as it is (an
    Idempotency-Key as the API takes it, and as the relay forwards one to Talon.One)."""
    return 1 <= len(value) <= 255 and value.isascii() and value.isprintable() and " " not in value


def short_numbers(raw: bytes) -> bool:
    """No run of 32 digits (in a number or a string): no number in `raw` can be over MAX_NUMBER_CHARS, which
    pydantic-core would read (a long literal of a float as that float). One C pass, about 0.1 ms per 256 KB;
    other bodies are read with the exact checks of each number (parse_json)."""
    return b"0" * 32 not in raw.translate(_DIGITS)


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has {len(text):,} characters; at most {MAX_NUMBER_CHARS} are allowed")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has {len(text):,} characters; at most {MAX_NUMBER_CHARS} are allowed")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:30]} is out of the range of a 64-bit float")
    return value


def _constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def _odd_string(value: Any) -> str | None:
    """A JSON pointer to the first key or string that holds a lone surrogate, if any."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, pointer = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return pointer
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{pointer}/{printable(key).replace('~', '~0').replace('/', '~1')}"
                if _SURROGATE.search(key):
                    return where
                stack.append((child, where))
        elif isinstance(item, list):
            stack.extend((child, f"{pointer}/{index}") for index, child in enumerate(item))
    return None


def parse_json(raw: bytes | str, *, what: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """JSON text (UTF-8 bytes, or text) within the limits, parsed; InvalidRequest names any fault."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid(what, f"{what} is not UTF-8 text (invalid byte at {exc.start})") from None
        data = raw
    else:
        text = raw
        found = _SURROGATE.search(text)
        if found:
            raise _invalid(what, f"{what} is not valid Unicode (lone surrogate at character {found.start()})")
        data = text.encode("utf-8")
    depth = nesting_depth(data, max_depth)
    if depth > max_depth:
        raise _invalid(what, f"{what} nests {depth:,} levels of objects and arrays; at most {max_depth} are allowed")
    # Each number checked by a hook costs a Python call (13 ms on a 900 KB cart): only a body that may
    # hold a number out of the limits pays for it; any other is read as json reads it, which is the same.
    shapes = data.translate(_NUMBER_SHAPES)
    exact = b"NaN" in data or b"Infinity" in data or any(shape in shapes for shape in _SUSPECT_SHAPES)
    hooks: dict[str, Any] = {"parse_int": _int, "parse_float": _float, "parse_constant": _constant} if exact else {}
    try:
        value = json.loads(text, **hooks)
    except _Refused as exc:
        raise _invalid(what, f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise _invalid(what, f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # nothing json.loads raises may escape the limits
        raise _invalid(what, f"{what} cannot be read as JSON ({type(exc).__name__})") from None
    if _SURROGATE_ESCAPE.search(text):
        pointer = _odd_string(value)
        if pointer is not None:
            raise InvalidRequest.single(
                f"Invalid {what}",
                "not valid Unicode: a lone surrogate (\\ud800-\\udfff) cannot be sent",
                pointer=pointer,
            )
    return value
