"""Starting and stopping a local stack in a process leaves nothing behind."""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import urllib3

from local.aws import EXPORTED_NAMES
from local.stack import LocalStack
from tests.e2e.helpers import FUNCTION_ENVIRONMENT, PARAMETERS, Http, Queues, talon_requests, wait_until

pytestmark = pytest.mark.e2e


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def _refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def _use(stack: LocalStack, http: Http, queues: Queues) -> None:
    """Exercise every part: the API, a queue and its poller, the schedule."""
    assert http.relay("PUT", "/v1/customer_profiles/p-life", {"attributes": {"a": 1}}).status == 200
    # two customers' events in one batch: their FIFO groups are processed side by side (a thread pool)
    events = [{"body": {"sessionId": f"s-life-{n}", "type": "x", "attributes": {}}} for n in range(2)]
    queues.send_batch("TrackEventQueue", events)
    wait_until(lambda: len(talon_requests(stack, method="POST")) == 2, timeout=10, what="the queued events")
    queues.wait_empty("TrackEventQueue", timeout=10)
    queues.send("DeleteCustomerDataQueue", {"integrationId": "p-life"})
    assert http.run_schedule("DeleteCustomerDataFunction").json["deleted"] == 1
    assert http.talon("GET", "/_emulator/health").status == 200
    # left on purpose: an erasure request nobody drains before stop()
    queues.send("DeleteCustomerDataQueue", {"integrationId": "p-left-behind"})


def _environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in EXPORTED_NAMES}


def test_stop_leaves_no_ports_threads_environment_or_queued_messages(
    no_shared_stack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a process with its own AWS settings (one set, one unset) and no stack running
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    environment_before = _environment()
    threads_before = set(threading.enumerate())

    # When a stack starts on free ports and is used through every trigger, by clients that keep
    # their connections to all three servers open, and then stops
    stack = LocalStack.start(parameters=PARAMETERS, function_environment=FUNCTION_ENVIRONMENT)
    ports = {"api": _port(stack.api_url), "emulator": _port(stack.emulator_url), "moto": _port(stack.aws.endpoint)}
    http, queues = Http(stack), Queues(stack)
    try:
        assert os.environ["AWS_ENDPOINT_URL"] == stack.aws.endpoint
        assert os.environ["AWS_REGION"] == "us-east-1"
        # (a second stack in the same process is refused: it would share moto's state with this one)
        with pytest.raises(RuntimeError, match="already running"):
            LocalStack.start(parameters=PARAMETERS, function_environment=FUNCTION_ENVIRONMENT)
        assert os.environ["AWS_ENDPOINT_URL"] == stack.aws.endpoint
        _use(stack, http, queues)
    finally:
        stack.stop()

    # Then its three ports refuse connections
    assert {name: _refuses(port) for name, port in ports.items()} == {"api": True, "emulator": True, "moto": True}

    # and none of the threads it started is left (after a short grace period), daemon or not
    def leftovers() -> list[str]:
        return [t.name for t in threading.enumerate() if t not in threads_before and t.is_alive()]

    deadline = time.monotonic() + 3
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers() == []
    # and a kept-alive connection to the gateway is closed, not served by a leftover handler
    with pytest.raises(urllib3.exceptions.HTTPError):
        http.relay("PUT", "/v1/customer_profiles/p-late", {"attributes": {}})
    http.close()
    queues.close()
    # and the process environment is what it was
    assert _environment() == environment_before
    # and the libraries' per-process caches were emptied (they would point at the stopped moto); the
    # layer keeps nothing per process (each local container's state went with it)
    from aws_lambda_powertools.utilities import parameters

    assert parameters.base.DEFAULT_PROVIDERS == {}  # type: ignore[attr-defined]

    # When another stack starts in the same process
    second = LocalStack.start(parameters=PARAMETERS, function_environment=FUNCTION_ENVIRONMENT)
    try:
        # Then it starts empty (moto's state is per process: the first stack's queued message is gone)
        checker, client = Queues(second), Http(second)
        assert {q: n for q in second.aws.queue_urls if (n := checker.depth(q))} == {}
        # and it works, though the layer's caches were built against the first stack before
        assert client.relay("PUT", "/v1/customer_profiles/p-2", {"attributes": {}}).status == 200
        checker.close()
        client.close()
    finally:
        second.stop()
    assert _environment() == environment_before
