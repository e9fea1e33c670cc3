"""Fixtures for the layer's unit tests: real local servers over 127.0.0.1, never the internet."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

# --- Talon.One stand-in --------------------------------------------------------------------------


@pytest.fixture
def threaded_httpserver() -> Iterator[HTTPServer]:
    """A private, threaded server for handlers that block (timeouts), so no other test waits."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound once to get a free number, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- Powertools output -----------------------------------------------------------------------------


class StdoutCapture:
    """Everything written to stdout during the test so far (Logger lines and EMF metrics)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._text = ""

    def text(self) -> str:
        self._text += self._capsys.readouterr().out
        return self._text

    def json_lines(self) -> list[dict[str, Any]]:
        docs = [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]
        return [doc for doc in docs if isinstance(doc, dict)]

    def logs(self, message: str | None = None) -> list[dict[str, Any]]:
        """Powertools Logger lines, optionally only those with this message."""
        lines = [doc for doc in self.json_lines() if "level" in doc and "message" in doc]
        return [doc for doc in lines if message is None or doc["message"] == message]

    def metrics(self) -> list[dict[str, Any]]:
        """EMF documents (CloudWatch embedded metric format)."""
        return [doc for doc in self.json_lines() if "_aws" in doc]


class _CurrentStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is at the moment of writing (capsys swaps it per phase)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def powertools_stdout(capsys: pytest.CaptureFixture[str]) -> Iterator[StdoutCapture]:
    """Capture what the layer's Powertools Logger and Metrics write to stdout.

    The Logger binds sys.stdout once, when its module is imported, so capsys alone cannot see its
    lines: point its handler at the current sys.stdout for this test (and back afterwards).
    """
    from talon_relay.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(_CurrentStdout())
    yield StdoutCapture(capsys)
    if previous is not None:  # None: the handler already wrote to that very stream
        handler.setStream(previous)


# --- local AWS (moto server) -----------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, tmp_path: Any) -> Iterator[str]:
    """Environment that sends every AWS SDK call to the moto server with fake credentials."""
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Powertools keeps one SecretsProvider (and its cache) per process: start from a clean one.
    parameters.clear_caches()
    yield moto_endpoint
    parameters.clear_caches()


@pytest.fixture
def secretsmanager(aws: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=aws, region_name="us-east-1")


@pytest.fixture
def secret_name() -> str:
    """A fresh secret name per test: the moto server and Powertools' cache outlive one test."""
    return f"talon-relay/test/{uuid.uuid4().hex}"
