"""Local AWS: a moto server on loopback, seeded with what template.yaml declares.

Queues (with their DLQs and redrive policies), DynamoDB tables, and the Talon.One secret pointing
at the emulator. Returns a Resolver so the gateway can give each function its real environment.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local.template import Resolver, StackSpec

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "talon-relay-local"
SECRET_NAME = "talon-relay/talon-one-local"  # noqa: S105 - a name, not a secret

#: Credentials for moto: not real, and exported so every boto3 client in this process uses them.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class LocalAws:
    """A running moto server and the local names of the template's resources."""

    endpoint: str
    server: ThreadedMotoServer | None
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    secret_arn: str = ""
    resolver: Resolver | None = None

    def client(self, service: str) -> Any:
        return local_client(service, self.endpoint)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def local_client(service: str, endpoint: str) -> Any:
    """A boto3 client for moto, usable from any process (credentials are moto's dummies)."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def start_moto(port: int) -> tuple[ThreadedMotoServer, str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def export_environment(endpoint: str) -> None:
    """Point every AWS SDK call of this process at moto (AWS_ENDPOINT_URL is honoured by boto3)."""
    os.environ.update(LOCAL_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint


def seed(
    aws: LocalAws,
    spec: StackSpec,
    *,
    talon_base_url: str,
    talon_api_key: str,
    parameters: dict[str, Any] | None = None,
) -> Resolver:
    """Create the template's resources in moto and return the resolver for their intrinsics."""
    params = {**spec.parameters, **(parameters or {})}
    secrets = aws.client("secretsmanager")
    secret = {"baseUrl": talon_base_url, "apiKey": talon_api_key}
    try:
        aws.secret_arn = secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps(secret))["ARN"]
    except secrets.exceptions.ResourceExistsException:
        aws.secret_arn = secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(secret))["ARN"]
    params[spec.secrets_parameter] = aws.secret_arn

    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK_NAME,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NoValue": "",
    }
    refs: dict[str, str] = {}
    attributes: dict[tuple[str, str], str] = {}
    resolver = Resolver(params, refs, attributes, pseudo)

    sqs = aws.client("sqs")
    # DLQs first: a queue's redrive policy names its DLQ's ARN.
    ordered = sorted(spec.queues.values(), key=lambda q: "RedrivePolicy" in q.properties)
    for queue in ordered:
        props = queue.properties
        name = props.get("QueueName")
        name = resolver.resolve(name) if name else f"{STACK_NAME}-{queue.logical_id}"
        if queue.fifo and not str(name).endswith(".fifo"):
            name = f"{name}.fifo"
        attrs: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "ContentBasedDeduplication",
            "FifoQueue",
            "DeduplicationScope",
            "FifoThroughputLimit",
        ):
            if key in props:
                value = resolver.resolve(props[key])
                attrs[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attrs["RedrivePolicy"] = json.dumps(
                {k: str(v) for k, v in resolver.resolve(props["RedrivePolicy"]).items()}
            )
        url = sqs.create_queue(QueueName=str(name), Attributes=attrs)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws.queue_urls[queue.logical_id] = url
        aws.queue_arns[queue.logical_id] = arn
        refs[queue.logical_id] = url
        attributes[(queue.logical_id, "Arn")] = arn
        attributes[(queue.logical_id, "QueueUrl")] = url
        attributes[(queue.logical_id, "QueueName")] = str(name)

    dynamodb = aws.client("dynamodb")
    for logical_id, props in spec.tables.items():
        name = resolver.resolve(props.get("TableName")) or f"{STACK_NAME}-{logical_id}"
        create: dict[str, Any] = {
            "TableName": name,
            "KeySchema": resolver.resolve(props["KeySchema"]),
            "AttributeDefinitions": resolver.resolve(props["AttributeDefinitions"]),
            "BillingMode": "PAY_PER_REQUEST",
        }
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**create)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=resolver.resolve(ttl))
        aws.table_names[logical_id] = name
        refs[logical_id] = name
        attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    for logical_id in spec.functions:
        refs.setdefault(logical_id, f"{STACK_NAME}-{logical_id}")
    aws.resolver = resolver
    return resolver
