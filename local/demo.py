"""`make demo`: one customer's journey through today's five operations, against the local stack.

A profile, a session with a coupon and a cart, an event, a referral (used by a friend), the session
closed (the v2 session, profile and event operations a current Talon.One serves), and a deletion
queued for the off-peak erasure schedule, which then drains it. Then the same through Shopify's
signed webhooks (local/shopify.py): a cart with a coupon, the order paid, the customer's erasure
request; and one order's whole life (local/order_life.py): cart, paid, edited, partly refunded,
cancelled, the points and discounts going back. It ends with the way back (local/notifications.py): another
order paid earns loyalty points, Talon.One notifies the balance, and the relay writes it to the customer's
metafields at the local Shopify Admin stand-in.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import urllib3

from local import notifications
from local.aws import local_client
from local.order_life import OrderLifeFailed, run_order_life
from local.shopify import JourneyFailed as ShopifyJourneyFailed
from local.shopify import pay_order
from local.shopify import run_journey as run_shopify_journey
from talon_relay.callers import applications
from talon_relay.callers import signatures as callers


class DemoFailed(RuntimeError):
    pass


def _effects(body: dict[str, Any]) -> list[str]:
    """Effects of a v1 answer (tuples under event.effects) or a v2 one (typed, at the top level)."""
    out = []
    for effect in (body.get("event") or {}).get("effects") or []:
        if isinstance(effect, list) and len(effect) == 4:
            name, *args = effect[3]
            out.append(f"{name}({', '.join(repr(a) for a in args)})")
    for effect in body.get("effects") or []:
        if isinstance(effect, dict):
            props = ", ".join(f"{k}={v!r}" for k, v in (effect.get("props") or {}).items())
            out.append(f"{effect.get('effectType')}({props})")
    return out


class Journey:
    def __init__(self, info: dict[str, Any]) -> None:
        self.api = info["api_url"]
        self.info = info
        self.http = urllib3.PoolManager()
        self.step = 0
        self.secret = signing_secret(info)

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """JSON, and the relay's caller signature v2 (as every sender signs; see docs/api.md)."""
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers[callers.SIGNATURE_HEADER] = callers.sign(self.secret, time.time(), method, path, body)
        return headers

    def call(self, title: str, method: str, path: str, body: dict[str, Any] | None, expect: int) -> dict[str, Any]:
        self.step += 1
        print(f"{self.step}. {title}\n   {method} {path}")
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.http.request(
            method, self.api + path, body=raw or None, headers=self.headers(method, path, raw), timeout=30
        )
        data: dict[str, Any] = json.loads(response.data) if response.data else {}
        print(f"   -> {response.status}")
        if response.status != expect:
            raise DemoFailed(f"{title}: expected {expect}, got {response.status}: {data}")
        return data

    def show_state(self, data: dict[str, Any]) -> None:
        session = data.get("session") or data.get("customerSession") or {}
        profile = data.get("profile") or data.get("customerProfile") or {}
        if session and session.get("integrationId") != "talon_profile_update":
            print(
                f"   session {session.get('integrationId')!r}: state={session.get('state')}"
                f" total={session.get('total')} discounts={session.get('discounts')}"
            )
        if profile:
            print(
                f"   profile {profile.get('integrationId')!r}: closedSessions={profile.get('closedSessions')}"
                f" totalSales={profile.get('totalSales')}"
            )
        if data.get("loyalty"):
            print(f"   loyalty: {json.dumps(data['loyalty'])}")
        effects = _effects(data)
        print(f"   effects: {', '.join(effects) if effects else '(none)'}\n")


def _current(info: dict[str, Any], secret: str) -> str | None:
    """The "current" value of one of the local stack's caller secrets, read from local AWS like a
    sender would read it (None when callers are not authenticated)."""
    arn = info.get(secret)
    if info.get("caller_auth") == "disabled" or not arn:
        return None
    secrets = local_client("secretsmanager", info["aws_endpoint"])
    value: str = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["current"]
    return value


def signing_secret(info: dict[str, Any]) -> str | None:
    """The local stack's caller signing secret."""
    return _current(info, "caller_signing_secret_arn")


def caller_api_key(info: dict[str, Any]) -> str | None:
    """The local stack's relay caller key: what a vendor SDK sends as `Authorization: ApiKey-v1`."""
    return _current(info, "caller_api_keys_secret_arn")


def for_application(info: dict[str, Any], name: str) -> dict[str, Any]:
    """The stack's description as one application's callers see it: its emulator, its caller secrets."""
    app = (info.get("applications") or {}).get(name) or {}
    return {
        **info,
        "application": name,
        "emulator_url": app.get("emulator_url") or info["emulator_url"],
        # its own admin interface on the one emulator (its state, its requests)
        "emulator_admin": app.get("emulator_admin") or f"{info['emulator_url']}/_emulator",
        "caller_signing_secret_arn": app.get("signing_secret_arn") or info.get("caller_signing_secret_arn"),
        "caller_api_keys_secret_arn": app.get("caller_api_keys_secret_arn") or info.get("caller_api_keys_secret_arn"),
    }


def run_demo(info: dict[str, Any]) -> int:
    """One journey per application the stack serves (docs/applications.md), Shopify's with the first."""
    names = list(info.get("applications") or {"default": {}})
    for name in names:
        if len(names) > 1:
            print(f"=== application {name!r} (its own signing secret, its own Talon.One) ===\n")
        if _run_journey(for_application(info, name), shopify=name == names[0]):
            return 1
    return _way_back(for_application(info, names[0]))


def _run_journey(info: dict[str, Any], *, shopify: bool) -> int:
    run = uuid.uuid4().hex[:6]
    ada, bob = f"ada-{run}", f"bob-{run}"
    cart = [
        {"name": "Camera", "sku": "SKU-CAMERA", "quantity": 1, "price": 120},
        {"name": "Film", "sku": "SKU-FILM", "quantity": 2, "price": 8.5},
    ]
    j = Journey(info)
    try:
        content = ["customerSession", "customerProfile"]
        state = j.call(
            "A customer profile (updateCustomerProfileV2, rules run)",
            "PUT",
            f"/v2/customer_profiles/{ada}?runRuleEngine=true",
            {"attributes": {"name": "Ada", "newsletter": True}, "responseContent": ["customerProfile"]},
            200,
        )
        j.show_state(state)
        state = j.call(
            "A session with a coupon and a cart (updateCustomerSessionV2)",
            "PUT",
            f"/v2/customer_sessions/checkout-{ada}",
            {
                "customerSession": {"profileId": ada, "couponCodes": ["WELCOME10"], "cartItems": cart},
                "responseContent": content,
            },
            200,
        )
        j.show_state(state)
        state = j.call(
            "A purchase event (trackEventV2, silent=no: the answer comes back)",
            "POST",
            "/v2/events?silent=no",
            {"profileId": ada, "type": "purchase", "attributes": {"channel": "web"}, "responseContent": ["loyalty"]},
            200,
        )
        j.show_state(state)
        referral = j.call(
            "A referral code for a friend (createReferral)",
            "POST",
            "/v1/referrals",
            {"campaignId": 3, "advocateProfileIntegrationId": ada, "friendProfileIntegrationId": bob},
            201,
        )
        print(f"   referral code {referral['code']!r} for {bob!r} (campaign {referral['campaignId']})\n")
        state = j.call(
            "The friend's session uses the referral code",
            "PUT",
            f"/v2/customer_sessions/checkout-{bob}",
            {
                "customerSession": {"profileId": bob, "referralCode": referral["code"], "cartItems": cart[1:]},
                "responseContent": content,
            },
            200,
        )
        j.show_state(state)
        state = j.call(
            "The session is closed (updateCustomerSessionV2, state=closed)",
            "PUT",
            f"/v2/customer_sessions/checkout-{ada}",
            {"customerSession": {"state": "closed"}, "responseContent": content},
            200,
        )
        j.show_state(state)
        _queued_deletion(j, ada)
        if shopify:
            j.step = run_shopify_journey(j.info, j.http, j.step)
            j.step = run_order_life(j.info, j.http, j.step)
    except (DemoFailed, ShopifyJourneyFailed, OrderLifeFailed) as exc:
        print(f"\nDEMO FAILED: {exc}")
        return 1
    print("Demo finished: all five operations went through the relay.")
    return 0


def _way_back(info: dict[str, Any]) -> int:
    """The demo's end: points earned on an order paid in the shop reach the customer's metafields."""
    http = urllib3.PoolManager()
    customer = 5_000_000 + int(time.time() * 1000) % 1_000_000  # a Shopify customer id: digits
    print("=== the way back: Talon.One's notifications reach the shop (docs/events.md) ===\n")
    print(f"1. An order paid in the shop (orders/paid) by customer {customer}: the purchase earns loyalty points")
    try:
        pay_order(info, http, customer)
        print()
        notifications.run_way_back(info, http, 1, customer=customer)
    except (ShopifyJourneyFailed, notifications.WayBackFailed) as exc:
        print(f"\nDEMO FAILED: {exc}")
        return 1
    print("The way back finished: points earned on an order are in the shop's customer metafields.")
    return 0


def _queued_deletion(j: Journey, integration_id: str) -> None:
    """deleteCustomerData the off-peak way: queued now, executed by the erasure schedule."""
    j.step += 1
    queue = j.info["queues"]["DeleteCustomerDataQueue"]
    print(f"{j.step}. The customer asks to be forgotten: deletion queued for the off-peak run (deleteCustomerData)")
    sqs = local_client("sqs", j.info["aws_endpoint"])
    body = json.dumps({"integrationId": integration_id})
    attributes = {}
    if len(j.info.get("applications") or {}) > 1 and j.secret:  # sealed for its application, as a sender seals
        name = j.info["application"]
        attributes = {
            applications.APPLICATION_ATTRIBUTE: {"DataType": "String", "StringValue": name},
            applications.SEAL_ATTRIBUTE: {"DataType": "String", "StringValue": applications.seal(name, body, j.secret)},
        }
    message_id = sqs.send_message(QueueUrl=queue, MessageBody=body, MessageAttributes=attributes)["MessageId"]
    print(f"   queued as message {message_id}")
    print("   running the erasure schedule now (make cleanup does the same)")
    summary: dict[str, Any] = {}
    for _ in range(5):  # SQS may hide a just-sent message from one receive; a few runs at most
        response = j.http.request("POST", f"{j.api}/_local/schedules/DeleteCustomerDataFunction", timeout=120)
        summary = json.loads(response.data)
        if summary.get("deleted"):
            break
        time.sleep(0.5)
    print(f"   -> {summary}")
    if summary.get("deleted", 0) < 1:
        raise DemoFailed(f"the erasure run deleted nothing: {summary}")
    admin = j.info.get("emulator_admin") or f"{j.info['emulator_url']}/_emulator"
    state = j.http.request("GET", f"{admin}/state", timeout=10)
    profile = json.loads(state.data)["profiles"].get(integration_id, {})
    print(f"   Talon.One now holds for {integration_id!r}: attributes={profile.get('attributes')}\n")
    if profile.get("attributes"):
        raise DemoFailed("the profile still has attributes after deletion")
