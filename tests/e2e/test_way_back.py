"""The way back through `make run` (issue 22's "done when"), in its own process as a newcomer meets it: a
Talon.One notification sent twice is one event in RelayEventsQueue, a session's effects appear there, and a
points notification (the banner's own `curl`, pasted) becomes a `metafieldsSet` at the Shopify Admin stand-in.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import urllib3

from local.aws import local_client
from tests.e2e.test_make_run import BANNER_END, LocalRun, banner_value, runs  # noqa: F401 - runs: a fixture
from tests.support import free_port

pytestmark = pytest.mark.e2e

#: Seconds the stack gets to publish and deliver an event, or write back (it takes one or two).
DELIVERY_TIMEOUT = 30.0
SECRET_HEADER = "X-Relay-Notification-Secret"


class EventsQueue:
    """RelayEventsQueue of the running `make run`, read as a subscriber reads it: each event kept once read."""

    def __init__(self, aws_url: str, queue_url: str) -> None:
        self.sqs = local_client("sqs", aws_url)
        self.url = queue_url
        self.events: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return self.events
            for message in messages:
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, found: Callable[[list[dict[str, Any]]], bool], what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while not found(self.drain()):
            if time.monotonic() > deadline:
                raise AssertionError(f"RelayEventsQueue got no {what} within {DELIVERY_TIMEOUT:g} s: {self.events}")
            time.sleep(0.3)
        return self.events


def queue_url(aws_url: str, logical_id: str) -> str:
    sqs = local_client("sqs", aws_url)
    urls = [url for url in sqs.list_queues().get("QueueUrls", []) if url.endswith(f"-{logical_id}.fifo")]
    assert len(urls) == 1, urls
    return str(urls[0])


def queue_is_empty(aws_url: str, url: str) -> bool:
    sqs = local_client("sqs", aws_url)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(attributes[name] == "0" for name in names)


def notification_curl(output: str) -> str:
    """The banner's `curl` for a Talon.One notification, as printed (its continued lines joined)."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("curl") and "/webhooks/talon-one" in line)
    command = []
    for line in lines[first:]:
        command.append(line.strip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(command)


def test_make_run_takes_talon_ones_notifications_and_publishes_effects_to_the_queue(runs: list[LocalRun]) -> None:  # noqa: F811
    # Given `make run` on free ports, up and showing its banner: the Shopify Admin stand-in, RelayEventsQueue,
    # and a curl for a Talon.One notification with its secret header
    run = LocalRun(free_port(), free_port(), free_port(), free_port())
    runs.append(run)
    output = run.wait_for(BANNER_END)
    api_url = banner_value(output, "Relay API (API Gateway)")
    aws_url = banner_value(output, "Local AWS (moto)")
    shopify_url = banner_value(output, "Shopify Admin (stand-in)")
    assert shopify_url == f"http://127.0.0.1:{run.ports['SHOPIFY_PORT']}"
    events = EventsQueue(aws_url, banner_value(output, "RelayEventsQueue"))
    curl = notification_curl(output)
    secret = re.search(rf"-H '{SECRET_HEADER}: (\S+)'", curl)
    assert secret, curl
    http = urllib3.PoolManager()

    # When the banner's curl is pasted into a shell (a points balance of customer 1001)
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the banner's command cannot be run as printed")
    pasted = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60, check=False)

    # Then the relay took it, and it became a metafieldsSet of that balance at the stand-in
    assert pasted.returncode == 0 and json.loads(pasted.stdout)["status"] == "queued", pasted
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        received = http.request("GET", f"{shopify_url}/_shopify/requests", timeout=10).json()
        sets = [r for r in received if r["status"] == 200 and "metafieldsSet" in str(r["body"])]
        if sets or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert [field for r in sets for field in r["body"]["variables"]["metafields"]] == [
        {
            "ownerId": "gid://shopify/Customer/1001",
            "namespace": "talon_one",
            "key": "loyalty_points",
            "type": "number_decimal",
            "value": "120",
        }
    ]
    # and its event is in RelayEventsQueue
    events.wait_for(
        lambda found: any(e["detail-type"] == "LoyaltyAddedDeductedPointsBalances" for e in found), "balance"
    )

    # When Talon.One sends a tier notification, and sends it again (its retry: the same X-UUID) once the first
    # was published
    notification_id = str(uuid.uuid4())
    tier = {
        "NotificationType": "TierUpgrade",
        "TotalResultSize": 1,
        "Data": [
            {
                "CustomerProfileID": "1002",
                "LoyaltyProgramID": 1,
                "CurrentTier": "Gold",
                "CurrentPoints": 500,
                "TimestampOfTierChange": "2026-06-01T10:00:00Z",
            }
        ],
    }
    headers = {"Content-Type": "application/json", SECRET_HEADER: secret.group(1), "X-UUID": notification_id}
    answers = [
        http.request("POST", f"{api_url}/webhooks/talon-one", body=json.dumps(tier), headers=headers, timeout=30)
    ]
    events.wait_for(lambda found: any(e["detail"]["id"] == f"notification:{notification_id}" for e in found), "tier")
    answers.append(
        http.request("POST", f"{api_url}/webhooks/talon-one", body=json.dumps(tier), headers=headers, timeout=30)
    )
    assert [answer.status for answer in answers] == [200, 200]
    notifications_queue = queue_url(aws_url, "TalonOneWebhookQueue")
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while not queue_is_empty(aws_url, notifications_queue) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2.0)  # a delivery of the second, had it been processed, reaches the queue within a second

    # Then it is ONE event in RelayEventsQueue, the notification as Talon.One sent it
    found = [e for e in events.drain() if e["detail"]["id"] == f"notification:{notification_id}"]
    assert len(found) == 1, found
    assert found[0]["source"] == "talon-relay.notifications" and found[0]["detail-type"] == "TierUpgrade"
    assert found[0]["detail"]["notification"] == tier and found[0]["detail"]["profileId"] == "1002"

    # When a caller updates a session (the banner's request: a coupon and a camera)
    session = {
        "profileId": "customer-1",
        "coupon": "WELCOME10",
        "cartItems": [{"name": "Camera", "sku": "SKU-CAMERA", "quantity": 1, "price": 120}],
    }
    answer = http.request(
        "PUT",
        f"{api_url}/v1/customer_sessions/session-1",
        body=json.dumps(session),
        headers={"Content-Type": "application/json", "x-api-key": "local-relay-api-key"},
        timeout=30,
    )
    assert answer.status == 200, answer.data
    effects = [effect[3][0] for effect in answer.json()["event"]["effects"]]
    assert "acceptCoupon" in effects

    # Then each of the answer's effects is one event in RelayEventsQueue, in the answer's order, naming the
    # session and profile
    def session_events(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in found if e["source"] == "talon-relay.effects" and e["detail"]["sessionId"] == "session-1"]

    published = session_events(events.wait_for(lambda found: len(session_events(found)) >= len(effects), "effects"))
    assert [e["detail-type"] for e in sorted(published, key=lambda e: e["detail"]["index"])] == effects
    assert {e["detail"]["profileId"] for e in published} == {"customer-1"}
    assert len({e["detail"]["id"] for e in published}) == len(effects)

    # And the live view showed each event published, and the write-back
    assert run.wait_for("event on the bus: talon-relay.effects acceptCoupon", timeout=DELIVERY_TIMEOUT)
    assert run.wait_for(f"event on the bus: talon-relay.notifications TierUpgrade  id notification:{notification_id}")
    assert run.wait_for("Shopify Admin: metafieldsSet loyalty_points", timeout=DELIVERY_TIMEOUT)
