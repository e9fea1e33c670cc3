"""What a deployer sets and reads: template.yaml's parameters and outputs, and samconfig.toml."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from talon_relay.operations import Operation
from template.preflight import max_stack_name_length
from tests.template.helpers import QUEUED, SAMCONFIG, SIGNING_SECRET, UNQUEUED, kebab, load, ops, prefix, ref

#: Stack names make deploy allows: every generated FIFO queue name (<stack>-<LogicalId>-<12>.fifo) within
#: SQS's 80 characters and every function name (<stack>-<function>) within Lambda's 64.
MAX_STACK_NAME = max_stack_name_length(load())

# --- parameters, outputs, samconfig -----------------------------------------------------------


def test_parameters_are_declared_with_safe_defaults(parameters: dict[str, Any]) -> None:
    # Given the template's parameters
    expected = {
        "TalonSecretArn",
        "MaxReceiveCount",
        "FunctionTimeout",
        "QueueVisibilityTimeout",
        "ErasureSchedule",
        "ErasureScheduleTimezone",
        "LogLevel",
        "LogRetentionInDays",
        "MetricsNamespace",
        "ApiStageName",
        "ApiThrottlingRateLimit",
        "ApiThrottlingBurstLimit",
        "AlarmTopicArn",
        "SqsBatchWindow",
        "IdempotencyExpirySeconds",
        "CallerAuthentication",
        "CallerSigningSecretArn",
    }

    # Then all are there, and the secret ARN is required and checked
    assert expected <= set(parameters)
    secret = parameters["TalonSecretArn"]
    assert "Default" not in secret
    pattern = secret["AllowedPattern"]
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:talon-relay/talon-one-AbCdEf"
    assert re.fullmatch(pattern, arn)
    assert not re.fullmatch(pattern, "arn:aws:ssm:eu-west-1:123456789012:parameter/talon")
    assert not re.fullmatch(pattern, "talon-relay/talon-one")


def test_outputs_name_the_apis_the_key_the_secret_the_table_and_every_queue(template: dict[str, Any]) -> None:
    # Given the outputs
    outputs = template["Outputs"]

    # Then each API's URL is built from the API id, the region and the stage
    for output, api in (("ApiUrl", "RelayApi"), ("KeyApiUrl", "RelayKeyApi")):
        url = outputs[output]["Value"]["Fn::Sub"]
        assert url.startswith(f"https://${{{api}}}.execute-api.${{AWS::Region}}."), output
        assert url.endswith("/${ApiStageName}"), output
    # And the API key SAM generates for RelayKeyApi (PER_API usage plan) is named, with how to read it
    assert outputs["ApiKeyId"]["Value"] == ref("RelayKeyApiApiKey")
    assert "aws apigateway get-api-key --api-key" in outputs["ApiKeyId"]["Description"]
    assert "--include-value" in outputs["ApiKeyId"]["Description"]
    # And the effective caller signing secret and the idempotency table
    assert outputs["CallerSigningSecretArn"]["Value"] == SIGNING_SECRET
    assert outputs["IdempotencyTableName"]["Value"] == ref("IdempotencyTable")
    # And every queue URL is there (a GET has no queue, so no output names one)
    for op in QUEUED:
        assert outputs[f"{prefix(op)}QueueUrl"]["Value"] == ref(f"{prefix(op)}Queue")
        assert outputs[f"{prefix(op)}DeadLetterQueueUrl"]["Value"] == ref(f"{prefix(op)}DeadLetterQueue")
    for op in UNQUEUED:
        assert not [name for name in outputs if name.startswith(f"{prefix(op)}")]
    assert outputs["ErasureScheduleDeadLetterQueueUrl"]["Value"] == ref("ErasureScheduleDeadLetterQueue")


def _satisfies(parameter: dict[str, Any], value: str) -> bool:
    if "AllowedValues" in parameter and value not in [str(v) for v in parameter["AllowedValues"]]:
        return False
    if "AllowedPattern" in parameter and not re.fullmatch(parameter["AllowedPattern"], value):
        return False
    if parameter["Type"] == "Number":
        number = float(value)
        if "MinValue" in parameter and number < float(parameter["MinValue"]):
            return False
        if "MaxValue" in parameter and number > float(parameter["MaxValue"]):
            return False
    return True


@pytest.mark.parametrize("env", ["default", "dev", "prod"])
def test_samconfig_environment_deploys_with_valid_parameters(parameters: dict[str, Any], env: str) -> None:
    # Given an environment of samconfig.toml
    config = tomllib.loads(SAMCONFIG.read_text())
    assert config["version"] == 0.1
    section = config[env]
    settings = {**section["global"]["parameters"], **section["deploy"]["parameters"]}

    # Then it deploys its own stack with IAM capability (the areas' nested stacks' roles too, and the
    # nested applications' expansion), a managed bucket and a region
    assert settings["stack_name"].startswith("talon-relay")
    assert len(settings["stack_name"]) <= MAX_STACK_NAME  # functions are <stack>-<operation>, at most 64
    assert settings["capabilities"] == "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"
    assert settings["resolve_s3"] is True
    assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", settings["region"])
    assert isinstance(settings["confirm_changeset"], bool)
    # And builds cached and in parallel
    assert section["build"]["parameters"] == {"cached": True, "parallel": True}
    # And every parameter override names a template parameter and satisfies its constraints
    overrides = dict(item.split("=", 1) for item in settings["parameter_overrides"])
    # And none is a placeholder that would deploy and then fail every request: the secret is the
    # deployer's to add (make deploy refuses without it), the alarm topic the stack's own
    assert "TalonSecretArn" not in overrides
    assert "AlarmTopicArn" not in overrides
    assert "123456789012" not in SAMCONFIG.read_text()
    # And no environment turns caller authentication off
    assert overrides.get("CallerAuthentication", "required") == "required"
    for name, value in overrides.items():
        assert name in parameters, name
        assert _satisfies(parameters[name], value), (name, value)


def test_samconfig_prod_is_stricter() -> None:
    # Given the prod environment
    config = tomllib.loads(SAMCONFIG.read_text())
    deploy = config["prod"]["deploy"]["parameters"]
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"])

    # Then change sets are reviewed, logs are kept longer and at INFO, and the API writes access logs
    assert deploy["confirm_changeset"] is True
    # And callers must authenticate, said explicitly
    assert overrides["CallerAuthentication"] == "required"
    assert overrides["ApiAccessLogging"] == "enabled"
    assert int(overrides["OutageHorizonHours"]) >= 24
    assert int(overrides["LogRetentionInDays"]) >= 90
    assert overrides["LogLevel"] in ("INFO", "WARNING")


@ops
def test_function_names_fit_lambda_for_every_stack_name_allowed(op: Operation) -> None:
    # Given the longest stack name samconfig.toml allows, and the function's name template
    stack = "s" * MAX_STACK_NAME

    # Then the function's name, <stack>-<function>, fits Lambda's 64 characters (a deploy fails otherwise;
    # a longer function folder needs shorter stack names, or a FunctionName of its own)
    assert len(f"{stack}-{kebab(op)}") <= 64, f"{op.function}: {len(kebab(op))} characters"
