"""Who may do what, and who hears about failures: roles, policies, the idempotency table, the caller
signing secret and the alarms of template.yaml, for every entry of the operation table.

Each function has its own role (no SAM-generated managed policies, which would reach every queue and
every log group); no Allow names every resource except X-Ray's; every function and every dead-letter
queue has an alarm.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from talon_relay.operations import Operation
from tests.template.helpers import (
    QUEUED,
    SCHEDULED,
    SENDERS,
    SIGNING_SECRET,
    TABLE,
    WEBHOOKS,
    alarms,
    arn_of,
    as_list,
    default,
    function_properties,
    kebab,
    named_function,
    of_type,
    ops,
    policy_statements,
    prefix,
    queue_id,
    ref,
    role_statements,
    webhook_secret,
)

#: The item actions Powertools idempotency needs on its table, and nothing else.
IDEMPOTENCY_ACTIONS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
#: The webhook receivers whose session webhooks go to a shared queue (today Shopify's): customers/redact and
#: shop/redact make them delete the orders' records, items of that queue's consumer (docs/webhooks.md).
FORGETTERS = [op for op in WEBHOOKS if op.shared_queue]
forgetters = pytest.mark.parametrize("op", FORGETTERS, ids=lambda op: op.function)


def consumer_of(op: Operation) -> Operation:
    """The entry that polls `op`'s shared queue (a member that is not a webhook receiver): the function
    whose items hold the orders' records."""
    [consumer] = [m for m in TABLE if m.shared_queue == op.shared_queue and m.polls and m.webhook is None]
    return consumer


def function_name(op: Operation) -> str:
    return f"${{AWS::StackName}}-{kebab(op)}"


# --- permissions ----------------------------------------------------------------------------


def test_no_policy_grants_every_resource_except_xray(resources: dict[str, Any]) -> None:
    # Given every policy statement in the template
    statements = list(policy_statements(resources))
    assert statements

    # Then no Allow names Resource "*", except X-Ray's writes (it has no resource-level permissions)
    for key, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), (key, actions)
        if "*" in as_list(statement["Resource"]):
            assert all(a.startswith("xray:") for a in actions), (key, statement)
        else:
            # (and no ARN pattern with a wildcard either)
            strings = [r for r in as_list(statement["Resource"]) if isinstance(r, str)]
            assert not any("*" in r for r in strings), (key, statement)


@ops
def test_function_has_its_own_role_without_managed_policies(resources: dict[str, Any], op: Operation) -> None:
    # Given the function
    props = resources[f"{prefix(op)}Function"]["Properties"]

    # Then it uses its own role, so SAM adds no managed policy (AWSLambdaSQSQueueExecutionRole
    # and AWSLambdaBasicExecutionRole would grant every queue and every log group)
    assert props["Role"] == arn_of(f"{prefix(op)}FunctionRole")
    assert "Policies" not in props
    role = resources[f"{prefix(op)}FunctionRole"]
    assert role["Type"] == "AWS::IAM::Role"
    assert "ManagedPolicyArns" not in role["Properties"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]


@ops
def test_function_reads_only_the_talon_and_caller_secrets(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the function's role in a one-application deployment (the applications'
    # secrets, under HasApplications, are checked by test_applications_template.py)
    statements = role_statements(resources, op, {"HasApplications": False})

    # Then the only secrets it may read are TalonSecretArn, the effective caller signing secret and the
    # caller API keys (a webhook receiver: its platform's secret instead), and only with GetSecretValue
    secret = [s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert all(s["Effect"] == "Allow" for s in secret)
    expected = [ref("TalonSecretArn"), SIGNING_SECRET, ref("CallerApiKeysSecret")]
    if op.webhook is not None:
        expected = [ref("TalonSecretArn"), ref(webhook_secret(op))]
    if op.webhook == "talon_one":  # (and the shop's Admin API token, for the loyalty write-back)
        expected.append(ref("ShopifyAdminTokenSecret"))
    assert [as_list(s["Action"]) for s in secret] == [["secretsmanager:GetSecretValue"]] * len(expected)
    resources_ = [r for s in secret for r in as_list(s["Resource"])]
    assert sorted(resources_, key=json.dumps) == sorted(expected, key=json.dumps)
    # And no KMS right comes with them (both secrets use the AWS managed key by default)
    assert not any(a.startswith("kms:") for s in statements for a in as_list(s["Action"]))


@ops
def test_function_uses_only_the_idempotency_table(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the function's role
    statements = role_statements(resources, op)

    # Then its DynamoDB rights are exactly the four item actions, on the idempotency table alone (and a
    # coalescing consumer's BatchWriteItem: its group's records written at once; aws/idempotency_batch.py)
    # (a receiver with a shared queue has two statements more, on the orders' records: the test below)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    forget = [s for s in dynamodb if s.get("Sid") in {"ForgetOrderRecords", "FindShopRecords"}]
    assert len(forget) == (2 if op in FORGETTERS else 0)
    [statement] = [s for s in dynamodb if s not in forget]
    assert statement.get("Sid") == "UseIdempotencyTable"
    assert statement["Effect"] == "Allow"
    batch = {"dynamodb:BatchWriteItem"} if op.coalesce and op.polls else set()
    assert sorted(as_list(statement["Action"])) == sorted(IDEMPOTENCY_ACTIONS | batch)
    assert as_list(statement["Resource"]) == [arn_of("IdempotencyTable")]
    # And only its own items: keys that start with its function name (Powertools' records and the relay's
    # own), and a last-write-wins consumer's order records of its operation (tests/functions/test_key_scope.py
    # holds the code to these keys)
    # (a shared queue's consumer: one order record per session across its operations, `ordering#<queue>#`;
    # a member that only sends to the shared queue applies no queued update, so it has none)
    own = {"Fn::Sub": f"${{AWS::StackName}}-{op.function.replace('_', '-')}.*"}
    record = f"ordering#{op.shared_queue or op.name}#*"
    expected = [own, record] if op.last_write_wins and op.polls else [own]
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": expected}}


def test_a_shared_queue_has_one_receiver_that_forgets_its_orders() -> None:
    # Given the table: Shopify's receiver sends its session webhooks to the sessions queue, which
    # updateCustomerSessionV2's function polls (the function that keeps the orders' records)
    assert [(op.name, op.shared_queue) for op in FORGETTERS] == [("shopifyWebhook", "sessions")]
    assert consumer_of(FORGETTERS[0]).name == "updateCustomerSessionV2"


@forgetters
def test_receiver_with_a_shared_queue_may_forget_the_orders_records(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the receiver's role, and the function whose items hold the orders' records
    statements = {s.get("Sid"): s for s in role_statements(resources, op)}
    owner = function_name(consumer_of(op))

    # Then it may delete that function's order records (customers/redact, shop/redact), and no other item
    # of it: DeleteItem only, on the table, for keys `<owner>.order#...`
    assert statements["ForgetOrderRecords"] == {
        "Sid": "ForgetOrderRecords",
        "Effect": "Allow",
        "Action": "dynamodb:DeleteItem",
        "Resource": arn_of("IdempotencyTable"),
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [{"Fn::Sub": f"{owner}.order#*"}]}},
    }
    # And it may find a shop's records (its order records and the receiver's own order groups) through the
    # ByShop index alone, by the index's partition key `shop` (`<owner function name>.shop#<domain>`)
    own = function_name(op)
    assert statements["FindShopRecords"] == {
        "Sid": "FindShopRecords",
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": {"Fn::Sub": "${IdempotencyTable.Arn}/index/ByShop"},
        "Condition": {
            "ForAllValues:StringLike": {
                "dynamodb:LeadingKeys": [{"Fn::Sub": f"{owner}.shop#*"}, {"Fn::Sub": f"{own}.shop#*"}]
            }
        },
    }


@ops
def test_only_a_receiver_with_a_shared_queue_may_touch_other_functions_items(
    resources: dict[str, Any], op: Operation
) -> None:
    # Given the DynamoDB statements of the function's role, with every option on
    dynamodb = [
        s for s in role_statements(resources, op) if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]

    # Then it has no Query, and no key beyond its own and its order records (UseIdempotencyTable), unless it
    # is a receiver with a shared queue (the two statements above)
    sids = sorted(str(s.get("Sid")) for s in dynamodb)
    if op in FORGETTERS:
        assert sids == ["FindShopRecords", "ForgetOrderRecords", "UseIdempotencyTable"]
    else:
        assert sids == ["UseIdempotencyTable"]
        assert "dynamodb:Query" not in as_list(dynamodb[0]["Action"])


@forgetters
def test_receiver_is_told_whose_items_hold_the_orders_records(template: dict[str, Any], op: Operation) -> None:
    # Given the receiver's variables
    variables = function_properties(template, op)["Environment"]["Variables"]

    # Then ORDER_RECORDS_OWNER names the function that polls its shared queue (the one its role may forget)
    assert variables["ORDER_RECORDS_OWNER"] == {"Fn::Sub": function_name(consumer_of(op))}
    # And no other function is given one
    others = [o for o in TABLE if o not in FORGETTERS]
    assert all(
        "ORDER_RECORDS_OWNER" not in function_properties(template, o).get("Environment", {}).get("Variables", {})
        for o in others
    )


@ops
def test_function_reaches_only_its_own_queues_and_log_group(resources: dict[str, Any], op: Operation) -> None:
    # Given the statements of the function's role
    statements = role_statements(resources, op)

    # Then its SQS rights are: consume its queue, send to it (async mode: the API queues the request
    # and answers 202), send to its DLQ (poison messages with a reason), and a queue consumer's right
    # to hide a failed message for its backoff (backoff.py)
    sqs: dict[str, set[str]] = {}
    for statement in statements:
        actions = [a for a in as_list(statement["Action"]) if a.startswith("sqs:")]
        for resource in as_list(statement["Resource"]):
            if actions:
                sqs.setdefault(resource["Fn::GetAtt"][0], set()).update(actions)
    consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage"}
    expected = {f"{queue_id(op)}DeadLetterQueue": {"sqs:SendMessage"}}
    expected[f"{queue_id(op)}Queue"] = consume | {"sqs:ChangeMessageVisibility"}
    if op in SENDERS:
        # (a member of a shared queue that only sends to it: its async mode queues there, nothing more)
        expected = {f"{queue_id(op)}Queue": {"sqs:SendMessage"}}
    if not op.queued:
        # (a GET has no queue: it is answered at once, and its role has no sqs:* action on a queue of its
        # own; only the event bus's dead letters, as every function's, below)
        expected = {}
    if op.schedule:
        # (the schedule drains the queue itself, hiding each message until the run is over, and reports
        # failed runs to its DLQ)
        expected["ErasureScheduleDeadLetterQueue"] = {"sqs:SendMessage"}
    if op.webhook is not None and op.webhook != "talon_one":
        # (a receiver that maps webhooks to operations sends the steps of the operations the table queues
        # (webhook_steps_queued: the erasures for the schedule, the catalog syncs to be coalesced) to each
        # one's own queue, and to no other operation's; Talon.One's notifications map to no operation)
        queued_steps = [entry for entry in TABLE if entry.webhook_steps_queued]
        assert {entry.name for entry in queued_steps} >= {"deleteCustomerData", "syncCatalog"}
        expected.update({f"{queue_id(entry)}Queue": {"sqs:SendMessage"} for entry in queued_steps})
    if op.webhook is not None and op.shared_queue:
        # (and sends the webhooks that change a session to the shared queue: docs/lifecycle.md)
        expected[f"{op.shared_queue.capitalize()}Queue"] = {"sqs:SendMessage"}
    # (and every function dead-letters what the event bus refused, with the reason: docs/events.md)
    expected["RelayEventsDeadLetterQueue"] = {"sqs:SendMessage"}
    assert sqs == expected
    # And its log rights reach only its own log group
    logs = [s for s in statements if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert [s["Resource"] for s in logs] == [arn_of(f"{prefix(op)}LogGroup")]
    assert "logs:CreateLogGroup" not in {a for s in logs for a in as_list(s["Action"])}


# --- idempotency and caller authentication -------------------------------------------------


def test_idempotency_table_expires_its_records(resources: dict[str, Any], parameters: dict[str, Any]) -> None:
    # Given the only DynamoDB table
    assert set(of_type(resources, "AWS::DynamoDB::Table")) == {"IdempotencyTable"}
    props = resources["IdempotencyTable"]["Properties"]

    # Then it is keyed by the string `id` (Powertools' default), billed per request, encrypted
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    # (and `shop`, the key of its index ByShop: the test below)
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "shop", "AttributeType": "S"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    # And DynamoDB removes a record once its `expiration` (Powertools' default) has passed
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # And a record lives at least a minute (IdempotencyExpirySeconds, a day by default)
    expiry = parameters["IdempotencyExpirySeconds"]
    assert expiry["Type"] == "Number"
    assert int(expiry["MinValue"]) == 60
    assert int(expiry["Default"]) == 86400


def test_idempotency_table_finds_a_shops_records(resources: dict[str, Any]) -> None:
    # Given the idempotency table
    props = resources["IdempotencyTable"]["Properties"]

    # Then its one index, ByShop, is keyed by the string `shop` alone and holds the items' keys only: what
    # shop/redact needs to find a shop's order records and order groups, then delete them by key (sparse:
    # only those items carry `shop`)
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "ByShop",
            "KeySchema": [{"AttributeName": "shop", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert {"AttributeName": "shop", "AttributeType": "S"} in props["AttributeDefinitions"]
    # And it is billed per request like the table (an index of its own throughput would throttle apart)
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props["GlobalSecondaryIndexes"][0]


def test_caller_authentication_is_required_by_default(parameters: dict[str, Any]) -> None:
    # Given the CallerAuthentication parameter
    auth = parameters["CallerAuthentication"]

    # Then a deployer may only require it or disable it, and it is required unless told otherwise
    assert auth["AllowedValues"] == ["required", "disabled"]
    assert auth["Default"] == "required"


def test_stack_creates_the_signing_secret_unless_one_is_given(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the CallerSigningSecretArn parameter, empty by default, or a secret's ARN
    given = parameters["CallerSigningSecretArn"]
    assert given["Default"] == ""
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:talon-relay/callers-AbCdEf"
    assert re.fullmatch(given["AllowedPattern"], arn)
    assert re.fullmatch(given["AllowedPattern"], "")
    assert not re.fullmatch(given["AllowedPattern"], "talon-relay/callers")
    assert template["Conditions"]["CreateCallerSigningSecret"] == {"Fn::Equals": [ref("CallerSigningSecretArn"), ""]}

    # Then without one the stack creates a secret {"current": <48 letters and digits>}
    secret = resources["CallerSigningSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "CreateCallerSigningSecret"
    generate = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generate["SecretStringTemplate"]) == {}
    assert generate["GenerateStringKey"] == "current"
    assert generate["PasswordLength"] == 48
    assert generate["ExcludePunctuation"] is True
    # And besides it the stack creates only the caller API keys and each webhook platform's secret, the
    # same way (the Talon.One secret is the deployer's; a platform's secret gets the platform's value)
    platforms = {webhook_secret(op) for op in WEBHOOKS}
    assert (
        set(of_type(resources, "AWS::SecretsManager::Secret"))
        == {
            "CallerSigningSecret",
            "CallerApiKeysSecret",
            "ShopifyAdminTokenSecret",  # the shop's token, written by the operator (docs/events.md)
        }
        | platforms
    )
    for name in ["CallerApiKeysSecret", *sorted(platforms)]:
        assert "Condition" not in resources[name]
        assert resources[name]["Properties"]["GenerateSecretString"] == {**generate, "SecretStringTemplate": "{}"}


# --- alarms ---------------------------------------------------------------------------------


def test_every_dead_letter_queue_has_an_alarm(resources: dict[str, Any]) -> None:
    # Given the DLQs and the alarms
    dlqs = {key for key in of_type(resources, "AWS::SQS::Queue") if key.endswith("DeadLetterQueue")}
    assert dlqs == {f"{queue_id(op)}DeadLetterQueue" for op in QUEUED} | {
        "ErasureScheduleDeadLetterQueue",
        "RelayEventsDeadLetterQueue",
    }

    # Then each DLQ alarms as soon as one message is visible in it
    watched = set()
    for alarm in alarms(resources):
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert alarm["Namespace"] == "AWS/SQS"
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
            assert alarm["Threshold"] == 0
            [dimension] = alarm["Dimensions"]
            assert dimension["Name"] == "QueueName"
            watched.add(dimension["Value"]["Fn::GetAtt"][0])
    assert watched == dlqs


def test_erasure_backlog_alarms_long_before_requests_expire(
    resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the queue the schedule drains, and the alarms on the age of queued requests
    [op] = SCHEDULED
    queue = resources[f"{queue_id(op)}Queue"]["Properties"]
    backlog = [
        a
        for a in alarms(resources)
        if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
        and a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] == f"{queue_id(op)}Queue"
    ]

    # Then it keeps requests 14 days (a failing one is received once a run, MaxReceiveCount times)
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    # And an alarm fires when the oldest request has waited ErasureBacklogMaxAge, well before expiry
    [alarm] = backlog
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{queue_id(op)}Queue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == ref("ErasureBacklogMaxAge")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert 2 * default(parameters, "ErasureBacklogMaxAge") <= queue["MessageRetentionPeriod"]


def test_every_function_has_an_error_alarm(resources: dict[str, Any]) -> None:
    # Given the alarms on Lambda errors
    watched = set()
    for alarm in alarms(resources):
        if alarm.get("Namespace") == "AWS/Lambda" and alarm["MetricName"] != "Throttles":
            # Then each fires on the first error of one function
            assert alarm["MetricName"] == "Errors"
            assert alarm["Statistic"] == "Sum"
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
            assert alarm["Threshold"] == 0
            [dimension] = alarm["Dimensions"]
            assert dimension["Name"] == "FunctionName"
            watched.add(named_function(resources, dimension["Value"]))
    # And every function is watched
    assert watched == {f"{prefix(op)}Function" for op in TABLE}


def test_alarms_always_notify_a_topic(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the AlarmTopicArn parameter, empty by default
    assert default(parameters, "AlarmTopicArn") == ""
    assert template["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [ref("AlarmTopicArn"), ""]}
    # Then without it the stack creates a topic of its own (mailing AlarmEmail when given) ...
    topic = resources["AlarmTopic"]
    assert (topic["Type"], topic["Condition"]) == ("AWS::SNS::Topic", "CreateAlarmTopic")
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": ref("AlarmTopic"),
        "Protocol": "email",
        "Endpoint": ref("AlarmEmail"),
    }
    assert template["Conditions"]["HasAlarmEmail"] == {
        "Fn::And": [{"Condition": "CreateAlarmTopic"}, {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]}]
    }
    # ... and every alarm notifies that topic or the given one: no deployment has silent alarms
    notify = [{"Fn::If": ["CreateAlarmTopic", ref("AlarmTopic"), ref("AlarmTopicArn")]}]
    for alarm in alarms(resources):
        assert alarm["AlarmActions"] == notify
        assert alarm["OKActions"] == notify
