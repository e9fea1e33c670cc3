"""Request checks of the emulator's own: bodies against `schemas/<version>.json`, query parameters
against the route table, and the Content-Type. Nothing here comes from the relay.

Bodies are checked as Talon.One (a Go service) reads them: strict JSON types without coercion (a
string or boolean is not a number, 1.5 or 1.0 is not an integer, a number is not a date-time string),
required properties, `additionalProperties: false` where the spec closes an object, formats
(`date-time` is RFC 3339 with an offset; `int64`/`int32`/`float` ranges; `uuid`). A declared optional
property sent as `null` counts as absent (Go leaves the field unset); a required one sent as `null`
is an error. Every problem is reported, each naming its place with a JSON pointer.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped, unused-ignore]

from local.emulator.errors import ApiError, json_pointer, problem
from local.emulator.headers import header
from local.emulator.jsonio import parse_json
from local.emulator.routes import QueryParam, Route

SCHEMA_DIR = Path(__file__).with_name("schemas")

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def parse_rfc3339(text: str) -> datetime | None:
    """The moment of an RFC 3339 date-time with offset (`2026-05-07T10:00:00Z`), None if it is not one."""
    if not _RFC3339.match(text):
        return None
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def _date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_rfc3339(value) is not None


def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _float32(value: object) -> bool:
    return not isinstance(value, int | float) or isinstance(value, bool) or abs(value) <= 3.4028234663852886e38


def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _formats() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in (
        ("date-time", _date_time),
        ("int64", _int64),
        ("int32", _int32),
        ("float", _float32),
        ("uuid", _uuid),
    ):
        checker.checks(name)(check)
    return checker


FORMATS = _formats()


@cache
def schema_document(version: str) -> dict[str, Any]:
    """`schemas/<version>.json` with the definitions the table's entries of that version bring:
    `{"definitions": {name: JSON Schema (draft 4)}}`."""
    from local.emulator.operations import ROUTES

    document: dict[str, Any] = json.loads((SCHEMA_DIR / f"{version}.json").read_text(encoding="utf-8"))
    definitions = document["definitions"]
    for route in ROUTES:
        if route.version != version:
            continue
        for name, definition in route.definitions.items():
            if definitions.setdefault(name, definition) != definition:
                raise ValueError(f"{route.operation} redefines {name} of schemas/{version}.json")
    return document


def _inline(node: Any, definitions: Mapping[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """The schema with each `$ref` replaced by its definition (a recursive one stays a `$ref`)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in stack:
                return node
            return _inline(definitions[name], definitions, (*stack, name))
        return {key: _inline(value, definitions, stack) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions, stack) for item in node]
    return node


@cache
def _validator(version: str, definition: str) -> Any:
    """A draft 4 validator of one definition, its `$ref`s inlined (resolving them per request is slow)."""
    definitions = schema_document(version)["definitions"]
    if definition not in definitions:
        raise KeyError(f"schemas/{version}.json has no definition {definition}")
    schema = {**_inline(definitions[definition], definitions, (definition,)), "definitions": definitions}
    return Draft4Validator(schema, format_checker=FORMATS)


def _resolve(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def drop_null_optionals(value: Any, schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> Any:
    """A copy of `value` without the declared, optional properties that are `null` (at any depth)."""
    schema = _resolve(schema, definitions)
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        extra = schema.get("additionalProperties")
        result: dict[str, Any] = {}
        for key, item in value.items():
            if key in properties:
                if item is None and key not in required:
                    continue
                result[key] = drop_null_optionals(item, properties[key], definitions)
            elif isinstance(extra, Mapping):
                result[key] = drop_null_optionals(item, extra, definitions)
            else:
                result[key] = item
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [drop_null_optionals(item, schema["items"], definitions) for item in value]
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _details(error: ValidationError) -> str:
    """What is wrong, without echoing the value (it may be customer data)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {wanted}, got {_json_type(error.instance)}"
    if keyword == "enum":
        return "must be one of " + ", ".join(json.dumps(value) for value in expected)
    if keyword == "format":
        return f"not a valid {expected}" + (" (RFC 3339 with a time offset)" if expected == "date-time" else "")
    if keyword == "minLength":
        return f"must be at least {expected} characters long"
    if keyword == "maxLength":
        return f"must be at most {expected} characters long"
    if keyword in ("minimum", "maximum"):
        return f"must be {'>=' if keyword == 'minimum' else '<='} {expected}"
    if keyword in ("minItems", "maxItems"):
        return f"must have {'at least' if keyword == 'minItems' else 'at most'} {expected} items"
    return f"violates {keyword}"


def _problems(error: ValidationError) -> list[dict[str, Any]]:
    location = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        return [
            problem("Missing property", f"{name!r} is required", pointer=json_pointer([*location, name]))
            for name in error.validator_value
            if name not in error.instance
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        return [
            problem(
                "Unknown property",
                f"the object does not allow the property {key!r}",
                pointer=json_pointer([*location, key]),
            )
            for key in error.instance
            if key not in known
        ]
    return [problem("Invalid value", _details(error), pointer=json_pointer(location))]


def validate_body(route: Route, body: bytes) -> dict[str, Any]:
    """The request's JSON object, checked against its definition (400 with every problem's pointer)."""
    assert route.body is not None
    if not body.strip():
        if route.body_required:
            raise ApiError(400, f"Request body is required ({route.body})", title="Missing body", pointer="")
        parsed: Any = {}  # an optional body left out is read as {}, and checked as one
    else:
        parsed = parse_json(body)
    if not isinstance(parsed, dict):
        raise ApiError(400, f"Request body must be a JSON object ({route.body})", title="Invalid body", pointer="")
    definitions = schema_document(route.version)["definitions"]
    data = dict(drop_null_optionals(parsed, definitions[route.body], definitions))
    errors: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for error in _validator(route.version, route.body).iter_errors(data):
        for item in _problems(error):
            key = (item["source"]["pointer"], item["details"])
            if key not in seen:
                seen.add(key)
                errors.append(item)
    if errors:
        first = errors[0]
        message = f"Invalid {route.body}: {first['source']['pointer'] or '/'}: {first['details']}"
        raise ApiError(400, message, errors=errors)
    return data


# --- query parameters ---------------------------------------------------------------------------


def _query_value(param: QueryParam, text: str) -> bool | str | int | datetime:
    if param.type == "integer":
        try:
            number = int(text)
        except ValueError:
            raise ValueError("must be an integer") from None
        if (param.minimum is not None and number < param.minimum) or (
            param.maximum is not None and number > param.maximum
        ):
            raise ValueError(f"must be from {param.minimum} to {param.maximum}")
        return number
    if param.type == "boolean":
        if text in ("true", "false"):
            return text == "true"
        raise ValueError("must be true or false")
    if param.values is not None and text not in param.values:
        raise ValueError("must be one of " + ", ".join(param.values))
    if param.format == "date-time":
        moment = parse_rfc3339(text)
        if moment is None:
            raise ValueError("must be an RFC 3339 date-time with a time offset")
        return moment
    return text


def query_values(route: Route, query: str) -> dict[str, Any]:
    """The route's query parameters, typed (defaults filled in; unknown parameters ignored)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(
            400, "Query string is not valid percent-encoded UTF-8", title="Invalid query", parameter=""
        ) from None
    given: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for name, text in pairs:
        given.setdefault(name, text)  # the first one wins, as Go's url.Values.Get
        every.setdefault(name, []).extend(text.split(","))  # an array: every value, csv or repeated
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for param in route.query:
        if param.name not in given:
            values[param.name] = param.default
            continue
        try:
            if param.type == "array":
                wrong = [item for item in every[param.name] if param.values is not None and item not in param.values]
                if wrong:
                    raise ValueError("items must be one of " + ", ".join(param.values or ()))
                values[param.name] = every[param.name]
            else:
                values[param.name] = _query_value(param, given[param.name])
        except ValueError as exc:
            errors.append(problem("Invalid query parameter", f"{param.name} {exc}", parameter=param.name))
    if errors:
        raise ApiError(400, f"Invalid query parameter {errors[0]['details']}", errors=errors)
    return values


# --- Content-Type -------------------------------------------------------------------------------


def check_content_type(headers: Mapping[str, str], body: bytes) -> None:
    """A body with a Content-Type other than JSON is a 415 (no body or no header: not checked)."""
    content_type = header(headers, "Content-Type")
    if not body or content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            415,
            f"Unsupported Content-Type {media_type!r}: send application/json",
            title="Unsupported media type",
            parameter="Content-Type",
        )
