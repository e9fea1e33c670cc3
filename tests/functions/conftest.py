"""Fixtures for the function tests: moto server (Secrets Manager, SQS) and a local Talon.One stand-in."""

from __future__ import annotations

import importlib.util
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from local.aws import create_relay_table
from tests.support import LOADED_HANDLERS, ROOT, reset_handlers

API_KEY = "fn-test-api-key-5f1c"
SIGNING_SECRET = "fn-test-signing-secret-0a9e7d"
PREVIOUS_SIGNING_SECRET = "fn-test-previous-secret-77b2"
CALLER_API_KEY = "fn-test-caller-key-3c5e91"
PREVIOUS_CALLER_API_KEY = "fn-test-previous-caller-key-8d02"


@dataclass
class Stack:
    secret_arn: str
    queue_url: str
    dlq_url: str
    sqs: Any
    secrets: Any
    signing_secret_arn: str = ""
    table: str = ""

    def dlq_messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return out
            out.extend(batch)

    def send(self, body: dict[str, Any] | str) -> str:
        raw = body if isinstance(body, str) else json.dumps(body)
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=raw)["MessageId"])


@pytest.fixture
def stack(moto_endpoint: str, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Given a secret pointing at the Talon.One stand-in, and a queue with its DLQ, in moto."""
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "talon-relay-test",
        "TALON_MAX_RETRIES": "2",
        "TALON_BACKOFF_FACTOR": "0",
        "TALON_READ_TIMEOUT": "1",
        "TALON_CONNECT_TIMEOUT": "1",
    }.items():
        monkeypatch.setenv(name, value)
    suffix = uuid.uuid4().hex[:8]
    secrets = boto3.client("secretsmanager")
    sqs = boto3.client("sqs")
    arn = secrets.create_secret(
        Name=f"talon-{suffix}",
        SecretString=json.dumps({"baseUrl": httpserver.url_for("/").rstrip("/"), "apiKey": API_KEY}),
    )["ARN"]
    dlq_url = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"q-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    signing_arn = secrets.create_secret(Name=f"callers-{suffix}", SecretString=json.dumps({"current": SIGNING_SECRET}))[
        "ARN"
    ]
    keys_arn = secrets.create_secret(
        Name=f"caller-keys-{suffix}", SecretString=json.dumps({"keys": [CALLER_API_KEY, PREVIOUS_CALLER_API_KEY]})
    )["ARN"]
    table = f"idempotency-{suffix}"
    create_relay_table(boto3.client("dynamodb"), table)
    monkeypatch.setenv("TALON_SECRET_ARN", arn)
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
    monkeypatch.setenv("CALLER_SIGNING_SECRET_ARN", signing_arn)
    monkeypatch.setenv("CALLER_API_KEYS_SECRET_ARN", keys_arn)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", table)
    _reset_layer()
    yield Stack(arn, queue_url, dlq_url, sqs, secrets, signing_arn, table)
    _reset_layer()


def _reset_layer() -> None:
    reset_handlers()


@pytest.fixture(scope="session")
def load_handler() -> Callable[[str], Callable[[dict[str, Any], Any], Any]]:
    """Import functions/<folder>/<folder>.py under a unique name and return its `handler`."""
    cache: dict[str, Any] = {}

    def load(folder: str) -> Callable[[dict[str, Any], Any], Any]:
        if folder not in cache:
            path = ROOT / "functions" / folder / f"{folder}.py"
            spec = importlib.util.spec_from_file_location(f"function_{folder}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            cache[folder] = module.handler
            LOADED_HANDLERS.append(module.handler)
        handler: Callable[[dict[str, Any], Any], Any] = cache[folder]
        return handler

    return load


@pytest.fixture
def dynamodb_calls(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[str]]]:
    """The DynamoDB actions moto served from now on, in order (moto's own request log)."""
    from moto.moto_api import recorder

    monkeypatch.setattr(recorder, "_location", str(tmp_path / "moto_recording"))  # not the working directory

    def post(action: str) -> bytes:
        request = urllib.request.Request(f"{moto_endpoint}/moto-api/recorder/{action}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return bytes(answer.read())

    def calls() -> list[str]:
        with urllib.request.urlopen(f"{moto_endpoint}/moto-api/recorder/download-recording", timeout=10) as answer:
            lines = answer.read().decode().splitlines()
        targets = [str((json.loads(line).get("headers") or {}).get("X-Amz-Target", "")) for line in lines if line]
        return [target.split(".", 1)[1] for target in targets if target.startswith("DynamoDB_")]

    post("reset-recording")
    post("start-recording")
    yield calls
    post("stop-recording")
    post("reset-recording")
