"""The format of a mapping file: what one topic of a platform's webhooks becomes at Talon.One.

One file per topic, `talon_relay/webhooks/<platform>/topics/<topic, "/" as "_">.json`, holds a TopicMapping:

    {"topic": "orders/paid", "group": "cart_token || checkout_token",
     "steps": [{"operation": "updateCustomerSessionV2",
                "params": {"customerSessionId": "cart_token || checkout_token"},
                "query": {},
                "body": {"customerSession": {"state": "'closed'", "cartItems": "line_items[].{...}"}}}]}

Every string of `params`, `query`, `group` and `body` is a JMESPath expression over the webhook's JSON
payload (a literal string is quoted: `'closed'`); numbers, booleans and null in `body` are literals. A
field whose expression gives null is left out of the request. A step's `operation` is an Integration API
entry of the operation table, and what the steps produce goes through the same strict checker as any
caller's request. Steps run in order; none, and nothing to forget: the topic is acknowledged and counted.

A step may run only `when` an expression holds, once per element of an array (`each`), and under its
own idempotency base (`key`, e.g. a refund's id). `order` reads (`recall`) and writes (`remember`) the
relay's record of an order, which later topics (refunds, edits) need because their payloads name only
the order, and deletes such records (`forget`: the orders named; `forget_shop`: every one of the shop);
`requires` are checks that dead-letter a webhook with their reason before anything is sent.
Expressions may use a deployment's conventions as `$name` (conventions.py).

The models check a file when it is loaded (the layer has no jsonschema). Operators' editors get the
same rules as `talon_relay/webhooks/mapping.schema.json`, generated from these models by
`make mapping-schema` (a test keeps the two equal).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from talon_relay.operations import OPERATIONS
from talon_relay.webhooks.functions import FUNCTIONS

SCHEMA_FILE = Path(__file__).resolve().parent / "mapping.schema.json"
MAX_STEPS = 10

Expression = Annotated[
    str,
    Field(
        min_length=1,
        description="A JMESPath expression over the webhook's JSON payload (a literal string is quoted: 'closed')",
    ),
]


_FUNCTION_NAMES = frozenset(FUNCTIONS.FUNCTION_TABLE)


def _function_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            yield str(node.get("value"))
        for child in node.get("children") or []:
            yield from _function_names(child)


def check_expression(expression: str, where: str) -> None:
    """Raise ValueError unless `expression` is JMESPath calling only functions the mappings have."""
    try:
        parsed = jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"{where}: not a JMESPath expression: {exc}") from None
    unknown = sorted(set(_function_names(parsed.parsed)) - _FUNCTION_NAMES)
    if unknown:
        raise ValueError(f"{where}: unknown JMESPath function(s) {unknown}")


def template_expressions(template: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, expression) of every string of a body template."""
    if isinstance(template, str):
        yield pointer, template
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from template_expressions(value, f"{pointer}/{key}")
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from template_expressions(value, f"{pointer}/{index}")


def _named_attributes(template: Any, pointer: str = "") -> Iterator[str]:
    """Pointers of `attributes` that are not objects naming each attribute (data minimisation)."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key == "attributes" and not isinstance(value, dict):
                yield f"{pointer}/{key}"
            yield from _named_attributes(value, f"{pointer}/{key}")
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from _named_attributes(value, f"{pointer}/{index}")


class Step(BaseModel):
    """One Integration API call a webhook becomes."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(description="operationId of an Integration API entry of the operation table")
    params: dict[str, Expression] = Field(default_factory=dict, description="every path parameter, by spec name")
    query: dict[str, Expression] = Field(default_factory=dict, description="query parameters, by spec name")
    body: dict[str, JsonValue] | Expression | None = Field(
        default=None,
        description=(
            "the request body: a JSON template whose strings are expressions, or one expression. An "
            "`attributes` object names each attribute it copies: only those reach Talon.One"
        ),
    )
    when: Expression | None = Field(
        default=None,
        description="run the step only when this is true (JMESPath truth: not null, false, empty); none: always",
    )
    key: Expression | None = Field(
        default=None,
        description=(
            "what identifies the step's work across deliveries (e.g. a refund's id): its idempotency key is "
            "`<this>#<step>`, so a replay under any webhook or event id is sent once; none: the webhook's own"
        ),
    )
    each: Expression | None = Field(
        default=None,
        description=(
            "an array: the step runs once per element, its expressions reading the element as `relay_item` "
            "(each run with its own idempotency key); an empty or missing array: the step sends nothing"
        ),
    )

    @model_validator(mode="after")
    def _fits_the_operation(self) -> Step:
        op = OPERATIONS.get(self.operation)
        if op is None or op.webhook is not None:
            known = sorted(name for name, entry in OPERATIONS.items() if entry.webhook is None)
            raise ValueError(f"operation {self.operation!r} is not an Integration API operation of the table: {known}")
        problems: list[str] = []
        if set(self.params) != set(op.path_params):
            problems.append(f"params must be exactly {sorted(op.path_params)} for {op.name}, not {sorted(self.params)}")
        unknown_query = sorted(set(self.query) - {param.name for param in op.query_params})
        if unknown_query:
            problems.append(f"{op.name} takes no query parameter {unknown_query}")
        if op.body is None and self.body is not None:
            problems.append(f"{op.name} takes no body")
        if op.body_required and self.body is None:
            problems.append(f"{op.name} needs a body")
        problems += [f"body{where}: name each attribute in an object (data minimisation)" for where in self.loose()]
        for where, expression in self.expressions():
            try:
                check_expression(expression, where)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def loose(self) -> list[str]:
        return list(_named_attributes(self.body)) if isinstance(self.body, dict) else []

    def expressions(self) -> Iterator[tuple[str, str]]:
        for name, expression in self.params.items():
            yield f"params.{name}", expression
        for name, expression in self.query.items():
            yield f"query.{name}", expression
        for pointer, expression in template_expressions(self.body):
            yield f"body{pointer}", expression
        for name in ("when", "key", "each"):
            if (expression := getattr(self, name)) is not None:
                yield name, expression


class Requirement(BaseModel):
    """What a webhook must satisfy to be mapped at all: false, and it is dead-lettered with the reason."""

    model_config = ConfigDict(extra="forbid")

    check: Expression = Field(description="true (JMESPath truth) for a webhook that can be mapped")
    reason: str = Field(min_length=1, description="the dead letter's reason when it is not (no payload values)")


class Remember(BaseModel):
    """An order the relay keeps: its session and lines as Talon.One has them, for later topics."""

    model_config = ConfigDict(extra="forbid")

    order: Expression = Field(description="the order's id (its record's key, with the shop)")
    session: Expression = Field(description="the Talon.One session the order closed")
    lines: Expression = Field(
        description=(
            "the cart items as sent, in order, each with the platform's line `id`: their positions in the "
            "session are their indexes (kept as `position`)"
        )
    )


class OrderMemory(BaseModel):
    """The relay's record of an order (aws.store, one item per order): read before the steps are
    made (`recall`), written after they went through (`remember`)."""

    model_config = ConfigDict(extra="forbid")

    recall: Expression | None = Field(
        default=None,
        description=(
            "the id of the order whose record the expressions read as `relay_order` {order, session, lines, "
            "application}; no record: dead-lettered, nothing sent"
        ),
    )
    remember: Remember | None = Field(default=None, description="the order's record, written once all steps went")
    forget: Expression | None = Field(
        default=None,
        description="the ids of the orders whose records the relay deletes once the steps went (a list, or one)",
    )
    forget_shop: bool = Field(default=False, description="every order record of the webhook's shop is deleted")

    @property
    def forgets(self) -> bool:
        return self.forget is not None or self.forget_shop

    def expressions(self) -> Iterator[tuple[str, str]]:
        if self.recall is not None:
            yield "order.recall", self.recall
        if self.forget is not None:
            yield "order.forget", self.forget
        if self.remember is not None:
            for name in ("order", "session", "lines"):
                yield f"order.remember.{name}", getattr(self.remember, name)


class TopicMapping(BaseModel):
    """What one webhook topic becomes: the Talon.One operations to run, in order."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(default=None, alias="$schema", description="the schema's path, for editors")
    topic: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,60}(/[A-Za-z0-9_.-]{1,60}){0,3}$",
        description="the platform's topic, e.g. orders/paid; the file is named after it (orders_paid.json)",
    )
    description: str = Field(default="", description="what the mapping does, for the next reader")
    group: Expression | None = Field(
        default=None,
        description=(
            "the FIFO message group of the topic's webhooks (the customer's cart, session or profile), "
            "so one customer's webhooks run in order; none or null: the webhook's own id"
        ),
    )
    order: OrderMemory | None = Field(default=None, description="the relay's record of the order: read, written")
    requires: list[Requirement] = Field(
        default_factory=list, description="checks of the webhook (and the recalled order) before anything is sent"
    )
    steps: list[Step] = Field(
        max_length=MAX_STEPS,
        description="the operations to run, in order; empty: acknowledged and counted, nothing sent",
    )

    @model_validator(mode="after")
    def _group_compiles(self) -> TopicMapping:
        if self.group is not None:
            check_expression(self.group, "group")
        for where, expression in self.order.expressions() if self.order else ():
            check_expression(expression, where)
        for index, requirement in enumerate(self.requires):
            check_expression(requirement.check, f"requires[{index}].check")
        return self


def schema() -> dict[str, Any]:
    """The JSON Schema of a mapping file, as operators' editors read it."""
    document = TopicMapping.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "mapping.schema.json", **document}


def schema_text() -> str:
    return json.dumps(schema(), indent=2) + "\n"


def main() -> int:
    """`make mapping-schema`: write talon_relay/webhooks/mapping.schema.json from the models."""
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
