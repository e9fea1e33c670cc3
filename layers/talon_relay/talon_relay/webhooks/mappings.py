"""A platform's mapping files, and a webhook's payload mapped by them into Integration API requests.

Where the files are: the layer's own, `talon_relay/webhooks/<platform>/topics/*.json` (shipped with the layer:
change one and `sam deploy`), then, when WEBHOOK_MAPPINGS_DIR is set, `<that dir>/<platform>/*.json`,
whose files replace the layer's topic by topic (e.g. a layer of your own mounted under /opt). They are
read once per container; a file that is not a valid mapping is a configuration error naming the file.

Mapping: each expression is evaluated with Powertools' JMESPath `query` (its functions and the
relay's, `mapping_model.RelayFunctions`); nulls are left out; each step's request is checked by
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
from talon_relay.webhooks.mapping_model import FUNCTIONS, Step, TopicMapping

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


def step_request(step: Step, payload: Any) -> Request:
    """One step's request, checked as strictly as a caller's; InvalidRequest says what is wrong."""
    operation = OPERATIONS[step.operation]
    params = _values(step.params, payload, "params")
    query_params = _values(step.query, payload, "query")
    body = None if step.body is None else _render(step.body, payload, "")
    return parse_request(operation, params, body, query=query_params)


def apply(mapping: TopicMapping, payload: Any) -> list[Request]:
    """The requests a webhook's payload maps to, in order; InvalidRequest (a dead letter) when one
    of them cannot be made or is not valid, before any of them is sent."""
    out: list[Request] = []
    for index, step in enumerate(mapping.steps, start=1):
        what = f"{mapping.topic} step {index} ({step.operation})"
        try:
            out.append(step_request(step, payload))
        except _Unmappable as exc:
            raise InvalidRequest.single("Unmappable webhook", f"{what}: {exc}", pointer="/body") from None
        except InvalidRequest as exc:
            raise InvalidRequest(exc.response.errors or [], f"{what} does not map to a valid request") from None
    return out


def group_of(mapping: TopicMapping, payload: Any) -> str | None:
    """The FIFO group of a webhook by its mapping (None: none could be read from the payload)."""
    if mapping.group is None or payload is None:
        return None
    try:
        value = evaluate(mapping.group, payload)
    except _Unmappable:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None
