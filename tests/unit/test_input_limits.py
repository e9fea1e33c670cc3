"""The input limits, read cheaply: the depth from the bytes' skeleton, and each number checked only where one
may be out of the limits; what is refused and what is read stay what they were."""

from __future__ import annotations

import json

import pytest

from talon_relay.core import input_limits
from talon_relay.errors import InvalidRequest


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (json.dumps({"a": [nested(100)]}), 2),  # brackets inside a string do not nest
        (json.dumps({"a": ['x"[[[', "\\", '\\"' + "[" * 70]}), 2),  # escaped quotes and backslashes
        (json.dumps({"a": "\\\\"}) + nested(0), 1),
        (nested(70), 70),
        ('{"kkk": [' + nested(65) + '], "s": "' + "]]]]" * 20 + '"}', 67),  # strings do not close them
    ],
)
def test_the_depth_is_the_structures_whatever_the_strings_hold(text: str, depth: int) -> None:
    # Given JSON text with more brackets than the limit, some of them in strings
    # When its depth is measured, as text and as bytes
    # Then it is the depth of its objects and arrays (0 when it cannot exceed the limit)
    expected = depth if depth > input_limits.MAX_DEPTH or text.count("[") + text.count("{") > 64 else 0
    assert input_limits.nesting_depth(text) == input_limits.nesting_depth(text.encode()) == expected


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ('{"n": ' + "1" * 101 + "}", "101 characters"),
        ('{"n": 1' + "0" * 60 + "." + "0" * 40 + "}", "102 characters"),
        ('{"n": 1e999}', "out of the range"),
        ('{"n": -1E+400}', "out of the range"),
        ('{"n": NaN}', "not a JSON number"),
        ('{"n": -Infinity}', "not a JSON number"),
    ],
)
def test_numbers_out_of_the_limits_are_still_refused(body: str, fault: str) -> None:
    # Given a body with a number out of the limits (and nothing else that would call for the checks)
    # When it is read
    # Then it is refused naming the fault
    with pytest.raises(InvalidRequest) as refused:
        input_limits.parse_json(body.encode())
    assert fault in str(refused.value.api_body())


def test_numbers_are_read_as_json_reads_them_on_either_path() -> None:
    # Given the same numbers in a body without, and with, a string that calls for the checks of each number
    numbers = "[0, -1, 3.14, 1e308, 2.5E-7, 12345678901234567890, -0.0, 1E2]"
    plain = input_limits.parse_json(numbers.encode())
    checked = input_limits.parse_json(('{"id": "' + "9" * 40 + '", "n": ' + numbers + "}").encode())
    # Then both read the same values, with the same types (no coercion either way)
    assert plain == checked["n"] == json.loads(numbers)
    assert [type(value) for value in plain] == [type(value) for value in json.loads(numbers)]
