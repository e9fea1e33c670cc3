"""The areas' nested stacks fit the root as CloudFormation joins them (template/nested.py), and the local
stack reads them back as the one stack they describe (local/nested.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from local.nested import local_location
from local.template import load_template
from template.render import area_of
from tests.template.helpers import TABLE, TEMPLATE, kebab, of_type, prefix


def stacks() -> dict[str, dict[str, Any]]:
    """The root's nested applications: logical id -> {"resource": ..., "template": ...}."""
    root = load_template(TEMPLATE, nested=False)
    found = {}
    for key, resource in root["Resources"].items():
        if location := local_location(resource):
            found[key] = {"resource": resource, "template": load_template(TEMPLATE.parent / location, nested=False)}
    return found


def test_each_nested_stack_gets_every_parameter_it_declares_and_nothing_else() -> None:
    # Given the root's nested applications and their templates
    for key, stack in stacks().items():
        passed = set(stack["resource"]["Properties"]["Parameters"])
        declared = set(stack["template"]["Parameters"])
        # Then each is passed exactly the parameters it declares (CloudFormation refuses a missing or an
        # unknown one), none with a default to fall back on
        assert passed == declared, key
        assert all("Default" not in spec for spec in stack["template"]["Parameters"].values()), key


def test_every_output_the_root_reads_is_one_its_nested_stack_gives() -> None:
    # Given every `<Stack>.Outputs.<name>` the root template names
    root_text = TEMPLATE.read_text()
    named = set(re.findall(r"([A-Za-z0-9]+Stack)\.Outputs\.([A-Za-z0-9]+)", root_text))
    given = {(key, name) for key, stack in stacks().items() for name in stack["template"].get("Outputs") or {}}
    # Then each is an output of that stack, and no stack gives one nobody reads
    assert named == given


def test_the_functions_stay_in_the_root_their_roles_and_alarms_in_their_areas_stacks() -> None:
    # Given the root template alone, and the nested templates
    root = load_template(TEMPLATE, nested=False)
    areas = stacks()
    nested = {name for stack in areas.values() for name in stack["template"]["Resources"]}
    dumped = json.dumps([stack["template"] for stack in areas.values()])
    for op in TABLE:
        # Then each operation's function (and its queues) is in the root, one function per operation
        assert f"{prefix(op)}Function" in root["Resources"]
        # And its role, log group and alarms are in its area's nested stack
        assert {f"{prefix(op)}FunctionRole", f"{prefix(op)}LogGroup", f"{prefix(op)}ErrorsAlarm"} <= nested
        # And nothing in a nested stack references a function (the function needs its role: a cycle);
        # an alarm names it instead
        assert f'"{prefix(op)}Function"' not in dumped
    assert not of_type(root["Resources"], "AWS::IAM::Role").keys() & {f"{prefix(op)}FunctionRole" for op in TABLE}


def test_the_local_stack_reads_the_nested_stacks_as_one_stack() -> None:
    # Given template.yaml read as the local stack reads it
    template = load_template(TEMPLATE)
    resources = template["Resources"]
    # Then no nested application is left, and each function's role and log group are the ones of its area
    assert not of_type(resources, "AWS::Serverless::Application")
    for op in TABLE:
        props = resources[f"{prefix(op)}Function"]["Properties"]
        assert props["Role"] == {"Fn::GetAtt": [f"{prefix(op)}FunctionRole", "Arn"]}
        assert props["LoggingConfig"]["LogGroup"] == {"Ref": f"{prefix(op)}LogGroup"}
        group = resources[f"{prefix(op)}LogGroup"]["Properties"]["LogGroupName"]
        assert group == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{area_of(op)}/{kebab(op)}"}
