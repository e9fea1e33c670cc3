"""make deploy's preflight: what would deploy and then fail or roll back is refused, naming the setting."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from local.aws import local_client
from talon_relay.operations import OPERATIONS
from template import preflight
from tests.template.helpers import SAMCONFIG, load

SECRET = "arn:aws:secretsmanager:eu-west-1:210987654321:secret:talon-relay/talon-one-Xy12Ab"


def config(stack: str = "talon-relay-dev", *overrides: str) -> dict[str, Any]:
    return {
        "dev": {
            "global": {"parameters": {"stack_name": stack, "region": "eu-west-1"}},
            "deploy": {"parameters": {"parameter_overrides": list(overrides)}},
        }
    }


def problems(*overrides: str, stack: str = "talon-relay-dev") -> list[str]:
    return preflight.problems("dev", config(stack, *overrides), load())


def test_a_complete_environment_passes() -> None:
    assert problems(f"TalonSecretArn={SECRET}", "LogLevel=DEBUG") == []


def test_the_shipped_samconfig_needs_only_the_deployers_secret() -> None:
    # Given samconfig.toml as shipped (no placeholder ARNs)
    shipped = tomllib.loads(SAMCONFIG.read_text())
    for env in ("default", "dev", "prod"):
        # Then each environment is refused for the one thing only the deployer has: the secret's ARN
        [problem] = preflight.problems(env, shipped, load())
        assert problem.startswith("TalonSecretArn is not set: add")
        assert f"[{env}.deploy.parameters]" in problem


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:talon-relay/talon-one-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:<account>:secret:talon",
    ],
)
def test_a_placeholder_secret_is_refused(arn: str) -> None:
    [problem] = problems(f"TalonSecretArn={arn}")
    assert problem.startswith(f"TalonSecretArn={arn} is a placeholder")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:secretsmanager:eu-west-1:210987654321:secret:talon-relay/talon-one",
        "arn:aws:secretsmanager:eu-west-1:210987654321:secret:talon-relay/talon-one-Xy12",
    ],
    ids=["no-suffix", "short-suffix"],
)
def test_a_secret_arn_without_the_suffix_secrets_manager_appends_is_refused(template: dict[str, Any], arn: str) -> None:
    # Given a secret's ARN as the console shows a name, without the six characters Secrets Manager appends
    # (IAM matches the full ARN: the functions' GetSecretValue would be denied on every call)
    # Then neither the template's parameter pattern nor the preflight takes it
    pattern = template["Parameters"]["TalonSecretArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, arn) is None
    assert re.fullmatch(pattern, SECRET) is not None
    [problem] = problems(f"TalonSecretArn={arn}")
    assert problem.startswith(f"TalonSecretArn={arn} lacks the six-character suffix")
    # And the caller signing secret's ARN, when given, needs its suffix too
    assert re.fullmatch(template["Parameters"]["CallerSigningSecretArn"]["AllowedPattern"], arn) is None
    [problem] = problems(f"TalonSecretArn={SECRET}", f"CallerSigningSecretArn={arn}")
    assert problem.startswith(f"CallerSigningSecretArn={arn} lacks the six-character suffix")
    # And so does each of another application's secrets (docs/applications.md)
    [problem] = problems(f"TalonSecretArn={SECRET}", f"ApplicationSecretArns={SECRET},{arn}")
    assert problem.startswith(f"ApplicationSecretArns names {arn}, which lacks the six-character suffix")
    assert problems(f"TalonSecretArn={SECRET}", f"ApplicationSecretArns={SECRET},{SECRET}") == []


def test_every_override_is_held_to_its_parameters_pattern() -> None:
    # Given an override CloudFormation would refuse (AlarmEmail's pattern), then the preflight refuses it first
    [problem] = problems(f"TalonSecretArn={SECRET}", "AlarmEmail=not-an-address")
    assert problem.startswith("AlarmEmail=not-an-address does not match the parameter's AllowedPattern")


def test_a_placeholder_alarm_topic_is_refused() -> None:
    [problem] = problems(f"TalonSecretArn={SECRET}", "AlarmTopicArn=arn:aws:sns:eu-west-1:123456789012:alarms")
    assert problem.startswith("AlarmTopicArn=arn:aws:sns:eu-west-1:123456789012:alarms is a placeholder")


def test_the_stack_name_limit_comes_from_the_longest_fifo_queue() -> None:
    # Given the template's FIFO queues, whose names CloudFormation generates as <stack>-<id>-<12>.fifo
    template = load()
    fifo = [
        key
        for key, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and resource["Properties"].get("FifoQueue") is True
    ]
    longest = max(len(key) for key in fifo)
    limit = preflight.max_stack_name_length(template)
    # Then the limit is what keeps the longest one within SQS's 80 characters with the 13-character suffix
    # CloudFormation generates (AWS's own examples show 13: MyQueue-<stack>-1A2B3C4D5E6F7 is not 12), 18 today
    # (DeleteAudienceMembershipsV2DeadLetterQueue; the shipped stack names have at most 16)
    assert limit == 80 - len(".fifo") - 13 - 2 - longest == 18
    # And a stack name one longer is refused, naming the limit
    assert problems(f"TalonSecretArn={SECRET}", stack="s" * limit) == []
    [problem] = problems(f"TalonSecretArn={SECRET}", stack="s" * (limit + 1))
    assert f"at most {limit}" in problem and "stack_name" in problem


def test_an_explicit_max_receive_count_must_cover_the_horizon() -> None:
    # Given a MaxReceiveCount of 5 (7.5 minutes of delays) with the default 24-hour horizon, then it is refused
    [problem] = problems(f"TalonSecretArn={SECRET}", "MaxReceiveCount=5")
    assert problem.startswith("MaxReceiveCount=5 covers 0.1 h of outage, less than OutageHorizonHours=24 (needs 101)")
    # And 101, or a shorter horizon, or the derived count (0), pass
    assert problems(f"TalonSecretArn={SECRET}", "MaxReceiveCount=101") == []
    assert problems(f"TalonSecretArn={SECRET}", "MaxReceiveCount=9", "OutageHorizonHours=1") == []
    assert problems(f"TalonSecretArn={SECRET}", "MaxReceiveCount=0") == []


def test_reserved_concurrency_below_the_pollers_is_refused() -> None:
    [problem] = problems(f"TalonSecretArn={SECRET}", "ReservedConcurrency=1")
    assert problem.startswith("ReservedConcurrency=1 is below QueueMaximumConcurrency=2")
    assert problems(f"TalonSecretArn={SECRET}", "ReservedConcurrency=4", "QueueMaximumConcurrency=4") == []


def test_access_logging_needs_the_regions_api_gateway_role(moto_endpoint: str) -> None:
    # Given an account (moto's) without the API Gateway CloudWatch role
    apigateway = local_client("apigateway", moto_endpoint)
    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
    defaults = {name: spec.get("Default") for name, spec in load()["Parameters"].items()}
    logging = {"ApiAccessLogging": "enabled"}
    # Then enabling access logs with the existing role is refused, naming the way out
    [problem] = preflight.account_problems(logging, defaults, apigateway.get_account)
    assert "ApiGatewayCloudWatchRole=create" in problem
    # And it passes when the stack creates the role, or once the account has one
    assert (
        preflight.account_problems({**logging, "ApiGatewayCloudWatchRole": "create"}, defaults, apigateway.get_account)
        == []
    )
    role = "arn:aws:iam::210987654321:role/apigateway-cloudwatch"
    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert preflight.account_problems(logging, defaults, apigateway.get_account) == []


def test_the_command_refuses_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given samconfig.toml as shipped, when make deploy's preflight runs for dev (no AWS call)
    code = preflight.main(["--config-env", "dev", "--offline"])
    # Then it refuses, naming the parameter
    assert code == 1
    assert "refusing to deploy dev: TalonSecretArn is not set" in capsys.readouterr().err
    # And it passes for an environment that has its secret
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        '[dev.global.parameters]\nstack_name = "talon-relay-dev"\n'
        f'[dev.deploy.parameters]\nparameter_overrides = ["TalonSecretArn={SECRET}"]\n'
    )
    assert preflight.main(["--config-env", "dev", "--offline", "--samconfig", str(samconfig)]) == 0


class LambdaAccount:
    """A local stand-in for Lambda's account API (moto has no GetAccountSettings): the account's quota and
    the concurrency each function already reserves, as Lambda's REST API answers them."""

    def __init__(self, server: HTTPServer, *, quota: int, reserved: dict[str, int] | None = None) -> None:
        self.reserved = reserved or {}
        unreserved = quota - sum(self.reserved.values())
        limit = {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}
        server.expect_request("/2016-08-19/account-settings", method="GET").respond_with_json(
            {"AccountLimit": limit, "AccountUsage": {"FunctionCount": len(self.reserved)}}
        )
        server.expect_request(re.compile(r"^/2019-09-30/functions/[^/]+/concurrency$")).respond_with_handler(
            self.concurrency
        )
        self.client = local_client("lambda", server.url_for("/").rstrip("/"))

    def concurrency(self, request: Request) -> Response:
        name = request.path.split("/")[3]
        if name not in self.reserved:
            return Response(
                json.dumps({"Type": "User", "Message": f"Function not found: {name}"}),
                status=404,
                headers={"x-amzn-ErrorType": "ResourceNotFoundException"},
                content_type="application/json",
            )
        return Response(
            json.dumps({"ReservedConcurrentExecutions": self.reserved[name]}), content_type="application/json"
        )


def concurrency(account: LambdaAccount, *overrides: str) -> list[str]:
    template = load()
    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    values = preflight.overrides_of({"parameter_overrides": list(overrides)})
    functions = preflight.function_names(template, "talon-relay-dev")
    return preflight.concurrency_problems(values, defaults, functions=functions, lambda_client=account.client)


def test_reserved_concurrency_must_fit_the_accounts_quota(httpserver: HTTPServer) -> None:
    # Given a new account's Lambda quota: 10 concurrent executions in all
    functions = preflight.function_names(load(), "talon-relay-dev")
    count = len(OPERATIONS)  # one function per table entry
    assert len(functions) == count and "talon-relay-dev-update-customer-session" in functions
    new_account = LambdaAccount(httpserver, quota=10)
    # Then reserving 2 for each function is refused, naming the quota and the way out
    [problem] = concurrency(new_account, "ReservedConcurrency=2")
    assert problem.startswith(
        f"ReservedConcurrency=2 reserves {2 * count} for the {count} functions, but the account's Lambda"
    )
    assert "quota is 10 (10 unreserved, 0 of it reserved by this stack)" in problem
    assert "Service Quotas" in problem
    # And without a reservation nothing is asked of the account
    httpserver.clear()
    assert concurrency(new_account, "ReservedConcurrency=0") == []
    assert httpserver.log == []


def test_reserved_concurrency_within_the_quota_passes_and_an_update_counts_its_own(httpserver: HTTPServer) -> None:
    # Given an account whose quota leaves 100 per function and the 100 Lambda keeps unreserved, where this
    # stack's functions already reserve 50 each (an update)
    functions = preflight.function_names(load(), "talon-relay-dev")
    account = LambdaAccount(httpserver, quota=100 * len(functions) + 100, reserved=dict.fromkeys(functions, 50))
    # Then 100 each fits (100 left unreserved), and 101 each does not
    assert concurrency(account, "ReservedConcurrency=100") == []
    [problem] = concurrency(account, "ReservedConcurrency=101")
    assert "at most 100 per function fits" in problem


# --- the Applications document (docs/applications.md) ------------------------------------------------

ACCOUNT = "arn:aws:secretsmanager:eu-west-1:210987654321:secret"
US = {
    "name": "us",
    "talonSecretArn": f"{ACCOUNT}:talon-us-Ab12Cd",
    "callerKeysSecretArn": f"{ACCOUNT}:callers-us-Ab12Cd",
    "signingSecretArn": f"{ACCOUNT}:signing-us-Ab12Cd",
    "shops": [{"domain": "acme.myshopify.com", "currencies": ["USD"]}],
}
GRANTED = "ApplicationSecretArns=" + ",".join(
    str(US[k]) for k in ("talonSecretArn", "callerKeysSecretArn", "signingSecretArn")
)


def with_document(document: dict[str, Any], *overrides: str) -> list[str]:
    return problems(f"TalonSecretArn={SECRET}", f"Applications={json.dumps(document)}", *overrides)


def test_a_sound_applications_document_with_its_secrets_granted_passes() -> None:
    document = {"applications": [{"name": "default", "shops": [{"domain": "acme.myshopify.com"}]}, US]}
    assert with_document(document, GRANTED, "AlarmApplications=default,us") == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"applications": [US], "keyApi": "mars"}, "TALON_APPLICATIONS.keyApi: unknown application 'mars'"),
        ({"applications": [US, US]}, "TALON_APPLICATIONS.applications.1.name: application 'us' is named twice"),
        (
            {"applications": [US, {**US, "name": "uk", "talonSecretArn": f"{ACCOUNT}:talon-uk-Ab12Cd"}]},
            "TALON_APPLICATIONS.applications.1.callerKeysSecretArn: duplicate binding: the secret is bound to "
            "applications 'us' and 'uk'",
        ),
        (
            {"applications": [{**US, "signingSecretArn": f"{ACCOUNT}:signing-eu-Ab12Cd"}]},
            "TALON_APPLICATIONS.applications.0.signingSecretArn: duplicate binding: the secret is bound to "
            "applications 'default' and 'us'",
        ),
        (
            {"applications": [{**US, "talonSecretArn": SECRET}]},
            "TALON_APPLICATIONS.applications.0.talonSecretArn: duplicate binding",
        ),
        (
            {
                "applications": [
                    {"name": "default", "shops": [{"domain": "acme.myshopify.com", "currencies": ["EUR", "USD"]}]},
                    US,
                ]
            },
            "TALON_APPLICATIONS.applications.1.shops.0.domain: duplicate binding: shop 'acme.myshopify.com' in USD "
            "is bound to applications 'default' and 'us'",
        ),
        (
            {
                "applications": [
                    {"name": "default", "shops": [{"domain": "a.myshopify.com"}]},
                    {**US, "shops": [{"domain": "A.myshopify.com"}]},
                ]
            },
            "shop 'a.myshopify.com' without currencies is bound to applications 'default' and 'us'",
        ),
        (
            {"applications": [{k: v for k, v in US.items() if k != "talonSecretArn"}]},
            "TALON_APPLICATIONS.applications.0.talonSecretArn: application 'us' needs its Talon.One secret",
        ),
        (
            {"applications": [{k: v for k, v in US.items() if k != "signingSecretArn"}]},
            "TALON_APPLICATIONS.applications.0.signingSecretArn: application 'us' needs a signing secret",
        ),
        ({"applications": []}, "TALON_APPLICATIONS.applications"),
    ],
)
def test_an_applications_document_a_function_would_refuse_is_refused_naming_the_setting(
    document: dict[str, Any], message: str
) -> None:
    # Given samconfig's Applications override a function would refuse at its start
    # When the preflight runs, then it refuses the deploy with the function's own message naming the setting
    [problem] = [
        p
        for p in with_document(document, GRANTED, f"CallerSigningSecretArn={ACCOUNT}:signing-eu-Ab12Cd")
        if "Applications (" in p
    ]
    assert problem.startswith("Applications (the functions' TALON_APPLICATIONS) is refused: ")
    assert message in problem
    assert "samconfig.toml [dev.deploy.parameters]" in problem


def test_a_secret_of_the_document_missing_from_application_secret_arns_is_refused() -> None:
    # Given the document's `us` application, and ApplicationSecretArns granting two of its three secrets
    partial = "ApplicationSecretArns=" + ",".join(str(US[k]) for k in ("talonSecretArn", "callerKeysSecretArn"))
    found = with_document({"applications": [US]}, partial)
    # Then the third is named, with its application
    assert found == [
        f"ApplicationSecretArns lacks {US['signingSecretArn']}, a secret of application 'us' in Applications: IAM "
        "would deny every function its read; add it to ApplicationSecretArns in samconfig.toml [dev.deploy.parameters] "
        "parameter_overrides"
    ]


def test_alarm_applications_may_name_only_known_applications() -> None:
    found = with_document({"applications": [US]}, GRANTED, "AlarmApplications=us,mars")
    assert len(found) == 1
    assert "AlarmApplications names unknown application 'mars' (known: default, us)" in found[0]
    assert (
        "AlarmApplications names unknown application 'mars'"
        in problems(f"TalonSecretArn={SECRET}", "AlarmApplications=mars")[0]
    )


def test_the_command_refuses_a_bad_applications_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a samconfig whose Applications names an unknown keyApi
    document = json.dumps({"applications": [US], "keyApi": "mars"})
    overrides = [f"TalonSecretArn={SECRET}", f"Applications={document}", GRANTED]
    text = "\n".join(
        [
            "version = 0.1",
            "[dev.global.parameters]",
            'stack_name = "talon-relay-dev"',
            "[dev.deploy.parameters]",
            f"parameter_overrides = {json.dumps(overrides)}",
        ]
    )
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(text)
    # When make deploy's preflight runs, then it refuses, naming the setting
    assert preflight.main(["--config-env", "dev", "--samconfig", str(samconfig), "--offline"]) == 1
    assert "TALON_APPLICATIONS.keyApi: unknown application 'mars'" in capsys.readouterr().err
