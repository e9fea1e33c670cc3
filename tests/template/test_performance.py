"""The template's performance switches: the Parameters and Secrets extension and SnapStart."""

from __future__ import annotations

import re
from typing import Any

from local.template import NO_VALUE, Resolver, read_stack
from talon_relay.aws.secret_values import PORT_VARIABLE
from talon_relay.operations import Operation
from tests.template.helpers import default, function_properties, ops, ref

LATEST_EXTENSION = "{{resolve:ssm:/aws/service/aws-parameters-and-secrets-lambda-extension/arm64/latest}}"


@ops
def test_the_secrets_extension_is_on_by_default_at_its_latest_arm64_version(
    template: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    # Given a function's layers, Globals applied
    layers = function_properties(template, op)["Layers"]
    # Then after the relay's layer comes the extension, when SecretsExtension is enabled (the default)
    assert layers[0] == ref("TalonRelayLayer")
    assert layers[1] == {
        "Fn::If": [
            "SecretsExtensionEnabled",
            {"Fn::If": ["SecretsExtensionPinned", ref("SecretsExtensionLayerArn"), LATEST_EXTENSION]},
            ref("AWS::NoValue"),
        ]
    }
    assert default(parameters, "SecretsExtension") == "enabled"
    # And its version is, unless pinned, the latest AWS publishes for arm64 (the functions' architecture)
    assert default(parameters, "SecretsExtensionLayerArn") == ""
    assert function_properties(template, op)["Architectures"] == ["arm64"]


def test_a_pinned_extension_arn_must_be_an_arm64_extension_layer(parameters: dict[str, Any]) -> None:
    pattern = re.compile(parameters["SecretsExtensionLayerArn"]["AllowedPattern"])
    pinned = "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:101"
    assert pattern.match(pinned)
    assert pattern.match("")
    assert not pattern.match(pinned.replace("-Arm64", ""))  # the x86_64 layer cannot run on arm64
    assert not pattern.match("arn:aws:lambda:eu-west-1:123456789012:layer:something-else:1")


@ops
def test_the_functions_know_the_extension_by_its_port_and_its_cache_matches_theirs(
    template: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    env = function_properties(template, op)["Environment"]["Variables"]
    # The port variable is set exactly when the layer is there: the functions' sign of the extension
    assert env[PORT_VARIABLE] == {"Fn::If": ["SecretsExtensionEnabled", "2773", ref("AWS::NoValue")]}
    # And the extension caches a secret exactly as long as the functions do (at most its 300 s)
    assert env["SECRETS_MANAGER_TTL"] == {
        "Fn::If": ["SecretsExtensionEnabled", ref("SecretMaxAge"), ref("AWS::NoValue")]
    }
    assert env["TALON_SECRET_MAX_AGE"] == ref("SecretMaxAge")
    assert parameters["SecretMaxAge"]["MaxValue"] == 300


def test_turning_the_extension_off_removes_its_layer_and_its_variables(template: dict[str, Any]) -> None:
    spec = read_stack(template)
    globals_ = template["Globals"]["Function"]
    for setting in ("enabled", "disabled"):
        # Given the template's Globals resolved as CloudFormation would with SecretsExtension=<setting>
        resolver = Resolver(
            {**spec.parameters, "SecretsExtension": setting},
            {"TalonRelayLayer": "relay-layer"},
            {},
            {"AWS::Region": "us-east-1"},
            spec.conditions,
        )
        layers = resolver.resolve(globals_["Layers"])
        variables = {name: resolver.resolve(globals_["Environment"]["Variables"].get(name))
                     for name in (PORT_VARIABLE, "SECRETS_MANAGER_TTL")}  # fmt: skip
        present = {name for name, value in variables.items() if value is not NO_VALUE}
        # Then the extension's layer and its two variables come and go together
        if setting == "enabled":
            assert layers == ["relay-layer", LATEST_EXTENSION]
            assert variables == {PORT_VARIABLE: "2773", "SECRETS_MANAGER_TTL": 300}
        else:
            assert layers == ["relay-layer"]
            assert present == set()


@ops
def test_snapstart_is_a_switch_off_by_default_on_published_versions_behind_an_alias(
    template: dict[str, Any], parameters: dict[str, Any], op: Operation
) -> None:
    props = function_properties(template, op)
    assert props["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartEnabled", "PublishedVersions", "None"]}}
    assert default(parameters, "SnapStart") == "disabled"
    # Every event source invokes the alias, which each deploy moves to a new version when anything of
    # the function changed, its layer included (the code lives in the layer)
    assert props["AutoPublishAlias"] == "live"
    assert props["AutoPublishAliasAllProperties"] is True
