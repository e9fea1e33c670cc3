"""A platform's mapping files, and a webhook's payload mapped by them into Integration API requests.

Where the files are: the layer's own, `talon_relay/webhooks/<platform>/topics/*.json` (shipped with the layer:
change one and `sam deploy`), then, when WEBHOOK_MAPPINGS_DIR is set, `<that dir>/<platform>/*.json`,
whose files replace the layer's topic by topic (e.g. a layer of your own mounted under /opt). They are
read once per container; a file that is not a valid mapping is a configuration error naming the file.

Mapping: each expression is evaluated with Powertools' JMESPath `query` (its functions and the
relay's, `functions.RelayFunctions`); nulls are left out; each step's request is checked by
`core.request.parse_request`, as a caller's would be. A payload that does not map is an InvalidRequest naming
the step and the field, never its values (they are customer data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.exceptions import InvalidEnvelopeExpressionError
from aws_lambda_powertools.utilities.jmespath_utils import query
from pydantic import ValidationError

from talon_relay.core.request import Request, parse_request
from talon_relay.errors import ConfigurationError, InvalidRequest, problems
from talon_relay.operations import OPERATIONS
from talon_relay.webhooks import conventions
from talon_relay.webhooks.errors import AwaitsOrder
from talon_relay.webhooks.functions import FUNCTIONS
from talon_relay.webhooks.mapping_model import Step, TopicMapping

if TYPE_CHECKING:
    from talon_relay.container import Container

#: The layer's own mapping files: webhooks/<platform>/topics/.
PACKAGE_DIR = Path(__file__).resolve().parent


def platform_dir(platform: str) -> Path:
    """Where the layer keeps a platform's mapping files."""
    return PACKAGE_DIR / platform / "topics"


def file_name(topic: str) -> str:
    """The file a topic's mapping is in: orders/paid -> orders_paid.json."""
    return topic.replace("/", "_") + ".json"


def load_file(path: Path, replacements: Mapping[str, str] | None = None) -> TopicMapping:
    """One mapping file, its `$conventions` expanded (`replacements`; None: their defaults), checked;
    ConfigurationError names the file and what is wrong with it."""
    expanded = conventions.expansions() if replacements is None else replacements
    try:
        document = conventions.expand(json.loads(path.read_text(encoding="utf-8")), expanded)
        mapping = TopicMapping.model_validate(document)
    except (OSError, ValueError) as exc:  # unreadable, not JSON, or not a mapping (ValidationError)
        detail = problems(exc, whole="file") if isinstance(exc, ValidationError) else str(exc)
        raise ConfigurationError(f"mapping file {path.name} is not valid: {detail}") from None
    if path.name != file_name(mapping.topic):
        raise ConfigurationError(f"mapping file {path.name} maps {mapping.topic}: name it {file_name(mapping.topic)}")
    return mapping


def load_dir(folder: Path, replacements: Mapping[str, str] | None = None) -> dict[str, TopicMapping]:
    """Every mapping file of a folder, by topic (none when the folder does not exist)."""
    found: dict[str, TopicMapping] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            mapping = load_file(path, replacements)
            found[mapping.topic] = mapping
    return found


def _load(platform: str, extra_dir: str | None, chosen: str | None) -> dict[str, TopicMapping]:
    replacements = conventions.expansions(conventions.parse_choices(chosen))
    found = load_dir(platform_dir(platform), replacements)
    if extra_dir:
        found.update(load_dir(Path(extra_dir) / platform, replacements))
    return found


def for_platform(container: Container, platform: str) -> dict[str, TopicMapping]:
    """The platform's mappings by topic: the layer's files, then the operator's over them, with the
    deployment's conventions (read once per container: all three are part of its configuration)."""
    cfg = container.settings()
    extra_dir, chosen = cfg.webhook_mappings_dir, cfg.webhook_conventions
    return container.once(f"mappings:{platform}:{extra_dir}:{chosen}", lambda: _load(platform, extra_dir, chosen))


def for_topic(container: Container, platform: str, topic: str) -> TopicMapping | None:
    return for_platform(container, platform).get(topic)


# --- mapping a payload ------------------------------------------------------------------------


class _Unmappable(ValueError):
    pass


def evaluate(expression: str, payload: Any) -> Any:
    """One expression over the payload (Powertools' query with the mappings' functions)."""
    try:
        return query(data=payload, envelope=expression, jmespath_options={"custom_functions": FUNCTIONS})
    except InvalidEnvelopeExpressionError:
        raise _Unmappable("the expression failed") from None  # its message holds the payload: dropped
    except ValueError as exc:  # jmespath's errors; say which kind, never the value that caused it
        function = getattr(exc, "function_name", None)
        where = f" in {function}()" if function else ""
        raise _Unmappable(f"the expression failed ({type(exc).__name__}{where})") from None


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _render(template: Any, payload: Any, pointer: str) -> Any:
    if isinstance(template, str):
        try:
            return _without_nulls(evaluate(template, payload))
        except _Unmappable as exc:
            raise _Unmappable(f"{pointer or '/'}: {exc}") from None
    if isinstance(template, dict):
        rendered = {key: _render(value, payload, f"{pointer}/{key}") for key, value in template.items()}
        return {key: value for key, value in rendered.items() if value is not None}
    if isinstance(template, list):
        return [_render(value, payload, f"{pointer}/{index}") for index, value in enumerate(template)]
    return template


def _values(expressions: dict[str, str], payload: Any, where: str) -> dict[str, Any]:
    out = {}
    for name, expression in expressions.items():
        try:
            value = evaluate(expression, payload)
        except _Unmappable as exc:
            raise _Unmappable(f"{where}.{name}: {exc}") from None
        if value is not None:
            out[name] = value
    return out


#: The names the relay adds to what a mapping's expressions read (never sent anywhere by themselves).
RECALLED, ITEM = "relay_order", "relay_item"


def _truthy(value: Any) -> bool:
    """JMESPath's truth: not null, false, an empty string, array or object."""
    return value not in (None, False, "", [], {})


def step_request(step: Step, payload: Any) -> Request:
    """One step's request, checked as strictly as a caller's; InvalidRequest says what is wrong."""
    operation = OPERATIONS[step.operation]
    params = _values(step.params, payload, "params")
    query_params = _values(step.query, payload, "query")
    body = None if step.body is None else _render(step.body, payload, "")
    return parse_request(operation, params, body, query=query_params)


def context(mapping: TopicMapping, payload: Any, order: dict[str, Any] | None = None) -> Any:
    """What the expressions read: the payload, with the recalled order record as `relay_order`."""
    if mapping.order is None or mapping.order.recall is None:
        return payload
    if not isinstance(payload, dict) or RECALLED in payload or ITEM in payload:
        raise InvalidRequest.single(
            "Unmappable webhook", f"{mapping.topic}: the payload is not an object of the platform's shape", pointer=""
        )
    if order is None:
        raise AwaitsOrder.single(
            "Unknown order",
            f"{mapping.topic}: the relay has no record of the order (its paid or created webhook never went "
            "through the relay, or went longer ago than ORDER_MEMORY_SECONDS); nothing was sent",
            pointer="/order",
        )
    return {**payload, RECALLED: order}


def _check(mapping: TopicMapping, data: Any) -> None:
    for index, requirement in enumerate(mapping.requires):
        try:
            met = _truthy(evaluate(requirement.check, data))
        except _Unmappable:
            met = False
        if not met:
            where = f"/requires/{index}"
            # a requirement over the recalled order: a later edit of the record (redriven) may meet it
            kind = AwaitsOrder if mapping.order is not None and mapping.order.recall is not None else InvalidRequest
            raise kind.single("Unmappable webhook", f"{mapping.topic}: {requirement.reason}", pointer=where)


def _runs(step: Step, data: Any) -> list[tuple[str, Any]]:
    """(label suffix, what the step's expressions read) for each run of the step: none, one or one per
    element of `each`."""
    if step.when is not None and not _truthy(evaluate(step.when, data)):
        return []
    if step.each is None:
        return [("", data)]
    elements = evaluate(step.each, data)
    if elements is not None and not isinstance(elements, list):
        raise _Unmappable("each: not an array")
    base = data if isinstance(data, dict) else {}
    return [(f".{n}", {**base, ITEM: element}) for n, element in enumerate(elements or [], start=1)]


def step_base(step: Step, data: Any) -> str | None:
    """A step's own idempotency base (its `key`; None: the webhook's dedup key)."""
    if step.key is None:
        return None
    value = evaluate(step.key, data)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise _Unmappable("key: not a non-empty string")
    return value


def plan(mapping: TopicMapping, payload: Any, order: dict[str, Any] | None = None) -> list[tuple[str, Request]]:
    """(step label, request) of what a webhook's payload maps to, in order; InvalidRequest (a dead
    letter) when a requirement is not met or a request cannot be made or is not valid, before any is
    sent. The label is the step's number (`2`; `2.1`, `2.2` for each element of an `each`), after the
    step's own key when it has one (`refund-7#1`)."""
    data = context(mapping, payload, order)
    _check(mapping, data)
    out: list[tuple[str, Request]] = []
    for index, step in enumerate(mapping.steps, start=1):
        what = f"{mapping.topic} step {index} ({step.operation})"
        try:
            for suffix, reading in _runs(step, data):
                base = step_base(step, reading)
                label = f"{index}{suffix}" if base is None else f"{base}#{index}{suffix}"
                out.append((label, step_request(step, reading)))
        except _Unmappable as exc:
            raise InvalidRequest.single("Unmappable webhook", f"{what}: {exc}", pointer="/body") from None
        except InvalidRequest as exc:
            raise InvalidRequest(exc.response.errors or [], f"{what} does not map to a valid request") from None
    return out


def apply(mapping: TopicMapping, payload: Any, order: dict[str, Any] | None = None) -> list[Request]:
    """The requests of `plan`, in order."""
    return [request for _, request in plan(mapping, payload, order)]


def remembered(mapping: TopicMapping, payload: Any, order: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The order record the mapping keeps ({order, session, lines}; None: it keeps none, or the payload
    names no order or session), the lines numbered by their position in the session."""
    remember = mapping.order.remember if mapping.order else None
    if remember is None or (mapping.order and mapping.order.recall and order is None):
        return None
    data = context(mapping, payload, order)
    try:
        found = {name: evaluate(getattr(remember, name), data) for name in ("order", "session", "lines")}
    except _Unmappable:
        return None
    if not all(isinstance(found[name], str) and found[name] for name in ("order", "session")):
        return None
    lines = found["lines"] if isinstance(found["lines"], list) else []
    found["lines"] = [{**line, "position": n} for n, line in enumerate(lines) if isinstance(line, dict)]
    return found


def _text_of(expression: str, payload: Any) -> str | None:
    """An expression's value on the payload as text (a number as its digits); None: none, or it failed."""
    try:
        value = evaluate(expression, payload)
    except _Unmappable:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def recalled_order(mapping: TopicMapping, payload: Any) -> str | None:
    """The id of the order whose record the mapping reads (None: it reads none, or the payload has none)."""
    recall = mapping.order.recall if mapping.order else None
    return None if recall is None else _text_of(recall, payload)


def group_of(mapping: TopicMapping, payload: Any) -> str | None:
    """The FIFO group of a webhook by its mapping (None: none could be read from the payload)."""
    return None if mapping.group is None or payload is None else _text_of(mapping.group, payload)


def order_currency(payload: Any) -> str | None:
    """The order's currency: the customer's (presentment_currency), else (null, empty or absent) the shop's.
    One that decides and is no text is a dead letter naming it: neither the shop's currency nor none routes it."""
    for name in ("presentment_currency", "currency") if isinstance(payload, dict) else ():
        value = payload.get(name)
        if value not in (None, "") and not isinstance(value, str):
            problem = f"{name} is not a currency code (a {type(value).__name__}): the order's application is unknown"
            raise InvalidRequest.single("Unroutable webhook", problem, pointer=f"/{name}")
        if value:
            return str(value)
    return None
