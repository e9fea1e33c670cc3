"""One nested stack per area of the operation table: what keeps the stack within CloudFormation's limits.

A stack holds at most 500 resources; each function brings 6 to 9 resources to the stack that declares it
(itself, its version and alias, a Lambda permission per API, its SQS event source, its two queues) and 5
to 9 more that only it uses (role, log group, alarms, its queues' TLS policies). The second kind goes to a
nested stack per area (`stacks/<area>.yaml`, an AWS::Serverless::Application of template.yaml): the root
stack keeps the functions, their queues (CloudFormation does not shorten a generated FIFO queue name,
and a nested stack's long name would push it past SQS's 80 characters) and everything shared.
docs/deploying.md has the numbers.

The nested text is the same text the single stack had; references are rewired here, in both directions,
so that local/nested.py can put the stacks back together into the single stack they describe:
- in a nested stack, a resource of the root is a parameter of the same name (`!GetAtt X.Arn`: `XArn`),
  `${AWS::StackName}` is the root stack's name (parameter `StackName`), and an expression naming a
  conditional resource (the alarm topic, the signing secret) is passed whole;
- in the root, a resource of a nested stack is one of its outputs (`!GetAtt <Area>Stack.Outputs.X[Attr]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

#: Root expressions that name a conditional resource: passed whole, as the parameter named here.
WHOLE = {
    "AlarmTopicTarget": "!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]",
    "CallerSigningSecretTarget": (
        "!If [CreateCallerSigningSecret, !Ref CallerSigningSecret, !Ref CallerSigningSecretArn]"
    ),
}
#: Conditions only the nested stacks use (the root would hold them unused): their definitions.
CONDITIONS: dict[str, Any] = {
    # the roles' statement on the other applications' secrets (docs/applications.md)
    "HasApplications": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "ApplicationSecretArns"}]}, ""]}]},
}
#: CloudFormation takes a parameter value of at most 4,096 bytes; the longest queue URL or ARN is about
#: 135 (an 80-character name, the longest region): how many own queues one list may carry.
MAX_PARAMETER_BYTES = 4096
LONGEST_QUEUE_ADDRESS = 135
MAX_OWN_RESOURCES = MAX_PARAMETER_BYTES // (LONGEST_QUEUE_ADDRESS + 1)
#: Where the nested templates are written, beside template.yaml (their Location in it).
FOLDER = "stacks"

_ID = re.compile(r"^  ([A-Za-z0-9]+):$", re.MULTILINE)
_REF = re.compile(r"!Ref ([A-Za-z0-9:]+)")
_GETATT = re.compile(r"!GetAtt ([A-Za-z0-9]+)\.([A-Za-z0-9]+)")
_SUB_VAR = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9]+))?\}")


def stack_id(area: str) -> str:
    """The logical id of an area's nested stack: customer_data -> CustomerDataStack."""
    return "".join(part.capitalize() for part in area.split("_")) + "Stack"


def logical_ids(text: str) -> list[str]:
    """The logical ids a block of Resources text declares (two-space indented keys)."""
    return _ID.findall(text)


@dataclass
class Nested:
    """One area's nested stack: its resources' text, and what it takes from and gives to the root."""

    area: str
    texts: list[str] = field(default_factory=list)
    #: parameter name -> the root expression passed (YAML text)
    parameters: dict[str, str] = field(default_factory=dict)
    #: output name -> its value (YAML text)
    outputs: dict[str, str] = field(default_factory=dict)
    #: the root resources of the area's operations besides their functions (their queues)
    own: set[str] = field(default_factory=set)

    @property
    def logical_id(self) -> str:
        return stack_id(self.area)

    @property
    def location(self) -> str:
        return f"{FOLDER}/{self.area}.yaml"

    @property
    def ids(self) -> set[str]:
        return {i for text in self.texts for i in logical_ids(text)}


class Split:
    """The root's text and the nested stacks, rewired: `root()` for each root block, then `nested()`."""

    def __init__(self, base: Mapping[str, Any], nested: Iterable[Nested]) -> None:
        self.base = base
        self.stacks = {stack.area: stack for stack in nested}
        self.owner = {i: stack for stack in self.stacks.values() for i in stack.ids}

    def root(self, text: str) -> str:
        """A root block with every reference to a nested stack's resource made one of its outputs."""

        def output(stack: Nested, name: str, attr: str | None) -> str:
            key = name + (attr or "")
            stack.outputs[key] = f"!GetAtt {name}.{attr}" if attr else f"!Ref {name}"
            return f"{stack.logical_id}.Outputs.{key}"

        def ref(match: re.Match[str]) -> str:
            stack = self.owner.get(match.group(1))
            return f"!GetAtt {output(stack, match.group(1), None)}" if stack else match.group(0)

        def getatt(match: re.Match[str]) -> str:
            stack = self.owner.get(match.group(1))
            return f"!GetAtt {output(stack, match.group(1), match.group(2))}" if stack else match.group(0)

        def sub(match: re.Match[str]) -> str:
            stack = self.owner.get(match.group(1))
            return "${" + output(stack, match.group(1), match.group(2)) + "}" if stack else match.group(0)

        return _SUB_VAR.sub(sub, _GETATT.sub(getatt, _REF.sub(ref, text)))

    def nested(self, stack: Nested, functions: set[str]) -> str:
        """The nested template's text. `functions`: the root's functions, which it must not reference (the
        functions need its roles and log groups: a reference back would be a cycle)."""
        local = stack.ids
        text = "\n".join(stack.texts)
        for name, expression in WHOLE.items():
            if expression in text:
                text = text.replace(expression, f"!Ref {name}")
                stack.parameters[name] = expression
        root_parameters = self.base.get("Parameters") or {}
        # The area's own root resources (its functions' queues) travel in one list per attribute, as a
        # nested application takes at most 60 parameters: `!Select [i, !Ref Own<attr>List]`.
        own: dict[str, list[str]] = {}

        def select(name: str, attr: str | None) -> str:
            items = own.setdefault(attr or "Ref", [])
            if name not in items:
                items.append(name)
            return f"!Select [{items.index(name)}, !Ref Own{attr or 'Ref'}List]"

        sub_vars: set[str] = set()

        def sub_line(match: re.Match[str]) -> str:
            """A one-line !Sub naming an own resource: its list form, the resource a variable of it."""
            found = {(m.group(1), m.group(2)) for m in _SUB_VAR.finditer(match.group(2)) if m.group(1) in stack.own}
            if not found:
                return match.group(0)
            body = match.group(2)
            variables = []
            for name, attr in sorted(found, key=lambda pair: (pair[0], pair[1] or "")):
                var = name + (attr or "")
                sub_vars.add(var)
                body = body.replace("${" + name + ("." + attr if attr else "") + "}", "${" + var + "}")
                variables.append(f"{var}: {select(name, attr)}")
            quoted = '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'
            return f"{match.group(1)}!Sub [{quoted}, {{{', '.join(variables)}}}]"

        text = re.sub(r"^(\s*[A-Za-z]+: )!Sub (.+)$", sub_line, text, flags=re.MULTILINE)

        def parameter(name: str, attr: str | None) -> str:
            if name == "AWS::StackName":
                stack.parameters["StackName"] = "!Ref AWS::StackName"
                return "StackName"
            if name.startswith("AWS::") or name in local or name in WHOLE or name in sub_vars:
                return name + ("." + attr if attr else "")
            if name in functions:
                raise ValueError(f"{stack.logical_id} references the function {name}: a cycle (name it instead)")
            key = name + (attr or "")
            other = self.owner.get(name)
            if other is not None:  # another area's resource: that stack's output, through the root
                other.outputs[key] = f"!GetAtt {name}.{attr}" if attr else f"!Ref {name}"
                stack.parameters[key] = f"!GetAtt {other.logical_id}.Outputs.{key}"
            elif attr:
                stack.parameters[key] = f"!GetAtt {name}.{attr}"
            elif (root_parameters.get(name) or {}).get("Type") == "CommaDelimitedList":
                stack.parameters[key] = f'!Join [",", !Ref {name}]'
            else:
                stack.parameters[key] = f"!Ref {name}"
            return key

        def ref(match: re.Match[str]) -> str:
            name = match.group(1)
            return select(name, None) if name in stack.own else f"!Ref {parameter(name, None)}"

        def getatt(match: re.Match[str]) -> str:
            name, attr = match.group(1), match.group(2)
            return select(name, attr) if name in stack.own else _getatt_or_ref(parameter(name, attr))

        def sub_var(match: re.Match[str]) -> str:
            if match.group(1) in stack.own:
                raise ValueError(f"{stack.logical_id}: {match.group(0)} in a !Sub of more than one line")
            return "${" + parameter(match.group(1), match.group(2)) + "}"

        text = _REF.sub(ref, text)
        text = _GETATT.sub(getatt, text)
        text = _SUB_VAR.sub(sub_var, text)
        if len(stack.own) > MAX_OWN_RESOURCES:
            raise ValueError(
                f"the {stack.area} area has {len(stack.own)} queues: one nested stack takes at most"
                f" {MAX_OWN_RESOURCES} (a parameter holds 4,096 bytes); split the area's module"
            )
        for attr, names in own.items():
            values = ", ".join(f"!GetAtt {name}.{attr}" if attr != "Ref" else f"!Ref {name}" for name in names)
            stack.parameters[f"Own{attr}List"] = f'!Join [",", [{values}]]'
        return self._document(stack, text)

    def _document(self, stack: Nested, text: str) -> str:
        from local.template import load_template_text

        resources = load_template_text("Resources:\n" + text)["Resources"]
        conditions = self._conditions(stack, resources)
        root_parameters = self.base.get("Parameters") or {}
        parameters = {
            name: {"Type": "CommaDelimitedList" if name.startswith("Own") else _type(root_parameters, name)}
            for name in sorted(stack.parameters)
        }
        head: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"talon-relay: the {stack.area} area's roles, log groups and alarms (template/nested.py)",
            "Parameters": parameters,
        }
        if conditions:
            head["Conditions"] = conditions
        outputs = "".join(f"  {name}:\n    Value: {value}\n" for name, value in sorted(stack.outputs.items()))
        return (
            yaml.safe_dump(head, sort_keys=False, width=120)
            + "\nResources:\n"
            + text
            + ("\nOutputs:\n" + outputs if outputs else "")
        )

    def _conditions(self, stack: Nested, resources: dict[str, Any]) -> dict[str, Any]:
        """The root's definitions of the conditions the nested resources use, with their parameters."""
        wanted = sorted(_conditions_in(resources))
        defined = {**CONDITIONS, **(self.base.get("Conditions") or {})}
        found: dict[str, Any] = {}
        while wanted:
            name = wanted.pop()
            if name in found:
                continue
            found[name] = defined[name]
            wanted += sorted(_conditions_in(defined[name]))
            for ref in _refs_in(defined[name]):
                stack.parameters.setdefault(ref, f"!Ref {ref}")
        return {name: found[name] for name in sorted(found)}

    def application(self, stack: Nested) -> str:
        """The root's AWS::Serverless::Application of the nested stack."""
        parameters = "".join(f"        {name}: {value}\n" for name, value in sorted(stack.parameters.items()))
        return (
            f"  {stack.logical_id}:\n"
            "    Type: AWS::Serverless::Application\n"
            "    Properties:\n"
            f"      Location: {stack.location}\n"
            "      Parameters:\n" + parameters
        )


def _type(root_parameters: Mapping[str, Any], name: str) -> str:
    return str((root_parameters.get(name) or {}).get("Type", "String"))


def _getatt_or_ref(name: str) -> str:
    return f"!GetAtt {name}" if "." in name else f"!Ref {name}"


def _conditions_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If" and isinstance(value, list) and value:
                found.add(value[0])
            elif key == "Condition" and isinstance(value, str):
                found.add(value)
            found |= _conditions_in(value)
    elif isinstance(node, list):
        for item in node:
            found |= _conditions_in(item)
    return found


def _refs_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        return found.union(*(_refs_in(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs_in(item) for item in node))
    return set()
