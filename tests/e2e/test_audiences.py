"""Audiences, reservations and bulk profile updates through `make run`'s stack and the emulator: queued
writes Talon.One refuses are dead-lettered with the reason, bulk updates reach it in the order they came,
reads are answered at once even when asked to queue."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from tests.e2e.helpers import Http, Queues, attribute, talon_requests, wait_until

pytestmark = pytest.mark.e2e


def test_queued_writes_talon_one_refuses_are_dead_lettered_with_the_reason(stack: LocalStack, queues: Queues) -> None:
    # Given a rename of an audience that does not exist, and a reservation of a coupon that does not
    queues.send("UpdateAudienceV2Queue", {"audienceId": "9999", "body": {"name": "Nobody"}}, group="9999")
    queues.send(
        "CreateCouponReservationQueue", {"couponValue": "NOPE", "body": {"integrationIDs": ["p-1"]}}, group="NOPE"
    )
    # When the pollers deliver them
    queues.wait_empty("UpdateAudienceV2Queue", "CreateCouponReservationQueue", timeout=30)
    # Then each is in its DLQ with Talon.One's 404 and the reason
    (audience,) = queues.take_all("UpdateAudienceV2DeadLetterQueue")
    (coupon,) = queues.take_all("CreateCouponReservationDeadLetterQueue")
    assert attribute(audience, "talonStatus") == "404" and "Audience not found" in (
        attribute(audience, "failureReason") or ""
    )
    assert attribute(coupon, "talonStatus") == "404" and "Coupon not found" in (
        attribute(coupon, "failureReason") or ""
    )


def test_bulk_profile_updates_reach_talon_one_in_the_order_they_came(stack: LocalStack, queues: Queues) -> None:
    # Given three bulk updates queued one after the other, naming the same customer
    stack.emulator.clear_requests()
    for tier in ("bronze", "silver", "gold"):
        body = {"customerProfiles": [{"integrationId": "p-bulk", "attributes": {"tier": tier}}]}
        queues.send("UpdateCustomerProfilesV2Queue", {"body": body}, group="customerProfiles")
    # When they are delivered
    wait_until(
        lambda: len(talon_requests(stack, method="PUT", prefix="/v2/customer_profiles")) >= 3,
        timeout=30,
        what="the three bulk updates to arrive",
    )
    # Then Talon.One got them in that order
    received = talon_requests(stack, method="PUT", prefix="/v2/customer_profiles")
    sent = [r["body"]["customerProfiles"][0]["attributes"]["tier"] for r in received]
    assert sent == ["bronze", "silver", "gold"]


def test_a_read_sent_as_post_is_answered_at_once_even_when_asked_to_queue(stack: LocalStack, http: Http) -> None:
    # When the best prior price is asked with Prefer: respond-async
    body = {
        "skus": ["SKU-CAMERA"],
        "timeframeEndDate": "2026-06-01T00:00:00Z",
        "timeframe": "30",
        "timeframeEndDateType": "strict",
    }
    answer = http.relay("POST", "/v1/best_prior_price", body, headers={"Prefer": "respond-async"})
    # Then it is Talon.One's answer, not a 202
    assert answer.status == 200, answer.data
    assert [(p["sku"], p["price"]) for p in answer.json] == [("SKU-CAMERA", 449.0)]
