"""Render template.yaml: template/base.yaml plus one block per entry of the operation table.

    python -m template.render           write template.yaml (`make template`)
    python -m template.render --check   exit 1 when template.yaml differs from its rendering (`make lint`)

The shared part of the stack (parameters, conditions, globals, layer, the two APIs, the signing secret,
the idempotency table, the erasure schedule's dead-letter queue, shared outputs) is written by hand in
base.yaml. Everything that exists once per operation is rendered here from talon_relay.operations
(name, method, path, function folder, queue kind, schedule), in the order of the operations' names, at
the two `# @operations` markers of base.yaml. The result is plain YAML with its comments, committed, so
sam, cfn-lint, the local stack and reviewers read it as before; the drift test and `make lint` fail while
the committed file differs from what this script renders.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from template import nested
from template.alarm_parts import ALARM_TAIL, talon_error_rate
from template.entry import OperationEntry, holds_queue, logical_prefix, queue_prefix

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "template" / "base.yaml"
TEMPLATE = ROOT / "template.yaml"

#: The lines of base.yaml that the operations' resources and outputs replace.
RESOURCES_MARKER = "  # @operations: resources"
OUTPUTS_MARKER = "  # @operations: outputs"
#: The line (in each REST API's MethodSettings) that the routes' throttling settings replace.
METHOD_SETTINGS_MARKER = "        # @operations: method settings"
#: The line (under Mappings) that the OutageHorizon mapping replaces.
MAPPING_MARKER = "  # @backoff: mapping"

BANNER = """\
# Rendered by `make template` (template/render.py) from template/base.yaml and the operation table
# (talon_relay.operations.OPERATIONS): edit those and re-render, not this file.

"""


# --- the per-operation text ({{key}} is filled in; everything else is YAML as written) -----------------

FUNCTION = """\
  {{Prefix}}Function:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-{{kebab}}
      Description: {{description}}
      CodeUri: functions/{{function}}/
      Handler: {{function}}.handler
      Role: !GetAtt {{Prefix}}FunctionRole.Arn
      # Every event source invokes the alias `live` (SnapStart restores published versions only); each
      # deploy publishes a version when anything of the function changed, its layer and configuration
      # included (AllProperties: the code lives in the layer, the function folder rarely changes).
      AutoPublishAlias: live
      AutoPublishAliasAllProperties: true
      LoggingConfig:
        LogGroup: !Ref {{Prefix}}LogGroup
{{timeout}}\
{{environment}}\
{{event_invoke_config}}\
      Events:
        Api:
          Type: Api
          Properties:
            RestApiId: !Ref RelayApi
            Path: {{path}}
            Method: {{method}}
{{key_api_event}}\
{{queue_event}}\
    Metadata:
      # functions/Makefile copies the handler module (no dependencies: they are all in the layer), so
      # building a function needs no python3.13, unlike SAM's pip builder
      BuildMethod: makefile
      ContextPath: functions
"""

#: The variables of a function with a queue (a GET has none: Globals' variables are all it needs).
QUEUE_ENVIRONMENT = """\
      Environment:
        Variables:
          QUEUE_URL: !Ref {{Queue}}Queue
          DEAD_LETTER_QUEUE_URL: !Ref {{Queue}}DeadLetterQueue
{{queue_environment}}\
{{webhook_environment}}\
"""

KEY_API_EVENT = """\
        KeyApi: # the same route on RelayKeyApi (API key instead of a signature)
          Type: Api
          Properties:
            RestApiId: !Ref RelayKeyApi
            Path: {{path}}
            Method: {{method}}
"""

#: A webhook receiver is on RelayApi only: the platform sends no x-api-key, and its own signature,
#: checked by the function, is the authentication.
WEBHOOK_ENVIRONMENT = """\
          WEBHOOK_SECRET_ARN: !Ref {{Platform}}WebhookSecret
{{step_queue_environment}}\
"""

#: A receiver whose mappings' steps of some operations go on those operations' own queues (the table's
#: `webhook_steps_queued`: syncCatalog, coalesced by its consumer; deleteCustomerData, for the schedule).
STEP_QUEUE_ENVIRONMENT = """\
          # mapped steps of these operations go on their queues, whose consumers apply them
          STEP_QUEUE_URLS: !Sub '{{{step_queue_urls}}}'
"""

#: The queue's maxReceiveCount: derived from OutageHorizonHours (the OutageHorizon mapping), unless given.
MAX_RECEIVE_COUNT = (
    "!If [DeriveMaxReceiveCount, !FindInMap [OutageHorizon, !Ref OutageHorizonHours, MaxReceiveCount],"
    " !Ref MaxReceiveCount]"
)

QUEUE_FUNCTION_ENVIRONMENT = f"""\
          # its last receive: a message still failing then is dead-lettered by the relay, with its reason
          MAX_RECEIVE_COUNT: {MAX_RECEIVE_COUNT}
"""

SCHEDULE_TIMEOUT = """\
      # A scheduled run erases for up to ErasureRunTimeout (15 minutes); API requests to this function keep
      # FunctionTimeout as their own deadline (API_TIMEOUT_SECONDS), as API Gateway waits 29 s at most.
      Timeout: !Ref ErasureRunTimeout
"""

SCHEDULE_ENVIRONMENT = """\
          API_TIMEOUT_SECONDS: !Ref FunctionTimeout
          ERASURE_CONCURRENCY: !Ref ErasureConcurrency
"""

SCHEDULE_INVOKE_CONFIG = """\
      # The scheduler invokes asynchronously: a run it delivered that then fails (after Lambda's own
      # retries) lands in the same DLQ as a run it could not deliver, so one alarm covers both.
      EventInvokeConfig:
        MaximumRetryAttempts: 2
        MaximumEventAgeInSeconds: 3600
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt ErasureScheduleDeadLetterQueue.Arn
"""

SCHEDULE_EVENT = """\
        # No SQS event: the erasure queue is drained off-peak by this schedule, not as it fills.
        ErasureSchedule:
          Type: ScheduleV2
          Properties:
            Name: !Sub ${AWS::StackName}-erasure # names are unique per account and region
            Description: Drain the erasure queue off-peak ({{name}} for each queued id)
            ScheduleExpression: !Ref ErasureSchedule
            ScheduleExpressionTimezone: !Ref ErasureScheduleTimezone
            State: ENABLED
            Input: "{}"
            RetryPolicy:
              MaximumRetryAttempts: 3
              MaximumEventAgeInSeconds: 3600
            DeadLetterConfig:
              Arn: !GetAtt ErasureScheduleDeadLetterQueue.Arn
"""

FIFO_QUEUE_EVENT = """\
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt {{Queue}}Queue.Arn
            BatchSize: 10 # no MaximumBatchingWindowInSeconds: Lambda does not support it on FIFO queues
            FunctionResponseTypes:
              - ReportBatchItemFailures
            ScalingConfig: # the queue's share of the Talon.One budget: this x BatchConcurrency calls
              MaximumConcurrency: !Ref QueueMaximumConcurrency
"""

STANDARD_QUEUE_EVENT = """\
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt {{Queue}}Queue.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: !Ref SqsBatchWindow
            FunctionResponseTypes:
              - ReportBatchItemFailures
            ScalingConfig: # the queue's share of the Talon.One budget: this x BatchConcurrency calls
              MaximumConcurrency: !Ref QueueMaximumConcurrency
"""

ROLE = """\
  {{Prefix}}FunctionRole:
    Type: AWS::IAM::Role
    Properties:
      Description: !Sub Execution role of ${AWS::StackName}-{{kebab}}
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
      Policies:
        - PolicyName: {{kebab}}
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: WriteOwnLogs
                Effect: Allow
                Action:
                  - logs:CreateLogStream
                  - logs:PutLogEvents
                Resource: !GetAtt {{Prefix}}LogGroup.Arn
              - Sid: WriteTraces # X-Ray has no resource-level permissions: "*" is the only choice
                Effect: Allow
                Action:
                  - xray:PutTraceSegments
                  - xray:PutTelemetryRecords
                Resource: "*"
              - Sid: ReadTalonSecret
                Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !Ref TalonSecretArn
              - !If
                - HasApplications
                - Sid: ReadApplicationSecrets # the other applications' secrets (docs/applications.md)
                  Effect: Allow
                  Action: secretsmanager:GetSecretValue
                  Resource: !Ref ApplicationSecretArns
                - !Ref AWS::NoValue
{{read_statements}}\
              - Sid: UseIdempotencyTable # its own items only: `<function name>.<...>` (Powertools' records, used
                # signatures, answers in parts){{ordering_comment}}
                Effect: Allow
                Action:
                  - dynamodb:GetItem
                  - dynamodb:PutItem
                  - dynamodb:UpdateItem
                  - dynamodb:DeleteItem
{{batch_write}}\
                Resource: !GetAtt IdempotencyTable.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys:
                      - !Sub ${AWS::StackName}-{{kebab}}.*
{{ordering_key}}\
{{forget_statements}}\
{{queue_statements}}\
{{step_queue_statement}}\
{{event_statements}}\
{{writeback_statement}}\
"""

#: What a function with a queue sends to its own queues (a GET has none: it has no sqs:* permission at all).
SEND_STATEMENTS = """\
              - Sid: DeadLetterPoisonMessages # the code forwards poison messages with their reason
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {{Queue}}DeadLetterQueue.Arn
              - Sid: EnqueueOwnRequests # {{enqueue_comment}}
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {{Queue}}Queue.Arn
"""

#: A member of a shared queue that does not consume it: its async mode sends there, nothing more.
SHARED_SENDER_ENVIRONMENT = """\
      Environment:
        Variables:
          # Prefer: respond-async queues the request on the {{shared_queue}} queue (one order per session
          # across its operations), which {{consumer}}'s function consumes
          QUEUE_URL: !Ref {{Queue}}Queue
"""

SHARED_SEND_STATEMENT = """\
              - Sid: EnqueueOnSharedQueue # async mode: the request goes on the {{shared_queue}} queue
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {{Queue}}Queue.Arn
"""

#: A webhook receiver whose session webhooks go to the shared queue (after its own queue's variables).
SHARED_WEBHOOK_ENVIRONMENT = """\
          # webhooks that change a session join the API's queued changes of it (docs/lifecycle.md)
          SHARED_QUEUE_URL: !Ref {{Shared}}Queue
"""

SHARED_WEBHOOK_STATEMENT = """\
              - Sid: EnqueueSessionWebhooks # a webhook that changes a session goes on the {{shared_queue}} queue
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {{Shared}}Queue.Arn
"""

#: That receiver applies customers/redact and shop/redact to the orders' records too: the items of the
#: shared queue's consumer (`<its name>.order#<shop>#<order id>`, found for a shop through the ByShop index
#: of IdempotencyTable, as the receiver's own order groups are).
FORGET_ENVIRONMENT = """\
          # the function whose items hold the orders' records (the {{shared_queue}} queue's consumer), which
          # customers/redact and shop/redact delete
          ORDER_RECORDS_OWNER: !Sub ${AWS::StackName}-{{owner_kebab}}
"""

FORGET_STATEMENTS = """\
              - Sid: ForgetOrderRecords # customers/redact, shop/redact: the orders' records, which are items
                # of the {{shared_queue}} queue's consumer (its own order groups: UseIdempotencyTable)
                Effect: Allow
                Action: dynamodb:DeleteItem
                Resource: !GetAtt IdempotencyTable.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys:
                      - !Sub ${AWS::StackName}-{{owner_kebab}}.order#*
              - Sid: FindShopRecords # shop/redact: the shop's order records and order groups, by their `shop`
                # (on an index, LeadingKeys is the index's partition key)
                Effect: Allow
                Action: dynamodb:Query
                Resource: !Sub ${IdempotencyTable.Arn}/index/ByShop
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys:
                      - !Sub ${AWS::StackName}-{{owner_kebab}}.shop#*
                      - !Sub ${AWS::StackName}-{{kebab}}.shop#*
"""


#: The Talon.One receiver publishes every notification on the bus: always (docs/events.md).
NOTIFICATION_STATEMENTS = """\
              - Sid: PublishEvents # every notification, on the relay's bus alone (docs/events.md)
                Effect: Allow
                Action: events:PutEvents
                Resource: !GetAtt RelayEventBus.Arn
              - Sid: DeadLetterEvents # what the bus refused, with the reason
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt RelayEventsDeadLetterQueue.Arn
"""

#: Every other function publishes its answers' effects only with EffectsToEventBus=enabled (its
#: EVENT_BUS_NAME is set then too): by default it has no events:PutEvents (docs/events.md).
EFFECT_STATEMENTS = """\
              - !If
                - EffectsToEventBusEnabled
                - Sid: PublishEvents # EffectsToEventBus: every effect, on the relay's bus alone
                  Effect: Allow
                  Action: events:PutEvents
                  Resource: !GetAtt RelayEventBus.Arn
                - !Ref AWS::NoValue
              - !If
                - EffectsToEventBusEnabled
                - Sid: DeadLetterEvents # what the bus refused, with the reason
                  Effect: Allow
                  Action: sqs:SendMessage
                  Resource: !GetAtt RelayEventsDeadLetterQueue.Arn
                - !Ref AWS::NoValue
"""

#: The Talon.One receiver publishes every notification on the bus whatever EffectsToEventBus says, and
#: writes loyalty balances and tiers back to the shop's customers (docs/events.md).
WRITEBACK_ENVIRONMENT = """\
          EVENT_BUS_NAME: !Ref RelayEventBus
          EVENTS_DEAD_LETTER_QUEUE_URL: !Ref RelayEventsDeadLetterQueue
          SHOPIFY_SHOP_DOMAIN: !Ref ShopifyShopDomain
          SHOPIFY_ADMIN_TOKEN_SECRET_ARN: !Ref ShopifyAdminTokenSecret
"""

WRITEBACK_STATEMENT = """\
              - Sid: ReadShopifyAdminToken # the loyalty write-back to ShopifyShopDomain's customers
                Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !Ref ShopifyAdminTokenSecret
"""

CALLER_AUTH_STATEMENTS = """\
              - Sid: ReadCallerSigningSecret # verifies the signatures of RelayApi's callers
                Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !If [CreateCallerSigningSecret, !Ref CallerSigningSecret, !Ref CallerSigningSecretArn]
              - Sid: ReadCallerApiKeys # checks the Authorization: ApiKey-v1 keys of RelayApi's callers
                Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !Ref CallerApiKeysSecret
"""

WEBHOOK_KEY_STATEMENT = """\
              - Sid: ReadWebhookSecret # verifies the platform's signature of each webhook
                Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !Ref {{Platform}}WebhookSecret
"""

STEP_QUEUE_STATEMENT = """\
              - Sid: QueueMappedSteps # a mapped step of {{step_queue_names}} goes on its operation's queue
                Effect: Allow
                Action: sqs:SendMessage
                Resource:
{{step_queue_arns}}\
"""

CONSUME_STATEMENT = """\
              - Sid: ConsumeOwnQueue # the SQS event source mapping polls with this role
                Effect: Allow
                Action:
                  - sqs:ReceiveMessage
                  - sqs:DeleteMessage
                  - sqs:GetQueueAttributes
                Resource: !GetAtt {{Queue}}Queue.Arn
              - Sid: RetryOwnMessagesLater # a failed message comes back after its backoff (backoff.py)
                Effect: Allow
                Action: sqs:ChangeMessageVisibility
                Resource: !GetAtt {{Queue}}Queue.Arn
"""

SCHEDULE_STATEMENTS = """\
              - Sid: DrainOwnQueue # the schedule receives and deletes erasure requests itself, hiding each
                # until the run is over (each is received once a run; what failed is released at the end)
                Effect: Allow
                Action:
                  - sqs:ReceiveMessage
                  - sqs:DeleteMessage
                  - sqs:GetQueueAttributes
                  - sqs:ChangeMessageVisibility
                Resource: !GetAtt {{Prefix}}Queue.Arn
              - Sid: ReportFailedScheduleRuns # the EventInvokeConfig OnFailure destination
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt ErasureScheduleDeadLetterQueue.Arn
"""

#: The function's log group (its LoggingConfig names it), named after the stack that holds it: the
#: area's nested stack. A group that moved to another stack under its old name would be created there
#: before the old stack let go of it ("already exists"), so the area is part of the name
#: (tests/template/test_upgrade.py; docs/deploying.md, "Upgrading").
LOG_GROUP = """\
  {{Prefix}}LogGroup:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      LogGroupName: !Sub /aws/lambda/${AWS::StackName}/{{area}}/{{kebab}}
      RetentionInDays: !Ref LogRetentionInDays
"""

QUEUE = """\
  {{Queue}}Queue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    UpdateReplacePolicy: Retain # a replacement (e.g. the move to FIFO) keeps the old queue's messages
    Properties:
{{queue_kind}}\
      SqsManagedSseEnabled: true
      MaximumMessageSize: 1048576 # the relay's 1 MiB (aws/queues.py); a queue made before SQS's 1 MiB keeps 256 KiB
      VisibilityTimeout: !Ref QueueVisibilityTimeout
{{retention}}\
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt {{Queue}}DeadLetterQueue.Arn
        maxReceiveCount: {{max_receive_count}}
"""

FIFO_QUEUE_KIND = """\
      # FIFO: a customer's session, profile and event updates must reach Talon.One in the order they
      # were sent (each builds on or overwrites the state the one before left), so Lambda delivers the
      # messages of one group (one customer) in order; deduplicating and throttling per message group
      # is FIFO's high-throughput mode.
{{deduplication}}\
      FifoQueue: true
      ContentBasedDeduplication: {{content_based}}
      DeduplicationScope: messageGroup
      FifoThroughputLimit: perMessageGroupId
"""

#: How a FIFO queue deduplicates: on content where an identical message within 5 minutes is a resend;
#: never on a last-write-wins queue, where A, B, A is a real later state (the third must not be dropped).
CONTENT_DEDUPLICATION = {
    True: """\
      # ContentBasedDeduplication drops a resent identical request within 5 minutes.
""",
    False: """\
      # No content-based deduplication: an update identical to one sent minutes ago may be the latest
      # state (A, B, A), so each send names its delivery attempt (MessageDeduplicationId: the API's
      # Idempotency-Key or request id; a sender's own update id) and a send without one is refused.
""",
}

STANDARD_QUEUE_KIND = """\
      # Standard (not FIFO): the order of {{name}} requests does not matter
      # (fifo=False in the operation table).
"""

RETENTION = """\
      # 14 days, the maximum: a message rides out an outage of up to OutageHorizonHours (at most 7 days)
      # and still has a week for the backlog behind it.
      MessageRetentionPeriod: 1209600
"""

SCHEDULE_RETENTION = """\
      # 14 days: the schedule receives each request once a run, so a failing one needs MaxReceiveCount
      # runs to reach the DLQ; a backlog the runs do not get to trips the age alarm long before expiry.
      MessageRetentionPeriod: 1209600
"""

DEAD_LETTER_QUEUE = """\
  {{Queue}}DeadLetterQueue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    UpdateReplacePolicy: Retain
    Properties:
{{dead_letter_kind}}\
      SqsManagedSseEnabled: true
      MaximumMessageSize: 1048576 # a dead letter is its message whole, with its reason
      MessageRetentionPeriod: 1209600 # 14 days, the maximum
"""

FIFO_DEAD_LETTER_KIND = """\
      # A FIFO queue's DLQ must be FIFO. Content-based deduplication lets the code forward a poison
      # message without a deduplication id (one it passes, e.g. the source messageId, wins). In
      # high-throughput mode like its queue: a plain FIFO queue takes 300 sends a second, a burst of
      # dead letters (a bad deploy, a refused batch) must not be throttled into retries.
      FifoQueue: true
      ContentBasedDeduplication: true
      DeduplicationScope: messageGroup
      FifoThroughputLimit: perMessageGroupId
"""

TLS_POLICY = """\
  {{queue}}TlsPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues:
        - !Ref {{queue}}
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: DenyInsecureTransport
            Effect: Deny
            Principal: "*"
            Action: sqs:*
            Resource: !GetAtt {{queue}}.Arn
            Condition:
              Bool:
                aws:SecureTransport: "false"
"""

#: One alarm on one CloudWatch metric of an operation's function or queue, over its threshold; the
#: kinds below fill it (their values hold the operation's {{Prefix}} and {{name}}, filled after).
METRIC_ALARM = (
    """\
  {{alarm}}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: {{description}}
      Namespace: {{namespace}}
      MetricName: {{metric}}
      Dimensions:
        - Name: {{dimension}}
          Value: {{target}}
      Statistic: {{statistic}}
      Period: {{period}}
      EvaluationPeriods: 1
      Threshold: {{threshold}}
"""
    + ALARM_TAIL
)

#: A function's alarms, on AWS/Lambda metrics.
_FUNCTION_METRIC = {"namespace": "AWS/Lambda", "dimension": "FunctionName", "target": "!Ref {{Prefix}}Function"}
ERRORS_ALARM = {
    **_FUNCTION_METRIC,
    "alarm": "{{Prefix}}ErrorsAlarm",
    "description": "!Sub ${{{Prefix}}Function} ({{name}}) failed an invocation",
    "metric": "Errors",
    "statistic": "Sum",
    "period": "60",
    "threshold": "0",
}
THROTTLES_ALARM = {
    **_FUNCTION_METRIC,
    "alarm": "{{Prefix}}ThrottlesAlarm",
    "description": "!Sub ${{{Prefix}}Function} ({{name}}) was throttled (concurrency limits; docs/operating.md)",
    "metric": "Throttles",
    "statistic": "Sum",
    "period": "300",
    "threshold": "0",
}

#: A queue's alarms, on AWS/SQS metrics.
_SQS_METRIC = {"namespace": "AWS/SQS", "dimension": "QueueName", "statistic": "Maximum", "period": "300"}
DEAD_LETTER_QUEUE_ALARM = {
    **_SQS_METRIC,
    "alarm": "{{Queue}}DeadLetterQueueAlarm",
    "description": "!Sub {{queue_name}} messages are waiting in ${{{Queue}}DeadLetterQueue.QueueName}",
    "metric": "ApproximateNumberOfMessagesVisible",
    "target": "!GetAtt {{Queue}}DeadLetterQueue.QueueName",
    "threshold": "0",
}
_QUEUE_AGE = {
    **_SQS_METRIC,
    "metric": "ApproximateAgeOfOldestMessage",
    "target": "!GetAtt {{Queue}}Queue.QueueName",
}
BACKLOG_ALARM = {
    **_QUEUE_AGE,
    "alarm": "{{Prefix}}QueueBacklogAlarm",
    "description": "!Sub Erasure requests have waited too long in ${{{Prefix}}Queue.QueueName};"
    " the schedule is not keeping up",
    "threshold": "!Ref ErasureBacklogMaxAge",
}
QUEUE_AGE_ALARM = {
    **_QUEUE_AGE,
    "alarm": "{{Queue}}QueueAgeAlarm",
    "description": "!Sub The oldest {{queue_name}} message in ${{{Queue}}Queue.QueueName} waited longer than"
    " QueueBacklogMaxAge (docs/operating.md, runbook)",
    "threshold": "!Ref QueueBacklogMaxAge",
}

#: Talon.One's failures over calls, from the function's own EMF counts (talon_relay/telemetry.py).
TALON_ERROR_RATE_ALARM = """\
  {{Prefix}}TalonOneErrorRateAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: !Sub >-
        ${{{Prefix}}Function}: more than TalonErrorRateThreshold of its Talon.One calls failed for
        Talon.One's reasons (5xx, 429, timeouts, unreachable, credentials refused; docs/operating.md, runbook)
""" + talon_error_rate("operation", "{{name}}")

METHOD_SETTING = """\
        - ResourcePath: {{resource_path}}
          HttpMethod: {{METHOD}}
          ThrottlingRateLimit: !Ref ApiThrottlingRateLimit
          ThrottlingBurstLimit: !Ref ApiThrottlingBurstLimit
          MetricsEnabled: false
          DataTraceEnabled: false
"""

OUTPUTS = """\
  {{Queue}}QueueUrl:
    Description: {{Queue}} queue ({{queue_format}})
    Value: !Ref {{Queue}}Queue
  {{Queue}}DeadLetterQueueUrl:
    Description: {{Queue}} dead-letter queue (poison messages carry their reason as message attributes)
    Value: !Ref {{Queue}}DeadLetterQueue
"""

#: Width of the `# --- <operation> ---` line that opens each operation's block.
HEADER_WIDTH = 96


# --- rendering ----------------------------------------------------------------------------------------


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each {{key}} replaced by values[key]; an unknown key is an error, not an empty string."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"no value for {{{{{key}}}}} in the template text")
        return values[key]

    return re.sub(r"\{\{(\w+)\}\}", value, text)


def check_table(operations: Iterable[OperationEntry]) -> list[OperationEntry]:
    """The operations in rendering order (by name), after checking what the template needs of them."""
    ordered = sorted(operations, key=lambda op: op.name)
    problems: list[str] = []
    for op in ordered:
        if not re.fullmatch(r"[a-z][A-Za-z0-9]*", op.name):
            problems.append(f"{op.name!r}: the name must be a camelCase operationId (it makes logical ids)")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", op.function):
            problems.append(f"{op.name}: function {op.function!r} must be a snake_case folder of functions/")
        if op.method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
            problems.append(f"{op.name}: method {op.method!r} is not an HTTP method API Gateway routes")
        if not op.path.startswith("/"):
            problems.append(f"{op.name}: path {op.path!r} must start with /")
        if op.webhook is not None and not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", op.webhook):
            problems.append(f"{op.name}: webhook platform {op.webhook!r} must be snake_case (lower-case, digits)")
    for attribute in ("name", "function"):
        seen: dict[str, str] = {}
        for op in ordered:
            key = getattr(op, attribute).lower()
            if key in seen:
                problems.append(f"{op.name} and {seen[key]} have the same {attribute}")
            seen[key] = op.name
    routes = [(op.method.upper(), op.path) for op in ordered]
    problems += [
        f"route {method} {path} is served twice"
        for method, path in sorted(set(routes))
        if routes.count((method, path)) > 1
    ]
    problems += [
        f"{op.name}: last_write_wins needs a FIFO queue (group_by): order is kept per customer"
        for op in ordered
        if op.last_write_wins and not op.fifo
    ]
    problems += [
        f"{op.name}: a {'webhook receiver' if op.webhook else 'scheduled operation'} needs a queue (not a GET)"
        for op in ordered
        if (op.webhook is not None or op.schedule) and not op.queued
    ]
    shared = sorted({op.shared_queue for op in ordered if op.shared_queue})
    for queue in shared:
        if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", queue):
            problems.append(f"shared queue {queue!r} must be snake_case (it makes logical ids)")
        senders = [op for op in ordered if op.shared_queue == queue and op.webhook is None]
        consumers = [op.name for op in senders if op.polls]
        if len(consumers) != 1:
            problems.append(f"the {queue} queue needs one consumer (Delivery.consumes), not {consumers or 'none'}")
        problems += [
            f"{op.name}: a member of the {queue} queue needs a queue (not a GET) and its group (group_by)"
            for op in senders
            if not op.queued or op.group_by is None
        ]
    problems += [
        f"{op.name}: a webhook's step can go on its queue (webhook_steps_queued) only if it has its own queue"
        for op in ordered
        if op.webhook_steps_queued and (op.webhook is not None or not op.own_queue or not op.polls)
    ]
    problems += [
        f"{op.name}: a scheduled operation is never called by a webhook receiver: set webhook_steps_queued"
        for op in ordered
        if op.schedule and not op.webhook_steps_queued
    ]
    scheduled = [op.name for op in ordered if op.schedule]
    if len(scheduled) > 1:
        # base.yaml has one erasure schedule (its parameters, its dead-letter queue and its alarm)
        problems.append(f"only one operation can be drained by the erasure schedule, not {', '.join(scheduled)}")
    if problems:
        raise ValueError("the operation table cannot be rendered:\n  " + "\n  ".join(problems))
    return ordered


def platform_id(platform: str) -> str:
    """A platform's part of logical ids: shopify -> Shopify, talon_one -> TalonOne."""
    return "".join(part.capitalize() for part in platform.split("_"))


def _description(op: OperationEntry) -> str:
    if op.webhook is not None:
        return (
            f"{platform_id(op.webhook)} webhooks ({op.method.upper()} {op.path}) verified and queued, then mapped"
            " to Talon.One operations from SQS"
        )
    if not op.queued:
        return f"Talon.One {op.name} ({op.method.upper()} {op.path}) from API Gateway (answered at once, no queue)"
    if op.shared_queue is not None and not op.polls:
        route = f"{op.method.upper()} {op.path}"
        return f"Talon.One {op.name} ({route}) from API Gateway (queued on the {op.shared_queue} queue)"
    if op.shared_queue is not None:
        return (
            f"Talon.One {op.name} ({op.method.upper()} {op.path}) from API Gateway, and every message of the"
            f" {op.shared_queue} queue from SQS"
        )
    other = "the off-peak erasure schedule" if op.schedule else "SQS"
    return f"Talon.One {op.name} ({op.method.upper()} {op.path}) from API Gateway and {other}"


def step_queue_targets(ordered: Iterable[OperationEntry]) -> list[OperationEntry]:
    """The operations whose mapped webhook steps go on their own queues (`webhook_steps_queued`)."""
    return [op for op in ordered if op.webhook_steps_queued]


def _step_queue_values(op: OperationEntry, targets: list[OperationEntry]) -> dict[str, str]:
    """A receiver's STEP_QUEUE_URLS and its sqs:SendMessage on exactly those queues. Talon.One's receiver
    maps its notifications to no operation (docs/events.md): none."""
    if not targets or op.webhook == "talon_one":
        return {"step_queue_environment": "", "step_queue_statement": ""}
    urls = ",".join(f'"{target.name}":"${{{queue_prefix(target)}Queue}}"' for target in targets)
    arns = "".join(f"                  - !GetAtt {queue_prefix(target)}Queue.Arn\n" for target in targets)
    values = {
        "step_queue_urls": urls,
        "step_queue_arns": arns,
        "step_queue_names": ", ".join(target.name for target in targets),
    }
    return {
        "step_queue_environment": fill(STEP_QUEUE_ENVIRONMENT, values),
        "step_queue_statement": fill(STEP_QUEUE_STATEMENT, values),
    }


def _webhook_values(op: OperationEntry, targets: list[OperationEntry], members: list[OperationEntry]) -> dict[str, str]:
    """What differs for a webhook receiver: its platform secret, the queues of its queued steps, RelayApi
    only; with a shared queue (`members`: the entries it carries), the right to forget its consumer's order
    records."""
    if op.webhook is None:
        return {
            "forget_statements": "",
            "webhook_environment": "",
            "key_api_event": KEY_API_EVENT,
            "read_statements": CALLER_AUTH_STATEMENTS,
            "enqueue_comment": "async mode: the API queues the request and answers 202",
            "step_queue_statement": "",
            "event_statements": EFFECT_STATEMENTS,
            "writeback_statement": "",
        }
    values = {"Platform": platform_id(op.webhook), **_step_queue_values(op, targets)}
    shared = {"Shared": platform_id(op.shared_queue or ""), "shared_queue": op.shared_queue or ""}
    forget = {"forget_environment": "", "forget_statements": ""}
    if op.shared_queue:
        owner = {**shared, "kebab": kebab(op.function), "owner_kebab": kebab(_consumer(op, members).function)}
        forget = {key: fill(text, owner) for key, text in _FORGET.items()}
    return {
        "forget_statements": forget["forget_statements"],
        "webhook_environment": fill(WEBHOOK_ENVIRONMENT, values)
        + (fill(SHARED_WEBHOOK_ENVIRONMENT, shared) + forget["forget_environment"] if op.shared_queue else "")
        + (WRITEBACK_ENVIRONMENT if op.webhook == "talon_one" else ""),
        "key_api_event": "",
        "read_statements": fill(WEBHOOK_KEY_STATEMENT, values),
        "enqueue_comment": "storage-first: the API queues each verified webhook, then answers 200",
        "step_queue_statement": values["step_queue_statement"]
        + (fill(SHARED_WEBHOOK_STATEMENT, shared) if op.shared_queue else ""),
        "event_statements": NOTIFICATION_STATEMENTS if op.webhook == "talon_one" else EFFECT_STATEMENTS,
        "writeback_statement": WRITEBACK_STATEMENT if op.webhook == "talon_one" else "",
    }


_FORGET = {"forget_environment": FORGET_ENVIRONMENT, "forget_statements": FORGET_STATEMENTS}


def kebab(function: str) -> str:
    """A function folder as physical names spell it: update_customer_session_v2 -> update-customer-session-v2."""
    return function.replace("_", "-")


def _consumer(op: OperationEntry, members: list[OperationEntry]) -> OperationEntry:
    """The entry that polls `op`'s shared queue (`members`: the entries that queue carries); a webhook
    receiver that sends to it polls its own queue, not this one."""
    found = [m for m in members if m.polls and m.webhook is None]
    if len(found) != 1:
        raise ValueError(f"the {op.shared_queue} queue of {op.name} needs one consumer (found {len(found)})")
    return found[0]


def _queue_values(op: OperationEntry, members: list[OperationEntry]) -> dict[str, str]:
    """What names the queue an entry polls or sends to: its own, or its shared queue (`members`: the
    entries that shared queue carries)."""
    shared = op.shared_queue if op.webhook is None else None
    if shared is None:
        return {"Queue": logical_prefix(op), "queue_name": op.name, "shared_queue": "", "consumer": ""}
    consumer = next((m.name for m in members if m.polls and m.webhook is None), "")
    return {
        "Queue": queue_prefix(op),
        "queue_name": f"{shared} queue",
        "shared_queue": shared,
        "consumer": consumer,
    }


def operation_resources(
    op: OperationEntry,
    targets: list[OperationEntry] | None = None,
    area: str = "",
    members: list[OperationEntry] | None = None,
) -> tuple[str, str]:
    """The operation's blocks of Resources, each a header line, then its resources one blank line apart:
    the root stack's (function, queues) and its area's nested stack's (role, log group, policies, alarms).

    `targets`: the operations whose queues a webhook receiver puts its mapped steps of them on
    (`step_queue_targets`). `area`: the nested stack's (default: area_of). `members`: the entries the
    operation's shared queue carries (its consumer's block holds that queue, its dead-letter queue and
    their alarms).
    """
    members = members or []
    prefix = logical_prefix(op)
    values = {
        "Prefix": prefix,
        "name": op.name,
        "method": op.method.lower(),
        "METHOD": op.method.upper(),
        "path": op.path,
        "function": op.function,
        "kebab": kebab(op.function),
        "area": area or area_of(op),
        "description": _description(op),
        **_queue_values(op, members),
    }
    values.update({key: fill(text, values) for key, text in _webhook_values(op, targets or [], members).items()})
    # a last-write-wins queue's consumer keeps each customer's last applied place (talon_relay/ordering.py):
    # per operation, or per shared queue (one place per session across its operations)
    orders = [m for m in members if m.last_write_wins] if values["shared_queue"] else [op] * op.last_write_wins
    ordered = bool(orders) and op.polls
    values["ordering_comment"] = " and its operation's order records" if ordered else ""
    record = values["shared_queue"] or op.name
    values["ordering_key"] = f"                      - ordering#{record}#*\n" if ordered else ""
    # a coalescing consumer writes its group's records in one BatchWriteItem (aws/idempotency_batch.py; its
    # claims' TransactWriteItems is authorized as their UpdateItems)
    values["batch_write"] = "                  - dynamodb:BatchWriteItem\n" if op.coalesce and op.polls else ""
    values["event_invoke_config"] = SCHEDULE_INVOKE_CONFIG if op.schedule else ""
    values["timeout"] = SCHEDULE_TIMEOUT if op.schedule else ""
    values["queue_environment"] = SCHEDULE_ENVIRONMENT if op.schedule else QUEUE_FUNCTION_ENVIRONMENT
    values["max_receive_count"] = "!Ref ErasureMaxReceiveCount" if op.schedule else MAX_RECEIVE_COUNT
    if not op.queued:  # a GET is answered at once: no queue, no event source, no sqs:* permission
        values["queue_event"] = ""
        values["queue_statements"] = ""
        values["environment"] = ""
    elif not op.polls:  # a member of a shared queue another function consumes: it only sends there
        values["queue_event"] = ""
        values["queue_statements"] = fill(SHARED_SEND_STATEMENT, values)
        values["environment"] = fill(SHARED_SENDER_ENVIRONMENT, values)
    else:
        if op.schedule:
            values["queue_event"] = fill(SCHEDULE_EVENT, values)
        else:
            values["queue_event"] = fill(FIFO_QUEUE_EVENT if op.fifo else STANDARD_QUEUE_EVENT, values)
        receive = fill(SCHEDULE_STATEMENTS if op.schedule else CONSUME_STATEMENT, values)
        values["queue_statements"] = receive + fill(SEND_STATEMENTS, values)
        values["environment"] = fill(QUEUE_ENVIRONMENT, values)
    last_write_wins = any(m.last_write_wins for m in members) if values["shared_queue"] else op.last_write_wins
    values["content_based"] = "false" if last_write_wins else "true"
    values["deduplication"] = CONTENT_DEDUPLICATION[not last_write_wins]
    values["queue_kind"] = fill(FIFO_QUEUE_KIND if op.fifo else STANDARD_QUEUE_KIND, values)
    values["retention"] = SCHEDULE_RETENTION if op.schedule else RETENTION
    values["dead_letter_kind"] = FIFO_DEAD_LETTER_KIND if op.fifo else ""

    header = f"  # --- {op.name}: {op.method.upper()} {op.path} "
    header += "-" * max(3, HEADER_WIDTH - len(header))
    queue_id = values["Queue"]
    queue = [QUEUE, fill(TLS_POLICY, {"queue": f"{queue_id}Queue"})]
    queue += [DEAD_LETTER_QUEUE, fill(TLS_POLICY, {"queue": f"{queue_id}DeadLetterQueue"})]
    queue_alarms = [
        fill(METRIC_ALARM, DEAD_LETTER_QUEUE_ALARM),
        fill(METRIC_ALARM, BACKLOG_ALARM if op.schedule else QUEUE_AGE_ALARM),
    ]
    root = [FUNCTION, *([QUEUE, DEAD_LETTER_QUEUE] if holds_queue(op) else [])]
    nested = [
        ROLE,
        LOG_GROUP,
        *(queue[1::2] if holds_queue(op) else []),  # the queues' TLS policies (a shared queue's: its consumer's)
        fill(METRIC_ALARM, ERRORS_ALARM),
        fill(METRIC_ALARM, THROTTLES_ALARM),
        TALON_ERROR_RATE_ALARM,
        *(queue_alarms if holds_queue(op) else []),
    ]
    # The nested stack names the function (a reference would be a cycle: the function needs its role).
    function_name = "${AWS::StackName}-" + values["kebab"]
    nested_text = "\n".join(fill(part, values) for part in nested)
    nested_text = nested_text.replace(f"!Ref {prefix}Function", f"!Sub {function_name}")
    nested_text = nested_text.replace(f"${{{prefix}Function}}", function_name)
    return (
        header + "\n\n" + "\n".join(fill(part, values) for part in root),
        header + "\n\n" + nested_text,
    )


def operation_outputs(op: OperationEntry, members: list[OperationEntry] | None = None) -> str:
    if not holds_queue(op):
        return ""  # a GET has no queue; a shared queue's outputs are its consumer's
    if op.webhook is None and op.shared_queue:
        queue_format = "messages in the format of docs/api.md, each naming its operation in relayOperation"
    elif op.webhook is None:
        queue_format = "messages in the format of docs/api.md"
    else:
        queue_format = "verified webhooks, queued as received"
    values = {"Prefix": logical_prefix(op), "queue_format": queue_format, **_queue_values(op, members or [])}
    return fill(OUTPUTS, values)


def resource_path(path: str) -> str:
    """A route as MethodSettings names it: every / written ~1 (/v1/events -> /~1v1~1events)."""
    return "/" + path.replace("/", "~1")


def method_settings(ordered: list[OperationEntry]) -> str:
    return "".join(
        fill(METHOD_SETTING, {"resource_path": resource_path(op.path), "METHOD": op.method.upper()}) for op in ordered
    )


def backoff_mapping() -> str:
    """The OutageHorizon mapping: maxReceiveCount per OutageHorizonHours (talon_relay/backoff.py)."""
    from talon_relay.core import retry_delays as backoff

    lines = ["  OutageHorizon:"]
    for hours in backoff.HORIZON_HOURS:
        receives = backoff.receives_for(hours * 3600)
        covered = backoff.covered_seconds(receives)
        lines.append(f'    "{hours}":')
        lines.append(f'      MaxReceiveCount: "{receives}" # the last receive {covered / 3600:.2f} h after the first')
    return "\n".join(lines) + "\n"


def _replace_marker(text: str, marker: str, replacement: str, *, times: int = 1) -> str:
    lines = text.split("\n")
    found = [i for i, line in enumerate(lines) if line == marker]
    if len(found) != times:
        raise ValueError(f"base.yaml must hold the line {marker!r} {times} time(s) (found {len(found)})")
    return text.replace(marker + "\n", replacement)


def area_of(op: OperationEntry) -> str:
    """The area (nested stack) of an entry: its module of talon_relay.operations, else (an entry that is
    not in the table, e.g. in tests) its path's first word after the version: /v2/audiences -> audiences."""
    from talon_relay.operations import AREAS, Operation

    for area in AREAS:
        if any(isinstance(v, Operation) and v.name == op.name for v in vars(area).values()):
            return area.__name__.rsplit(".", 1)[1]
    words = [word for word in op.path.split("/") if word and not re.fullmatch(r"v\d+|\{.*\}", word)]
    return re.sub(r"[^a-z0-9]+", "_", (words or ["operations"])[0].lower()).strip("_")


def render_stacks(
    base: str, operations: Iterable[OperationEntry], area: Callable[[OperationEntry], str] = area_of
) -> tuple[str, dict[str, str]]:
    """template.yaml's text, and each nested stack's template by its path (stacks/<area>.yaml)."""
    from local.template import load_template_text
    from template import application_alarms
    from template.dashboard import dashboard

    ordered = check_table(operations)
    targets = step_queue_targets(ordered)
    members = {op.name: [m for m in ordered if op.shared_queue and m.shared_queue == op.shared_queue] for op in ordered}
    blocks = [operation_resources(op, targets, area(op), members[op.name]) for op in ordered]
    stacks: dict[str, nested.Nested] = {}
    for op, (root_text, text) in zip(ordered, blocks, strict=True):
        stack = stacks.setdefault(area(op), nested.Nested(area(op)))
        stack.texts.append(text)
        stack.own |= set(nested.logical_ids(root_text)) - {f"{logical_prefix(op)}Function"}
    split = nested.Split(load_template_text(base), stacks.values())
    roots = [split.root(text) for text, _ in blocks]
    functions = {f"{logical_prefix(op)}Function" for op in ordered}
    for stack in stacks.values():  # twice: a stack may give another an output of its own
        split.nested(stack, functions)
    documents = {stack.location: split.nested(stack, functions) for stack in stacks.values()}
    applications = "".join(split.application(stack) + "\n" for stack in sorted(stacks.values(), key=lambda s: s.area))
    resources = "\n".join(roots) + "\n" + split.root(dashboard(ordered))
    if applications:
        resources += "\n  # --- the areas' nested stacks (template/nested.py) " + "-" * 45 + "\n\n" + applications
    outputs = split.root("".join(operation_outputs(op, members[op.name]) for op in ordered))
    text = _replace_marker(base, RESOURCES_MARKER, resources)
    text = _replace_marker(text, OUTPUTS_MARKER, outputs)
    text = _replace_marker(text, METHOD_SETTINGS_MARKER, method_settings(ordered), times=2)
    text = _replace_marker(text, MAPPING_MARKER, backoff_mapping())
    text = _replace_marker(text, "  # @applications: conditions", application_alarms.conditions())
    text = _replace_marker(text, "  # @applications: alarms", application_alarms.alarms())
    return BANNER + text, {path: BANNER + doc for path, doc in sorted(documents.items())}


def render(base: str, operations: Iterable[OperationEntry]) -> str:
    """template.yaml's text: the banner, then base.yaml with every operation's block at its markers."""
    return render_stacks(base, operations)[0]


def render_table() -> str:
    """template.yaml as the repository's base.yaml and operation table render it."""
    return render_table_stacks()[0]


def render_table_stacks() -> tuple[str, dict[str, str]]:
    """template.yaml and the nested stacks' templates as the repository's base.yaml and table render them."""
    from talon_relay.operations import OPERATIONS

    return render_stacks(BASE.read_text(encoding="utf-8"), OPERATIONS.values())


def write_stacks(template: Path, text: str, documents: Mapping[str, str]) -> list[Path]:
    """Write template.yaml and its nested stacks beside it, removing nested stacks no area has; the paths
    changed."""
    folder = template.parent
    changed: list[Path] = []
    wanted = {template: text} | {folder / path: doc for path, doc in documents.items()}
    stale = set((folder / nested.FOLDER).glob("*.yaml")) - set(wanted)
    for path in sorted(stale):
        path.unlink()
        changed.append(path)
    for path, content in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m template.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when template.yaml differs from its rendering")
    args = parser.parse_args(argv)
    rendered, documents = render_table_stacks()
    folder = TEMPLATE.parent
    if not args.check:
        for path in write_stacks(TEMPLATE, rendered, documents):
            print(f"rendered {path}")
        return 0
    current = TEMPLATE.read_text(encoding="utf-8") if TEMPLATE.exists() else ""
    stale = sorted(
        path
        for path in {folder / p for p in documents} | set((folder / nested.FOLDER).glob("*.yaml"))
        if not path.exists() or documents.get(str(path.relative_to(folder))) != path.read_text(encoding="utf-8")
    )
    if current == rendered and not stale:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        rendered.splitlines(keepends=True),
        "template.yaml (committed)",
        "template.yaml (rendered)",
        n=1,
    )
    sys.stderr.writelines(list(diff)[:60])
    for path in stale:
        sys.stderr.write(f"{path.relative_to(folder)} differs from its rendering (or no area has it)\n")
    sys.stderr.write(
        "\ntemplate.yaml is out of date with template/base.yaml and the operation table: run `make template`"
        " (and commit the result); edit base.yaml or the table, never template.yaml itself.\n"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
