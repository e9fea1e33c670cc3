"""Talon.One's notifications against the local stack: the secret header, a send, the demo's way back.

`make run` prints the local notification secret (the stack's TalonOneWebhookSecret, generated in local AWS
like the other secrets) with a `curl` that sends a loyalty balance notification as Talon.One sends it, and
the Shopify Admin stand-in's URL; `make demo` ends with the way back: an order paid in the shop earns
points, Talon.One notifies the new balance, and the relay writes it to the customer's metafields at the
stand-in (read back from its `GET /_shopify/requests`). docs/events.md.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import urllib3

from local.aws import current_secret
from talon_relay.webhooks.talon_one.signature import SECRET_HEADER, UUID_HEADER

NOTIFICATION_PATH = "/webhooks/talon-one"
#: Bound for the notification queue's poller to publish and write back what was sent (it long-polls 1 s).
APPLY_TIMEOUT = 20.0


class WayBackFailed(RuntimeError):
    pass


def notification_secret(info: dict[str, Any]) -> str | None:
    """The local stack's Talon.One notification secret ("current"), read from local AWS."""
    return current_secret(info, "talon_one_webhook_secret_arn")


def balance_notification(
    profile_id: str, points: float, program_id: int = 1, session_id: str | None = None
) -> dict[str, Any]:
    """A `LoyaltyAddedDeductedPointsBalances` notification in the June 2026 spec's shape."""
    body: dict[str, Any] = {
        "NotificationType": "LoyaltyAddedDeductedPointsBalances",
        "ProfileIntegrationID": profile_id,
        "LoyaltyProgramID": program_id,
        "TypeOfChange": "rule_engine",
        "CurrentPoints": points,
        "Actions": [{"Amount": 10, "Operation": "addition", "Reason": "Purchase points"}],
    }
    if session_id:
        body["SessionIntegrationID"] = session_id
    return body


def banner(info: dict[str, Any]) -> str:
    """The `make run` lines about the way back: the Shopify Admin stand-in, the secret, a curl."""
    secret = notification_secret(info)
    lines = []
    admin = info.get("shopify_admin_url")
    if admin:
        lines.append(
            f"""
  Shopify Admin (stand-in):  {admin}   (shop {info.get("shop_domain")}; what it received: {admin}/_shopify/requests,
                             the metafields: {admin}/_shopify/metafields)"""
        )
    events_queue = (info.get("queues") or {}).get("RelayEventsQueue")
    if events_queue:
        lines.append(f"  RelayEventsQueue:          {events_queue}   (every event on the bus, docs/events.md)")
    if secret:
        url = info["api_url"] + NOTIFICATION_PATH
        body = json.dumps(balance_notification("1001", 120))
        lines.append(
            f"""
Talon.One notifications: POST {url}
  local notification secret: {secret!r}  (TalonOneWebhookSecret: the header {SECRET_HEADER} each
  notification's webhook carries in Talon.One). A points balance, written to customer 1001's metafields:

  curl -s -X POST {url} -H 'Content-Type: application/json' \\
       -H '{SECRET_HEADER}: {secret}' -H "{UUID_HEADER}: $(uuidgen 2>/dev/null || date +%s%N)" \\
       -d '{body}'"""
        )
    return "\n".join(lines) + "\n" if lines else ""


def send(
    info: dict[str, Any], http: urllib3.PoolManager, body: dict[str, Any], *, secret: str, uuid_: str
) -> urllib3.BaseHTTPResponse:
    """POST one notification to the relay as Talon.One sends it (its secret header, its X-UUID)."""
    headers = {"Content-Type": "application/json", SECRET_HEADER: secret, UUID_HEADER: uuid_}
    return http.request(
        "POST", info["api_url"] + NOTIFICATION_PATH, body=json.dumps(body).encode(), headers=headers, timeout=30
    )


def shopify_requests(info: dict[str, Any], http: urllib3.PoolManager) -> list[dict[str, Any]]:
    """What the Shopify Admin stand-in received (GET /_shopify/requests)."""
    response = http.request("GET", f"{info['shopify_admin_url']}/_shopify/requests", timeout=10)
    found: list[dict[str, Any]] = json.loads(response.data)
    return found


def metafields_sets(requests: list[dict[str, Any]], owner: str) -> list[dict[str, Any]]:
    """The metafields of every `metafieldsSet` for `owner` that the stand-in answered 200, in order."""
    found = []
    for request in requests:
        body = request.get("body")
        if request.get("status") != 200 or not isinstance(body, dict) or "metafieldsSet" not in str(body.get("query")):
            continue
        for field in (body.get("variables") or {}).get("metafields") or []:
            if isinstance(field, dict) and field.get("ownerId") == owner:
                found.append(field)
    return found


def wait_for_metafield(
    info: dict[str, Any], http: urllib3.PoolManager, owner: str, key: str, value: str, timeout: float = APPLY_TIMEOUT
) -> dict[str, Any]:
    """The stand-in's `metafieldsSet` of `key` = `value` for `owner`, once it arrived (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        fields = [f for f in metafields_sets(shopify_requests(info, http), owner) if f.get("key") == key]
        if any(f.get("value") == value for f in fields):
            return next(f for f in fields if f.get("value") == value)
        if time.monotonic() > deadline:
            raise WayBackFailed(f"no metafieldsSet of {key}={value} for {owner} within {timeout:g} s (got {fields})")
        time.sleep(0.2)


def profile_points(info: dict[str, Any], http: urllib3.PoolManager, profile_id: str) -> float:
    """The profile's loyalty balance at Talon.One (the emulator's state), all programs together."""
    response = http.request("GET", f"{info['emulator_url']}/_emulator/state", timeout=10)
    profile = (json.loads(response.data).get("profiles") or {}).get(profile_id) or {}
    balances = profile.get("balances") or {}
    return float(sum(float(points) for points in balances.values()))


def run_way_back(info: dict[str, Any], http: urllib3.PoolManager, step: int, *, customer: int) -> int:
    """The demo's last part: the points `customer` earned on an order, notified by Talon.One, written to
    the shop's metafields. Returns the last step number; raises WayBackFailed."""
    secret = notification_secret(info)
    if not secret or not info.get("shopify_admin_url"):
        raise WayBackFailed("the local stack has no TalonOneWebhookSecret or no Shopify Admin stand-in")
    profile = str(customer)
    points = profile_points(info, http, profile)
    if points <= 0:
        raise WayBackFailed(f"customer {profile} earned no points on the order (Talon.One holds {points:g})")
    step += 1
    print(f"{step}. The way back (docs/events.md): Talon.One notifies the points customer {profile} earned on the")
    print("   order (LoyaltyAddedDeductedPointsBalances, sent twice with one X-UUID as Talon.One retries);")
    print("   the relay publishes it on the bus once and writes the balance to the customer's metafields")
    body = balance_notification(profile, points)
    notification_id = str(uuid.uuid4())
    for _ in range(2):
        response = send(info, http, body, secret=secret, uuid_=notification_id)
        print(f"   POST {NOTIFICATION_PATH} (X-UUID {notification_id[:8]}) -> {response.status}")
        if response.status != 200:
            raise WayBackFailed(f"the notification was answered {response.status}: {response.data[:200]!r}")
    owner = f"gid://shopify/Customer/{profile}"
    field = wait_for_metafield(info, http, owner, "loyalty_points", f"{points:g}")
    print(f"   Shopify Admin stand-in got metafieldsSet ({info['shopify_admin_url']}/_shopify/requests):")
    print(f"   {owner} {field['namespace']}.{field['key']} = {field['value']} ({field['type']})\n")
    return step
