"""Shopify's webhook signature (base64 HMAC-SHA256 of the raw body) and freshness (X-Shopify-Triggered-At).

The whole check with the secret read from Secrets Manager: tests/functions/test_shopify_webhook.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from talon_relay.errors import Unauthenticated
from talon_relay.webhooks.shopify import signature as shopify

SECRET = "unit-shopify-secret-6f1e"
PREVIOUS = "unit-shopify-previous-9a3c"
BODY = json.dumps({"id": 820982911946154508, "email": "jane.doe@example.com"}).encode()
NOW = datetime(2026, 5, 4, 7, 41, 7, tzinfo=UTC).timestamp()


def test_the_signature_is_the_base64_hmac_sha256_of_the_raw_body() -> None:
    # Given Shopify's documented scheme, computed independently
    expected = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()

    # Then the relay's signature is the same, and it verifies
    assert shopify.sign(SECRET, BODY) == expected
    shopify.verify_signature(expected, secrets=[SECRET], body=BODY)


@pytest.mark.parametrize(
    ("value", "body", "reason"),
    [
        (None, BODY, "missing X-Shopify-Hmac-Sha256"),
        ("  ", BODY, "missing X-Shopify-Hmac-Sha256"),
        ("not base64!", BODY, "malformed X-Shopify-Hmac-Sha256"),
        (base64.b64encode(b"short").decode(), BODY, "malformed X-Shopify-Hmac-Sha256"),
        (hashlib.sha256(BODY).hexdigest(), BODY, "malformed X-Shopify-Hmac-Sha256"),  # hex, not base64
        (shopify.sign("another-secret", BODY), BODY, "does not match the body"),
        (shopify.sign(SECRET, BODY), BODY + b" ", "does not match the body"),  # the body changed in transit
        (shopify.sign(SECRET, json.dumps(json.loads(BODY)).encode()), BODY.replace(b", ", b","), "does not match"),
    ],
    ids=["missing", "blank", "not base64", "wrong length", "hex", "other secret", "tampered", "re-serialised"],
)
def test_anything_but_the_bodys_signature_is_refused_with_the_reason(
    value: str | None, body: bytes, reason: str
) -> None:
    # When a webhook's signature is checked
    with pytest.raises(Unauthenticated) as raised:
        shopify.verify_signature(value, secrets=[SECRET], body=body)

    # Then it is a 401 naming the header and why, and never the secret
    error = raised.value
    assert error.api_status == 401
    assert reason in error.reason
    assert error.api_body()["errors"][0]["source"] == {"parameter": shopify.HMAC_HEADER}
    assert SECRET not in error.api_text()


def test_during_a_rotation_both_the_current_and_the_previous_secret_verify() -> None:
    # Given a secret being rotated: {"current": new, "previous": old}
    secrets = [SECRET, PREVIOUS]

    # Then a webhook signed with either is accepted, and one signed with neither is not
    shopify.verify_signature(shopify.sign(SECRET, BODY), secrets=secrets, body=BODY)
    shopify.verify_signature(shopify.sign(PREVIOUS, BODY), secrets=secrets, body=BODY)
    with pytest.raises(Unauthenticated):
        shopify.verify_signature(shopify.sign("retired", BODY), secrets=secrets, body=BODY)


@pytest.mark.parametrize(
    "value",
    ["2026-05-04T07:41:07.123456789Z", "2026-05-04T07:41:07Z", "2026-05-04T09:41:07+02:00", "2026-05-04T07:41:07.1Z"],
)
def test_shopifys_trigger_times_are_read_to_the_second(value: str) -> None:
    # Given a trigger time as Shopify sends it (nanoseconds, Z) or with an offset
    # Then it is the moment it says
    assert shopify.triggered_at(value) == pytest.approx(NOW, abs=1)


def test_a_fresh_webhook_and_one_without_a_trigger_time_are_taken() -> None:
    # Given a webhook triggered a minute ago (a retry keeps its first trigger time), or without the header
    # Then both are taken (the signature still holds for the second)
    shopify.check_fresh("2026-05-04T07:40:07Z", max_age=21600, now=NOW)
    shopify.check_fresh(None, max_age=21600, now=NOW)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-05-03T07:41:07Z", "stale webhook: triggered 86400 s ago, more than the 21600 s"),
        ("2026-05-04T08:00:00Z", "in the future"),
        ("yesterday", "malformed X-Shopify-Triggered-At"),
        ("2026-05-04T07:41:07", "malformed X-Shopify-Triggered-At"),  # no time zone
    ],
    ids=["stale", "future", "not a time", "no zone"],
)
def test_a_stale_or_unreadable_trigger_time_is_refused(value: str, reason: str) -> None:
    # When the age of a webhook is checked
    with pytest.raises(Unauthenticated) as raised:
        shopify.check_fresh(value, max_age=21600, now=NOW)

    # Then it is a 401 naming the header and why
    assert reason in raised.value.reason
    assert raised.value.api_body()["errors"][0]["source"] == {"parameter": shopify.TRIGGERED_AT_HEADER}
