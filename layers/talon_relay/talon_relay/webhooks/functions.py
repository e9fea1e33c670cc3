"""The JMESPath functions a mapping file may call: JMESPath's own, Powertools' and the relay's.

JMESPath has no arithmetic and no way back to the document's root from inside a projection; the
relay's functions give a mapping just those, generically (no topic's logic lives here):

- `relay_unique(array)`: the array without repeats, in first-seen order (a discount code Shopify
  shows on several lines is one coupon code);
- `relay_minor_units(amount, digits)`: an amount in minor units as a number (commercetools'
  `centAmount` 1850 with `fractionDigits` 2 is 18.5);
- `relay_join(items, field, others, other_field, name)`: each object of `items` with `name` set to
  the object of `others` whose `other_field` equals its `field` (compared as text; null when none),
  so a projection can read both (a refunded line and the paid order's line it refunds);
- `relay_subtract(a, b)`: a - b (a quantity less what an edit removed).

Two of JMESPath's own are stricter here, because their spec'd answers would change a customer's data in
transit: `to_string` takes a string, a number or null, and `to_string(null)` is null (JMESPath's is the
text "null": an order without an id became the session, event and guest "order-null" that every such order
shared; a boolean, a list or an object became an id such as "true" or '[1,"a"]', erased or updated at
Talon.One as if it were someone), and `to_number` takes a number, null,
or text that is a JSON number, and fails on anything else (JMESPath's null left a price out of the cart
without a word, and Python's float() read "1_000.00", " 19.99" or full-width digits): the webhook is
dead-lettered naming the field.
"""

from __future__ import annotations

import math
import re
from typing import Any

from aws_lambda_powertools.utilities.jmespath_utils import PowertoolsFunctions
from jmespath.exceptions import JMESPathTypeError
from jmespath.functions import signature

#: RFC 8259's number, the only text `to_number` reads.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


class RelayFunctions(PowertoolsFunctions):
    """The mappings' functions (see the module docstring)."""

    @signature({"types": []})  # type: ignore[untyped-decorator]
    def _func_to_string(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return super()._func_to_string(value)
        raise JMESPathTypeError("to_string", value, type(value).__name__, ["string", "number", "null"])

    @signature({"types": []})  # type: ignore[untyped-decorator]
    def _func_to_number(self, value: Any) -> Any:
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and _JSON_NUMBER.fullmatch(value):
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if isinstance(number, int) or math.isfinite(number):
                return number
        # (the value goes into the error, which the mapping drops: only the function's name is reported)
        raise JMESPathTypeError("to_number", value, type(value).__name__, ["number", "null", "JSON number text"])

    @signature({"types": ["array", "null"]})  # type: ignore[untyped-decorator]
    def _func_relay_unique(self, values: list[Any] | None) -> list[Any] | None:
        if values is None:
            return None
        seen: list[Any] = []
        for value in values:
            if value not in seen:
                seen.append(value)
        return seen

    @signature({"types": ["number", "null"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_relay_minor_units(self, amount: float | None, digits: float) -> float | None:
        if amount is None:
            return None
        if not 0 <= digits <= 6 or digits != int(digits):
            raise ValueError("relay_minor_units: digits must be a whole number from 0 to 6")
        return float(amount) / 10.0 ** int(digits)

    @signature(  # type: ignore[untyped-decorator]
        {"types": ["array", "null"]},
        {"types": ["string"]},
        {"types": ["array", "null"]},
        {"types": ["string"]},
        {"types": ["string"]},
    )
    def _func_relay_join(
        self, items: list[Any] | None, field: str, others: list[Any] | None, other_field: str, name: str
    ) -> list[Any] | None:
        if items is None:
            return None
        by_key: dict[str, Any] = {}
        for other in others or []:
            key = _text(other.get(other_field)) if isinstance(other, dict) else None
            if key is not None:
                by_key.setdefault(key, other)
        out: list[Any] = []
        for item in items:
            if isinstance(item, dict):
                key = _text(item.get(field))
                item = {**item, name: None if key is None else by_key.get(key)}
            out.append(item)
        return out

    @signature({"types": ["number", "null"]}, {"types": ["number", "null"]})  # type: ignore[untyped-decorator]
    def _func_relay_subtract(self, a: float | None, b: float | None) -> float | None:
        if a is None:
            return None
        return a - (b or 0)


FUNCTIONS = RelayFunctions()
