"""EffectsToEventBus: the bus is opt-in for the answers' effects (docs/events.md).

With the template's defaults a function of the operation table has neither the bus's name in its
environment nor events:PutEvents in its role, so its API and queue paths are as without the bus;
`EffectsToEventBus=enabled` gives every function both. Talon.One's notifications receiver publishes
whatever the parameter says (the bus is created either way).

The template is read as CloudFormation would resolve it for those parameter values (local/template.py's
Resolver: conditions, Fn::If, AWS::NoValue).
"""

from __future__ import annotations

from typing import Any

from local.template import Resolver, read_stack
from talon_relay.operations import Operation
from tests.template.helpers import function_properties, ops, prefix

#: The variables that make a function publish (core/bus.py reads them).
BUS_VARIABLES = {"EVENT_BUS_NAME", "EVENTS_DEAD_LETTER_QUEUE_URL"}


class _Attributes(dict[tuple[str, str], str]):
    """Any resource's attribute, as `<id>.<attribute>` (the test only compares them)."""

    def __missing__(self, key: tuple[str, str]) -> str:
        return ".".join(key)


def resolver(template: dict[str, Any], **parameters: str) -> Resolver:
    """The template's intrinsics for its defaults, overridden by `parameters`."""
    values = {name: spec.get("Default") for name, spec in template["Parameters"].items()} | parameters
    pseudo = {
        "AWS::StackName": "relay",
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    refs = {key: key for key in template["Resources"]}
    return Resolver(values, refs, _Attributes(), pseudo, template.get("Conditions"), template.get("Mappings"))


def environment(template: dict[str, Any], op: Operation, resolve: Resolver) -> dict[str, Any]:
    variables = function_properties(template, op).get("Environment", {}).get("Variables", {})
    resolved: dict[str, Any] = resolve.resolve(variables)
    return resolved


def bus_statements(template: dict[str, Any], op: Operation, resolve: Resolver) -> list[dict[str, Any]]:
    """The role's statements that reach the bus or its dead-letter queue."""
    policies = resolve.resolve(template["Resources"][f"{prefix(op)}FunctionRole"]["Properties"]["Policies"])
    statements = [s for policy in policies for s in policy["PolicyDocument"]["Statement"]]
    reach = ("RelayEventBus.Arn", "RelayEventsDeadLetterQueue.Arn")
    return [s for s in statements if s["Action"] == "events:PutEvents" or s["Resource"] in reach]


def test_the_parameter_defaults_to_disabled(parameters: dict[str, Any]) -> None:
    parameter = parameters["EffectsToEventBus"]
    assert parameter["Default"] == "disabled"
    assert parameter["AllowedValues"] == ["enabled", "disabled"]


@ops
def test_with_the_defaults_only_the_notifications_receiver_reaches_the_bus(
    template: dict[str, Any], op: Operation
) -> None:
    # Given the template with its default parameter values
    resolve = resolver(template)

    # Then an operation's function has neither the bus's name nor a right to put events
    env, statements = environment(template, op, resolve), bus_statements(template, op, resolve)
    if op.webhook == "talon_one":  # (the notifications receiver publishes every notification, always)
        assert env["EVENT_BUS_NAME"] == "RelayEventBus"
        assert {s["Sid"] for s in statements} == {"PublishEvents", "DeadLetterEvents"}
    else:
        assert BUS_VARIABLES.isdisjoint(env)
        assert statements == []
    # And the bus itself is created all the same (free until something is put on it)
    assert resolve.creates(read_stack(template), "RelayEventBus")


@ops
def test_enabled_every_function_publishes_on_the_bus_alone(template: dict[str, Any], op: Operation) -> None:
    # Given EffectsToEventBus=enabled
    resolve = resolver(template, EffectsToEventBus="enabled")

    # Then every function has the bus's name and may put events on that bus alone, and dead-letter
    # what it refused
    env = environment(template, op, resolve)
    assert env["EVENT_BUS_NAME"] == "RelayEventBus"
    assert env["EVENTS_DEAD_LETTER_QUEUE_URL"] == "RelayEventsDeadLetterQueue"
    statements = {s["Sid"]: s for s in bus_statements(template, op, resolve)}
    assert statements["PublishEvents"]["Resource"] == "RelayEventBus.Arn"
    assert statements["DeadLetterEvents"] == {
        "Sid": "DeadLetterEvents",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": "RelayEventsDeadLetterQueue.Arn",
    }
