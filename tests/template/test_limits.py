"""The stack deploys: within CloudFormation's limits, with headroom, as CloudFormation counts them.

CloudFormation counts the template after the SAM transform (a function with AutoPublishAlias and two API
events is six resources, not one). These tests transform template.yaml locally with samtranslator (what
`sam deploy` runs in CloudFormation's place; no AWS account is asked anything) and count each stack: the
root and every area's nested stack (template/nested.py). They do it for today's table and for the table
grown to 45 functions with synthetic entries (copies of a read and of the queued writes under new names),
so that the operations still to come fit without anyone having to measure again. docs/deploying.md has
the numbers.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.nested import local_location
from local.template import load_template
from template import nested, render
from tests.template.helpers import TABLE, TEMPLATE

#: CloudFormation's quotas (per stack): resources, and the body of a template sam deploy uploads to S3
#: (inline, 51,200 bytes, is never used: sam deploy always uploads), parameters and outputs.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_048_576
MAX_PARAMETERS = 200
#: ... and SAM's for a nested application (AWS::Serverless::Application): 60 parameters.
MAX_NESTED_PARAMETERS = 60
MAX_OUTPUTS = 200
#: What the tests hold each stack to: a fifth of every quota left for what comes after.
HEADROOM = 0.8
#: The function count the table is expected to reach (issue 20: 35 SDK methods, v3 events, webhooks).
FUNCTIONS_PLANNED = 45


@dataclass(frozen=True)
class Entry:
    """A synthetic table entry (the fields template/render.py reads)."""

    name: str
    method: str
    path: str
    function: str
    fifo: bool = False
    schedule: bool = False
    webhook: str | None = None
    last_write_wins: bool = False
    group_by: str | None = None
    shared_queue: str | None = None

    @property
    def queued(self) -> bool:
        return self.method.upper() != "GET"

    @property
    def polls(self) -> bool:  # (no synthetic entry is on a shared queue: each polls its own)
        return self.queued

    @property
    def own_queue(self) -> bool:
        return self.queued

    @property
    def webhook_steps_queued(self) -> bool:  # (no synthetic entry takes webhook steps on its queue)
        return False

    @property
    def coalesce(self) -> bool:  # (no synthetic entry is coalesced)
        return False


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """`template` as `sam package` leaves it: code and nested templates at S3 addresses."""
    packed = copy.deepcopy(template)
    for resource in packed["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://artifacts/{props[key].strip('/')}"
        if local_location(resource):
            props["Location"] = f"https://artifacts.s3.amazonaws.com/{props['Location']}"
    return packed


def transform(template: dict[str, Any]) -> dict[str, Any]:
    """The SAM transform of a packaged template, done locally (a region is named; nothing is called)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    session = boto3.session.Session(region_name="eu-west-1")
    translator = Translator(None, Parser(), boto_session=session)
    result: dict[str, Any] = translator.translate(
        packaged(template), parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return result


@dataclass
class Measured:
    """One stack as CloudFormation receives it: its transformed template and the bytes sam uploads."""

    name: str
    template: dict[str, Any]
    uploaded_bytes: int

    @property
    def resources(self) -> int:
        return len(self.template["Resources"])

    @property
    def body_bytes(self) -> int:
        return max(self.uploaded_bytes, len(json.dumps(self.template, separators=(",", ":"))))


def measure(template_path: Path) -> list[Measured]:
    """The root stack and each nested stack of `template_path`, transformed where it needs to be."""
    root = load_template(template_path, nested=False)
    stacks = [Measured("root", transform(root), len(template_path.read_bytes()))]
    for resource in root["Resources"].values():
        if location := local_location(resource):
            path = template_path.parent / location
            child = load_template(path, nested=False)
            body = transform(child) if "Transform" in child else child
            stacks.append(Measured(location, body, len(path.read_bytes())))
    return stacks


def synthetic_table(count: int) -> list[Any]:
    """Today's table grown to `count` functions: alternately a read (like getCustomerSession) and a write
    queued like today's writes (FIFO per customer; every third on a standard queue), in three new areas."""
    table: list[Any] = list(TABLE)
    index = 0
    while len(table) < count:
        area = ("synthetic_reads", "synthetic_writes", "synthetic_cards")[index % 3]
        if index % 2 == 0:
            entry = Entry(f"getSynthetic{index}", "GET", f"/v9/{area}/{{id}}/item{index}", f"get_synthetic_{index}")
        else:
            fifo = index % 3 != 0
            entry = Entry(
                f"putSynthetic{index}", "PUT", f"/v9/{area}/{{id}}/item{index}", f"put_synthetic_{index}", fifo
            )
        table.append(entry)
        index += 1
    return table


def assert_within_limits(stacks: list[Measured]) -> None:
    for stack in stacks:
        where = f"{stack.name}: {dict(Counter(r['Type'] for r in stack.template['Resources'].values()))}"
        assert stack.resources <= MAX_RESOURCES * HEADROOM, where
        assert stack.body_bytes <= MAX_TEMPLATE_BYTES * HEADROOM, stack.name
        quota = MAX_PARAMETERS if stack.name == "root" else MAX_NESTED_PARAMETERS
        assert len(stack.template.get("Parameters") or {}) <= quota * HEADROOM, stack.name
        assert len(stack.template.get("Outputs") or {}) <= MAX_OUTPUTS * HEADROOM, stack.name


@pytest.fixture(scope="module")
def today() -> list[Measured]:
    return measure(TEMPLATE)


def test_todays_stacks_are_within_cloudformations_limits_with_headroom(today: list[Measured]) -> None:
    # Given template.yaml and its nested stacks, transformed as CloudFormation transforms them
    # Then each stack holds at most 400 resources (of 500), and its template at most 80 % of every quota
    assert_within_limits(today)
    # And each area passes its queues to its nested stack in lists that fit a parameter (4,096 bytes)
    for area in {render.area_of(op) for op in TABLE}:
        queues = 2 * sum(1 for op in TABLE if op.queued and render.area_of(op) == area)
        assert queues <= nested.MAX_OWN_RESOURCES * HEADROOM, area
    # And every area has its nested stack, the functions staying in the root, one per operation
    [root, *area_stacks] = today
    assert len(area_stacks) == len({render.area_of(op) for op in TABLE})
    functions = [r for r in root.template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == len(TABLE)


def test_the_table_can_grow_to_the_planned_functions_within_the_limits(tmp_path: Path) -> None:
    # Given the table grown to 45 functions (about half reads, half queued writes)
    table = synthetic_table(FUNCTIONS_PLANNED)
    text, documents = render.render_stacks(render.BASE.read_text(), table)
    path = tmp_path / "template.yaml"
    render.write_stacks(path, text, documents)

    # When it is transformed as CloudFormation transforms it
    stacks = measure(path)

    # Then it deploys with headroom still: each stack within 80 % of every quota
    assert_within_limits(stacks)
    root = stacks[0]
    functions = [r for r in root.template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == FUNCTIONS_PLANNED


def test_a_function_costs_the_root_stack_five_to_eight_resources(tmp_path: Path) -> None:
    # Given today's table, and the same table with one more read and one more queued write (in an area
    # that has a nested stack already)
    def root_resources(entries: list[Any], name: str) -> int:
        text, documents = render.render_stacks(
            render.BASE.read_text(), entries, lambda op: "sessions" if "Synthetic" in op.name else render.area_of(op)
        )
        path = tmp_path / name / "template.yaml"
        render.write_stacks(path, text, documents)
        return measure(path)[0].resources

    base = root_resources(list(TABLE), "base")
    read = Entry("getSyntheticRead", "GET", "/v1/customer_sessions/{id}/synthetic", "get_synthetic_read")
    write = Entry("putSyntheticWrite", "PUT", "/v1/customer_sessions/{id}/synthetic", "put_synthetic_write", True)

    # Then a read adds 5 resources to the root (function, version, alias, a permission per API), a queued
    # write 8 (and its queue, dead-letter queue and event source); the rest goes to its area's stack
    assert root_resources([*TABLE, read], "read") - base == 5
    assert root_resources([*TABLE, write], "write") - base == 8
