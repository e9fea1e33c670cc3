"""`make deploy`'s checks before `sam deploy`: what would deploy and then fail, or roll back, is refused
here with a message naming the setting to change.

    python -m template.preflight --config-env dev              (make deploy runs it)
    python -m template.preflight --config-env dev --offline    (no AWS call: skips the account check)

It reads samconfig.toml's environment (stack name, region, parameter_overrides) and template.yaml:

- TalonSecretArn must be given, and not be a placeholder (a documentation account id, `<...>`): a stack
  pointed at a secret that does not exist deploys fine and then fails every request. A secret ARN must be
  the full one (with the six characters Secrets Manager appends), ApplicationSecretArns' too, and every
  override must match its parameter's AllowedPattern.
- The Applications document must be one every function would start with (template/preflight_applications.py:
  unknown application, duplicate binding, missing secret), each secret it names in ApplicationSecretArns,
  and AlarmApplications may name only its applications.
- AlarmTopicArn, when given, must not be a placeholder either (alarms would go nowhere).
- The stack name must be short enough for every name CloudFormation derives from it: generated FIFO
  queue names (`<stack>-<LogicalId>-<13 characters>.fifo`, at most 80), function names (64) and the
  schedule's name (64). The limit is computed from template.yaml's longest logical ids.
- An explicit MaxReceiveCount must cover OutageHorizonHours (talon_relay/backoff.py's arithmetic).
- ReservedConcurrency, when set, must be at least QueueMaximumConcurrency (Lambda throttles the queue's
  pollers otherwise).
- ReservedConcurrency, when set, must fit the account's Lambda concurrency quota for every function, leaving
  the 100 Lambda keeps unreserved (`lambda get-account-settings`, unless --offline).
- ApiAccessLogging=enabled with ApiGatewayCloudWatchRole=existing needs the region's API Gateway
  CloudWatch role: checked with `apigateway get-account` (unless --offline); without it the stage
  cannot be created and the deploy rolls back. ApiGatewayCloudWatchRole=create sets one up instead.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from talon_relay.core import retry_delays as backoff
from template.preflight_applications import problems as applications_problems

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
TEMPLATE = ROOT / "template.yaml"

#: Account ids that only ever appear in documentation and examples.
PLACEHOLDER_ACCOUNTS = frozenset({"123456789012", "000000000000", "111111111111", "999999999999"})
#: What CloudFormation appends to a generated queue name: "-" + 13 characters (AWS's own examples show 13,
#: e.g. MyQueue-1A2B3C4D5E6F7), and ".fifo" for FIFO.
GENERATED_SUFFIX = 1 + 13
SQS_NAME_LIMIT = 80
LAMBDA_NAME_LIMIT = 64
SCHEDULE_NAME_LIMIT = 64
#: Concurrency Lambda keeps unreserved in every account: no reservation may take the account below it.
UNRESERVED_MINIMUM = 100


def _stack_name_room(text: Any, limit: int) -> int | None:
    """How long the stack name may be in a `!Sub ${AWS::StackName}...` name with `limit` characters."""
    sub = text.get("Fn::Sub") if isinstance(text, dict) else None
    if not isinstance(sub, str) or "${AWS::StackName}" not in sub:
        return None
    return limit - len(sub.replace("${AWS::StackName}", ""))


def max_stack_name_length(template: Mapping[str, Any]) -> int:
    """The longest stack name every name CloudFormation derives from it stays within its limit for."""
    limits: list[int] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::SQS::Queue" and "QueueName" not in props:
            fifo = str(props.get("FifoQueue", "")).lower() == "true"
            # <stack>-<LogicalId>-<13 characters>[.fifo]
            limits.append(SQS_NAME_LIMIT - len(".fifo" if fifo else "") - GENERATED_SUFFIX - 1 - len(logical_id))
        if resource.get("Type") == "AWS::Serverless::Function":
            room = _stack_name_room(props.get("FunctionName"), LAMBDA_NAME_LIMIT)
            limits += [room] if room is not None else []
            for event in (props.get("Events") or {}).values():
                if event.get("Type") == "ScheduleV2":
                    room = _stack_name_room((event.get("Properties") or {}).get("Name"), SCHEDULE_NAME_LIMIT)
                    limits += [room] if room is not None else []
    return min(limits)


def overrides_of(settings: Mapping[str, Any]) -> dict[str, str]:
    """samconfig's parameter_overrides (a list of "Name=value", or one string of them) as a dict."""
    raw = settings.get("parameter_overrides") or []
    items = raw if isinstance(raw, list) else re.findall(r'(\w+=(?:"[^"]*"|\S+))', str(raw))
    return {name: value.strip('"') for name, _, value in (str(item).partition("=") for item in items)}


def _placeholder(arn: str) -> bool:
    parts = arn.split(":")
    return "<" in arn or ">" in arn or len(parts) < 5 or parts[4] in PLACEHOLDER_ACCOUNTS


#: The six characters Secrets Manager appends to a secret's name in its ARN.
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def pattern_problems(values: Mapping[str, str], template: Mapping[str, Any], where: str) -> list[str]:
    """Overrides their parameter's AllowedPattern refuses (CloudFormation would, after the build), and
    secret ARNs without the suffix Secrets Manager appends (IAM would deny every read of them)."""
    found = []
    for arn in filter(None, (part.strip() for part in values.get("ApplicationSecretArns", "").split(","))):
        if not _placeholder(arn) and ":secret:" in arn and not _SECRET_SUFFIX.search(arn):
            found.append(
                f"ApplicationSecretArns names {arn}, which lacks the six-character suffix Secrets Manager appends to "
                f"the name (-AbCdEf): IAM matches the full ARN, so every read would be denied; copy the full ARN "
                f"(aws secretsmanager describe-secret --secret-id <name> --query ARN) into {where} and the "
                f"Applications document"
            )
    for name, value in values.items():
        spec = (template.get("Parameters") or {}).get(name) or {}
        if not value or not spec.get("AllowedPattern") or (name.endswith("Arn") and _placeholder(value)):
            continue
        if name.endswith("SecretArn") and ":secret:" in value and not _SECRET_SUFFIX.search(value):
            found.append(
                f"{name}={value} lacks the six-character suffix Secrets Manager appends to the name (-AbCdEf): IAM "
                f"matches the full ARN, so every read would be denied; copy the full ARN (aws secretsmanager "
                f"describe-secret --secret-id <name> --query ARN) into {where}"
            )
        elif not re.fullmatch(spec["AllowedPattern"], value):
            found.append(
                f"{name}={value} does not match the parameter's AllowedPattern ({spec.get('ConstraintDescription')}):"
                f" fix it in {where}"
            )
    return found


def _number(values: Mapping[str, str], defaults: Mapping[str, Any], name: str) -> float:
    return float(values.get(name, defaults.get(name, 0)))


def problems(env: str, samconfig: Mapping[str, Any], template: Mapping[str, Any]) -> list[str]:
    """What would make a deploy of `env` fail or roll back, each naming what to change."""
    section = samconfig.get(env)
    if not isinstance(section, dict):
        return [f"samconfig.toml has no environment {env!r} (CONFIG_ENV): {', '.join(sorted(samconfig))}"]
    settings = {**section.get("global", {}).get("parameters", {}), **section.get("deploy", {}).get("parameters", {})}
    where = f"samconfig.toml [{env}.deploy.parameters] parameter_overrides"
    values = overrides_of(settings)
    defaults = {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}
    found: list[str] = []

    secret = values.get("TalonSecretArn", "")
    if not secret:
        found.append(
            f'TalonSecretArn is not set: add "TalonSecretArn=<ARN of the Secrets Manager secret with the Talon.One '
            f'credentials>" to {where} (docs/deploying.md)'
        )
    elif _placeholder(secret):
        found.append(f"TalonSecretArn={secret} is a placeholder: put the ARN of your Talon.One secret in {where}")
    found += pattern_problems(values, template, where)
    found += applications_problems(values, where)
    topic = values.get("AlarmTopicArn", "")
    if topic and _placeholder(topic):
        found.append(
            f"AlarmTopicArn={topic} is a placeholder: name your SNS topic, or drop it from {where} "
            "(the stack then creates one; AlarmEmail subscribes an address to it)"
        )

    stack = str(settings.get("stack_name") or "")
    longest = max_stack_name_length(template)
    if len(stack) > longest:
        found.append(
            f"stack_name {stack!r} has {len(stack)} characters; at most {longest} keep every generated FIFO queue "
            f"name within SQS's {SQS_NAME_LIMIT} characters (and function names within {LAMBDA_NAME_LIMIT}): "
            f"shorten it in samconfig.toml [{env}.global.parameters]"
        )

    hours = int(_number(values, defaults, "OutageHorizonHours"))
    receives = int(_number(values, defaults, "MaxReceiveCount"))
    if receives:
        needed = backoff.receives_for(hours * 3600)
        if receives < needed:
            covered = backoff.covered_seconds(receives) / 3600
            found.append(
                f"MaxReceiveCount={receives} covers {covered:.1f} h of outage, less than OutageHorizonHours={hours} "
                f"(needs {needed}): set MaxReceiveCount=0 to derive it, or lower OutageHorizonHours"
            )

    reserved = int(_number(values, defaults, "ReservedConcurrency"))
    pollers = int(_number(values, defaults, "QueueMaximumConcurrency"))
    if reserved and reserved < pollers:
        found.append(
            f"ReservedConcurrency={reserved} is below QueueMaximumConcurrency={pollers}: Lambda would throttle the "
            "queues' pollers; raise ReservedConcurrency (or set it to 0 for none)"
        )
    return found


def account_problems(
    values: Mapping[str, str], defaults: Mapping[str, Any], get_account: Callable[[], Any]
) -> list[str]:
    """ApiAccessLogging=enabled with an existing role: is the region's API Gateway CloudWatch role set?"""
    logging = values.get("ApiAccessLogging", defaults.get("ApiAccessLogging", "disabled"))
    role = values.get("ApiGatewayCloudWatchRole", defaults.get("ApiGatewayCloudWatchRole", "existing"))
    if logging != "enabled" or role != "existing":
        return []
    account = get_account()
    if account.get("cloudwatchRoleArn"):
        return []
    return [
        "ApiAccessLogging=enabled needs the region's API Gateway CloudWatch role, and this account has none: "
        "add ApiGatewayCloudWatchRole=create (the stack creates and sets it), set it in the API Gateway "
        "console (Settings), or use ApiAccessLogging=disabled"
    ]


def function_names(template: Mapping[str, Any], stack: str) -> list[str]:
    """The names the template gives its functions (`!Sub ${AWS::StackName}-...`) in stack `stack`."""
    names = []
    for resource in (template.get("Resources") or {}).values():
        name = (resource.get("Properties") or {}).get("FunctionName")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(name, dict) and "Fn::Sub" in name:
            names.append(str(name["Fn::Sub"]).replace("${AWS::StackName}", stack))
    return names


def concurrency_problems(
    values: Mapping[str, str], defaults: Mapping[str, Any], *, functions: list[str], lambda_client: Any
) -> list[str]:
    """ReservedConcurrency for every function: does the account's Lambda concurrency quota hold it? Lambda
    refuses a reservation that leaves less than 100 unreserved (a new account has 10 in all), and the deploy
    then rolls back. What this stack's functions reserve already is freed by the update, so it counts."""
    reserved = int(_number(values, defaults, "ReservedConcurrency"))
    if not reserved or not functions:
        return []
    limit = lambda_client.get_account_settings()["AccountLimit"]
    held = 0
    for name in functions:
        try:
            answer = lambda_client.get_function_concurrency(FunctionName=name)
        except lambda_client.exceptions.ResourceNotFoundException:
            continue  # not deployed yet
        held += int(answer.get("ReservedConcurrentExecutions") or 0)
    unreserved = int(limit["UnreservedConcurrentExecutions"])
    room = unreserved + held - UNRESERVED_MINIMUM
    needed = reserved * len(functions)
    if needed <= room:
        return []
    return [
        f"ReservedConcurrency={reserved} reserves {needed} for the {len(functions)} functions, but the account's "
        f"Lambda concurrency quota is {limit['ConcurrentExecutions']} ({unreserved} unreserved, {held} of it "
        f"reserved by this stack) and Lambda keeps {UNRESERVED_MINIMUM} unreserved: at most "
        f"{max(room // len(functions), 0)} per function fits. Lower ReservedConcurrency (0: none), or raise the "
        "quota first (Service Quotas > AWS Lambda > Concurrent executions)"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m template.preflight", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-env", default="default")
    parser.add_argument("--samconfig", type=Path, default=SAMCONFIG)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--offline", action="store_true", help="make no AWS call (skip the account check)")
    args = parser.parse_args(argv)

    from local.template import load_template

    samconfig = tomllib.loads(args.samconfig.read_text())
    template = load_template(args.template)
    found = problems(args.config_env, samconfig, template)
    if not found and not args.offline:
        section = samconfig[args.config_env]
        settings = {**section.get("global", {}).get("parameters", {}), **section["deploy"]["parameters"]}
        defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}

        import boto3

        region = settings.get("region")
        values = overrides_of(settings)
        functions = function_names(template, str(settings.get("stack_name") or ""))
        checks: dict[str, Callable[[], list[str]]] = {
            "API Gateway account settings": lambda: account_problems(
                values, defaults, boto3.client("apigateway", region_name=region).get_account
            ),
            "Lambda concurrency quota": lambda: concurrency_problems(
                values, defaults, functions=functions, lambda_client=boto3.client("lambda", region_name=region)
            ),
        }
        for what, check in checks.items():
            try:
                found += check()
            except Exception as exc:  # no credentials, no network: say so, and let the deploy decide
                print(f"preflight: could not check the {what} ({type(exc).__name__})", file=sys.stderr)
    for problem in found:
        print(f"refusing to deploy {args.config_env}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
