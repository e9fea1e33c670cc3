"""The nested stacks of template.yaml put back into the one stack they describe.

template.yaml keeps each area's roles, log groups and alarms in a nested stack (an
AWS::Serverless::Application whose Location is a local template, written by template/nested.py). The
local stack and the template tests read the stack as one: each nested template's parameters are replaced
by the root's expressions passed to them, its resources and conditions join the root's, and each
`!GetAtt <Stack>.Outputs.<name>` of the root becomes the output's value. What comes out is the template
the single stack would have been.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

NESTED = "AWS::Serverless::Application"
_SUB_VAR = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}")


def local_location(resource: dict[str, Any]) -> str | None:
    """The local template path of a nested stack (None for a remote application or another resource)."""
    if resource.get("Type") != NESTED:
        return None
    location = (resource.get("Properties") or {}).get("Location")
    if isinstance(location, str) and not re.match(r"^(s3|https?)://", location):
        return location
    return None


def flatten(template: dict[str, Any], root: Path, load: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """`template` with its local nested stacks merged in (`root`: the folder of template.yaml)."""
    resources = template.get("Resources") or {}
    nested = {key: location for key, res in resources.items() if (location := local_location(res))}
    if not nested:
        return template
    merged = copy.deepcopy(template)
    outputs: dict[str, dict[str, Any]] = {}
    for key, location in nested.items():
        child = load(root / location)
        passed = (resources[key].get("Properties") or {}).get("Parameters") or {}
        types = {name: (spec or {}).get("Type") for name, spec in (child.get("Parameters") or {}).items()}
        child = _simplify(_substitute(child, {name: _unjoin(value, types.get(name)) for name, value in passed.items()}))
        del merged["Resources"][key]
        for name, value in (child.get("Resources") or {}).items():
            if name in merged["Resources"]:
                raise ValueError(f"{location} declares {name}, which the stack already has")
            merged["Resources"][name] = value
        conditions = merged.setdefault("Conditions", {})
        for name, value in (child.get("Conditions") or {}).items():
            if conditions.setdefault(name, value) != value:
                raise ValueError(f"{location} defines the condition {name} unlike template.yaml")
        outputs[key] = {name: spec["Value"] for name, spec in (child.get("Outputs") or {}).items()}
    # an output may name another nested stack's output (passed as a parameter): resolve until none is left
    for _ in range(len(nested) + 1):
        resolved = _resolve_outputs(merged, outputs)
        if resolved == merged:
            return merged
        merged = resolved
    raise ValueError("the nested stacks' outputs refer to each other in a circle")


def _simplify(node: Any) -> Any:
    """`node` with each `!Select [i, <list as passed>]` the item itself, and each !Sub variable that only
    names a resource (`!Sub ["... ${V}", {V: !GetAtt X.A}]`) written in the text (`${X.A}`)."""
    if isinstance(node, list):
        return [_simplify(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _simplify(value) for key, value in node.items()}
    select = node.get("Fn::Select")
    if len(node) == 1 and isinstance(select, list) and isinstance(select[1], list):
        return select[1][int(select[0])]
    sub = node.get("Fn::Sub")
    if len(node) == 1 and isinstance(sub, list) and all(_sub_name(v) for v in sub[1].values()):
        text = sub[0]
        for name, value in sub[1].items():
            text = text.replace("${" + name + "}", "${" + str(_sub_name(value)) + "}")
        return {"Fn::Sub": text}
    return node


def _unjoin(value: Any, kind: str | None) -> Any:
    """A list passed as `!Join [",", list]` to a CommaDelimitedList parameter is that list."""
    if kind == "CommaDelimitedList" and isinstance(value, dict) and list(value) == ["Fn::Join"]:
        return value["Fn::Join"][1]
    return value


def _sub_name(value: Any) -> str | None:
    """How `${...}` names a Ref or GetAtt value (None when it cannot)."""
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return str(value["Ref"])
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        return ".".join(value["Fn::GetAtt"])
    return None


def _map_subs(node: Any, rename: Callable[[str, str | None], str | None]) -> Any:
    """`node` with Refs left alone and each Fn::Sub variable renamed by `rename` (None: unchanged)."""

    def sub(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            new = rename(match.group(1), match.group(2))
            return match.group(0) if new is None else "${" + new + "}"

        return _SUB_VAR.sub(one, text)

    if isinstance(node, dict):
        if list(node) == ["Fn::Sub"]:
            body = node["Fn::Sub"]
            if isinstance(body, str):
                return {"Fn::Sub": sub(body)}
            return {"Fn::Sub": [sub(body[0]), _map_subs(body[1], rename)]}
        return {key: _map_subs(value, rename) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_subs(item, rename) for item in node]
    return node


def _substitute(node: Any, values: dict[str, Any]) -> Any:
    """`node` with every Ref to a parameter in `values`, and its `${...}`, replaced by the value passed."""

    def rename(name: str, attr: str | None) -> str | None:
        if name not in values or attr:
            return None
        new = _sub_name(values[name])
        if new is None:
            raise ValueError(f"the parameter {name} is used in a Fn::Sub but passed as {values[name]!r}")
        return new

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if list(item) == ["Ref"] and item["Ref"] in values:
                return copy.deepcopy(values[item["Ref"]])
            return {key: walk(value) for key, value in item.items()}
        if isinstance(item, list):
            return [walk(value) for value in item]
        return item

    return walk(_map_subs(node, rename))


def _resolve_outputs(node: Any, outputs: dict[str, dict[str, Any]]) -> Any:
    def value(stack: str, path: str | None) -> Any:
        if path is None or not path.startswith("Outputs.") or stack not in outputs:
            return None
        return outputs[stack].get(path.removeprefix("Outputs."))

    def rename(name: str, attr: str | None) -> str | None:
        found = value(name, attr)
        return None if found is None else _sub_name(found)

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if list(item) == ["Fn::GetAtt"] and isinstance(item["Fn::GetAtt"], list):
                stack, path = item["Fn::GetAtt"][0], ".".join(item["Fn::GetAtt"][1:])
                found = value(stack, path)
                if found is not None:
                    return copy.deepcopy(found)
            return {key: walk(v) for key, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(_map_subs(node, rename))
