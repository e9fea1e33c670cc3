"""What the local stack needs from template.yaml: functions, routes, queues, tables, secrets, schedules.

Read from the same file `sam deploy` uses, so the local run cannot drift from what is deployed.
Intrinsic functions and conditions are resolved against the local parameters and resources (queue
URLs and ARNs in moto, etc.); a resource whose Condition is false is not created locally either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local.nested import flatten

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub ...) into long form; libyaml's
    where PyYAML has it (about ten times faster on the nested stacks the local stack and the tests read)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template_text(text: str) -> dict[str, Any]:
    """A CloudFormation template's text as data, short tags in long form."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(data, dict)
    return data


def load_template(path: Path = TEMPLATE, *, nested: bool = True) -> dict[str, Any]:
    """template.yaml as data; with `nested`, its nested stacks merged in (local/nested.py): the one stack
    they describe, as the local stack and the tests read it."""
    data = load_template_text(path.read_text())
    if not nested:
        return data
    return flatten(data, path.parent, lambda child: load_template(child, nested=False))


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    #: logical id of the REST API (RestApiId) the route belongs to
    api: str = "ServerlessRestApi"

    @property
    def pattern(self) -> re.Pattern[str]:
        """Matches a raw (still percent-encoded) request path; one group per path parameter."""
        parts = re.split(r"(\{[^}]+\})", self.path)
        regex = "".join(f"(?P<{p[1:-1].rstrip('+')}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{regex}$")


@dataclass
class QueueSpec:
    logical_id: str
    properties: dict[str, Any]

    @property
    def fifo(self) -> bool:
        return str(self.properties.get("FifoQueue", "false")).lower() == "true"


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: Any
    environment: dict[str, Any]
    routes: list[Route] = field(default_factory=list)
    queue: str | None = None  # logical id of the queue its SQS event reads
    batch_size: int = 10
    #: its SQS event's ScalingConfig.MaximumConcurrency (unresolved: a Ref), None without one
    max_concurrency: Any = None
    #: ReservedConcurrentExecutions (unresolved), None without one
    reserved_concurrency: Any = None
    schedules: list[dict[str, Any]] = field(default_factory=list)
    #: its FunctionName (unresolved: a !Sub of the stack's name), None without one
    function_name: Any = None

    @property
    def module_path(self) -> Path:
        module, _ = self.handler.rsplit(".", 1)
        return self.code_uri / f"{module.replace('.', '/')}.py"

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class StackSpec:
    template: dict[str, Any]
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec]
    queues: dict[str, QueueSpec]
    tables: dict[str, dict[str, Any]]
    secrets_parameter: str = "TalonSecretArn"
    #: the template's Conditions (evaluated by the Resolver, against the local parameters)
    conditions: dict[str, Any] = field(default_factory=dict)
    #: AWS::SecretsManager::Secret resources the stack itself creates
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the Condition of each resource that has one
    resource_conditions: dict[str, str] = field(default_factory=dict)
    #: AWS::Serverless::Api resources: logical id -> Properties
    apis: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def mappings(self) -> dict[str, Any]:
        """The template's Mappings (for Fn::FindInMap)."""
        return dict(self.template.get("Mappings") or {})

    @property
    def routes(self) -> list[Route]:
        """Every route of every REST API (the same method and path may be on two APIs)."""
        return [route for fn in self.functions.values() for route in fn.routes]

    def api_routes(self, api: str) -> list[Route]:
        return [route for route in self.routes if route.api == api]

    def gateway_response(self, api: str, kind: str, default: tuple[int, bytes]) -> tuple[int, bytes]:
        """API Gateway's own answer of `kind` (e.g. INVALID_API_KEY) as the API's GatewayResponses
        shape it: its status and JSON body (`default`, API Gateway's, when the template does not)."""
        found = (self.apis.get(api, {}).get("GatewayResponses") or {}).get(kind) or {}
        body = (found.get("ResponseTemplates") or {}).get("application/json")
        status = int(found.get("StatusCode") or default[0])
        return (status, body.encode()) if isinstance(body, str) else (status, default[1])

    def api_key_required(self, api: str) -> bool:
        """Whether API Gateway checks an API key (x-api-key) on the API's routes."""
        auth = self.apis.get(api, {}).get("Auth") or {}
        return str(auth.get("ApiKeyRequired", "false")).lower() == "true"


def read_stack(template: dict[str, Any] | None = None) -> StackSpec:
    template = template or load_template()
    resources: dict[str, Any] = template.get("Resources", {})
    globals_fn: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    parameters = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    functions: dict[str, FunctionSpec] = {}
    queues: dict[str, QueueSpec] = {}
    tables: dict[str, dict[str, Any]] = {}
    secrets: dict[str, dict[str, Any]] = {}
    apis: dict[str, dict[str, Any]] = {}
    resource_conditions: dict[str, str] = {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {}) or {}
        if resource.get("Condition"):
            resource_conditions[logical_id] = str(resource["Condition"])
        if kind == "AWS::SQS::Queue":
            queues[logical_id] = QueueSpec(logical_id, props)
        elif kind == "AWS::DynamoDB::Table":
            tables[logical_id] = props
        elif kind == "AWS::SecretsManager::Secret":
            secrets[logical_id] = props
        elif kind == "AWS::Serverless::Api":
            apis[logical_id] = props
        elif kind == "AWS::Serverless::Function":
            env = dict(globals_fn.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            spec = FunctionSpec(
                logical_id=logical_id,
                code_uri=ROOT / str(props.get("CodeUri", "")).rstrip("/"),
                handler=str(props.get("Handler", globals_fn.get("Handler", ""))),
                timeout=props.get("Timeout", globals_fn.get("Timeout", 3)),
                environment=env,
                reserved_concurrency=props.get(
                    "ReservedConcurrentExecutions", globals_fn.get("ReservedConcurrentExecutions")
                ),
                function_name=props.get("FunctionName"),
            )
            for event in (props.get("Events") or {}).values():
                eprops = event.get("Properties", {})
                if event["Type"] == "Api":
                    api = eprops.get("RestApiId")
                    api_id = api["Ref"] if isinstance(api, dict) and "Ref" in api else "ServerlessRestApi"
                    spec.routes.append(Route(str(eprops["Method"]).upper(), str(eprops["Path"]), logical_id, api_id))
                elif event["Type"] == "SQS":
                    queue = eprops["Queue"]
                    spec.queue = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else None
                    spec.batch_size = int(eprops.get("BatchSize", 10))
                    spec.max_concurrency = (eprops.get("ScalingConfig") or {}).get("MaximumConcurrency")
                elif event["Type"] in ("ScheduleV2", "Schedule"):
                    spec.schedules.append(eprops)
            functions[logical_id] = spec
    return StackSpec(
        template,
        parameters,
        functions,
        queues,
        tables,
        conditions=dict(template.get("Conditions") or {}),
        secrets=secrets,
        resource_conditions=resource_conditions,
        apis=apis,
    )


class _NoValue:
    """What `Ref: AWS::NoValue` resolves to: the property it stands in is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


class Resolver:
    """Resolves CloudFormation intrinsics against local values (parameters and resource facts)."""

    def __init__(
        self,
        parameters: dict[str, Any],
        refs: dict[str, str],
        attributes: dict[tuple[str, str], str],
        pseudo: dict[str, str],
        conditions: dict[str, Any] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> None:
        self.parameters = parameters
        self.refs = refs
        self.attributes = attributes
        self.pseudo = pseudo
        self.conditions = conditions or {}
        self.mappings = mappings or {}

    def condition(self, name: str) -> bool:
        """The value of one of the template's Conditions."""
        if name not in self.conditions:
            raise KeyError(f"no Condition {name} in the template")
        return self._truth(self.conditions[name])

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in arg)
            if key == "Fn::Or":
                return any(self._truth(item) for item in arg)
        if isinstance(value, bool):
            return value
        raise KeyError(f"cannot evaluate condition {value!r} locally")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"cannot resolve Ref {name} locally")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                target, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.attributes[(target, attr)]
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                resolved_extra = {k: self.resolve(v) for k, v in extra.items()}

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in resolved_extra:
                        return str(resolved_extra[name])
                    if "." in name:
                        target, attr = name.split(".", 1)
                        return str(self.attributes[(target, attr)])
                    return str(self.ref(name))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(self.resolve(i)) for i in items)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(str(name)) else when_false)
            if key == "Fn::FindInMap":
                name, top, second = (str(self.resolve(item)) for item in arg)
                return self.mappings[name][top][second]
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def creates(self, spec: StackSpec, logical_id: str) -> bool:
        """Whether the stack creates a resource: it has no Condition, or its Condition holds."""
        name = spec.resource_conditions.get(logical_id)
        return name is None or self.condition(name)
