"""An in-place `sam deploy` over the previous release succeeds: no resource CloudFormation names
explicitly changes stacks (or logical id) while keeping its name.

CloudFormation creates a resource's new home before it deletes the old one (the cleanup phase), so a
name that moves, e.g. a log group from the root to an area's nested stack, is refused as "already
exists" and the whole update rolls back. The previous release's explicit names are
`previous_root_names.json` (the root-only layout, before the nested stacks; docs/deploying.md,
"Upgrading"), read here as they were deployed, not recomputed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from local.nested import local_location
from local.template import load_template
from tests.template.helpers import TABLE, TEMPLATE, kebab, prefix

#: The property that gives a resource of each type its physical name, where that name is unique in the
#: account and region (two resources cannot hold it at once); None: no such name (generated, or names
#: that may repeat, as an API's or a layer's). A type not listed fails the tests: decide it here.
PHYSICAL_NAME: dict[str, str | None] = {
    "AWS::ApiGateway::Account": None,
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Logs::MetricFilter": "FilterName",
    "AWS::SNS::Subscription": None,
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SQS::QueuePolicy": None,
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Serverless::Api": None,  # a REST API's name may repeat
    "AWS::Serverless::Application": None,  # the nested stack's name is generated
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": None,  # a new version of the same name, never a collision
}
FIXTURE = Path(__file__).with_name("previous_root_names.json")
#: The stack name the names are read under (any: every stack of the release names its resources alike).
STACK = "prod"


def resolved(name: Any, variables: dict[str, str]) -> str:
    """A physical name as deployed under stack STACK: a !Sub's known variables filled in, an unknown
    one or another expression left as written (so that two different expressions never look equal)."""
    if isinstance(name, str):
        return name
    if isinstance(name, dict) and list(name) == ["Fn::Sub"]:
        body, local = (name["Fn::Sub"], {}) if isinstance(name["Fn::Sub"], str) else name["Fn::Sub"]
        known = {**variables, **{k: v for k, v in local.items() if isinstance(v, str)}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: known.get(m.group(1), m.group(0)), body)
    return json.dumps(name, sort_keys=True)


def physical_names(template: dict[str, Any], variables: dict[str, str]) -> dict[str, tuple[str, str]]:
    """logical id -> (type, physical name) for every resource the template names explicitly."""
    found = {}
    for key, resource in template["Resources"].items():
        assert resource["Type"] in PHYSICAL_NAME, f"{key}: decide {resource['Type']}'s physical name in PHYSICAL_NAME"
        prop = PHYSICAL_NAME[resource["Type"]]
        if prop and prop in (resource.get("Properties") or {}):
            found[key] = (resource["Type"], resolved(resource["Properties"][prop], variables))
    return found


def root_names() -> dict[str, tuple[str, str]]:
    return physical_names(load_template(TEMPLATE, nested=False), {"AWS::StackName": STACK})


def area_names() -> dict[str, dict[str, tuple[str, str]]]:
    """Each nested stack's names by its area, its parameter StackName the root's name (template/nested.py)."""
    root = load_template(TEMPLATE, nested=False)
    found = {}
    for resource in root["Resources"].values():
        if location := local_location(resource):
            assert resource["Properties"]["Parameters"].get("StackName", {"Ref": "AWS::StackName"}) == {
                "Ref": "AWS::StackName"
            }
            nested = load_template(TEMPLATE.parent / location, nested=False)
            found[Path(location).stem] = physical_names(nested, {"StackName": STACK, "AWS::StackName": "nested"})
    return found


def previous() -> dict[str, tuple[str, str]]:
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return {key: (type_, name.replace("${AWS::StackName}", STACK)) for key, (type_, name) in fixture["names"].items()}


def test_the_fixture_is_the_previous_root_only_layout() -> None:
    # Given the previous release's names
    names = previous()
    functions = {name for type_, name in names.values() if type_ == "AWS::Serverless::Function"}
    groups = {name for type_, name in names.values() if type_ == "AWS::Logs::LogGroup"}
    # Then it is the layout the upgrade starts from: each function's log group /aws/lambda/<function>
    # beside it in the one stack, under the name Lambda would have given it
    assert functions
    assert {f"/aws/lambda/{function}" for function in functions} <= groups


def test_no_name_the_previous_release_deployed_moves_to_a_nested_stack() -> None:
    # Given the names the previous release's single stack held, and those of today's nested stacks
    before = {name: key for key, (_, name) in previous().items()}
    nested = {name: (area, key) for area, names in area_names().items() for key, (_, name) in names.items()}
    # Then no nested stack creates a resource under a name the root still held at the time of the create
    moved = {name: (before[name], nested[name]) for name in before.keys() & nested.keys()}
    assert not moved, f"created in a nested stack before the root lets go of it ('already exists'): {moved}"


def test_a_name_the_root_keeps_stays_with_its_resource() -> None:
    # Given the names the previous release's root held, and today's root
    before = previous()
    now = {name: (key, type_) for key, (type_, name) in root_names().items()}
    for key, (type_, name) in before.items():
        # Then a name still in the root is the same resource (an update in place), not a new logical id
        # created beside the old one under its name
        if name in now:
            assert now[name] == (key, type_), name


def test_each_nested_stack_names_its_resources_after_its_area() -> None:
    # Given each area's explicitly named resources
    for area, names in area_names().items():
        for key, (_, name) in names.items():
            # Then each name holds the area: an operation moved to another area module gets new names
            # there instead of colliding with its old stack's
            assert f"/{area}/" in name, (area, key, name)
    # And no two resources of the release share a name
    every = [name for _, name in root_names().values()]
    every += [name for names in area_names().values() for _, name in names.values()]
    assert len(every) == len(set(every))


def test_each_function_logs_to_its_areas_log_group_under_a_new_name() -> None:
    # Given the local stack's single template (the nested stacks merged back)
    resources = load_template(TEMPLATE)["Resources"]
    names = {area: {key for key in found} for area, found in area_names().items()}
    for op in TABLE:
        group = f"{prefix(op)}LogGroup"
        area = next(area for area, keys in names.items() if group in keys)
        # Then the function's LoggingConfig names its log group, /aws/lambda/<stack>/<area>/<function>
        assert resources[f"{prefix(op)}Function"]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group}
        assert resources[group]["Properties"]["LogGroupName"] == {
            "Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{area}/{kebab(op)}"
        }
