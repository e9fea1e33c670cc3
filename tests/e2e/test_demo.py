"""`make demo`'s journey, against a stack started the way `make demo` starts one."""

from __future__ import annotations

import pytest

from local.demo import run_demo
from local.stack import LocalStack
from tests.e2e.helpers import Queues, talon_requests

pytestmark = pytest.mark.e2e


def test_demo_journey_succeeds(no_shared_stack: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a stack with the local defaults (unsigned callers), as `make demo` starts one
    stack = LocalStack.start(schedules=False, function_environment={"POWERTOOLS_METRICS_DISABLED": "true"})
    try:
        queues = Queues(stack)
        capsys.readouterr()

        # When the demo journey runs against it, described the way `make run` writes it down
        code = run_demo(stack.describe())

        # Then it succeeds, having told each step
        out = capsys.readouterr().out
        assert code == 0, out
        assert "Demo finished: all five operations went through the relay." in out
        assert "DEMO FAILED" not in out
        for line in (
            "acceptCoupon(value='WELCOME10')",
            "sku='SKU-STRAP'",
            "addLoyaltyPoints(",
            "acceptReferral(value=",
            "'deleted': 1",
            "attributes={}",
            # one order's whole life (local/order_life.py): the points and discounts going back
            "effects: rollbackAddedLoyaltyPoints, rollbackDiscount, rollbackDiscount, rollbackCoupon",
            "/returns -> 200",
            "-> points 10.00; session closed, total 137.0",
            "-> points 9.38; session partially_returned, total 128.5",
            "-> points 0.00; session cancelled, total 128.5, discounts {}",
        ):
            assert line in out, line
        # and Talon.One saw every one of today's five operations, each answered with success
        seen = {(r["operation"], r["status"]) for r in talon_requests(stack, prefix="/v")}
        assert seen == {
            ("updateCustomerProfileV2", 200),
            ("updateCustomerSessionV2", 200),
            ("trackEventV2", 200),
            ("trackEventV3", 200),
            ("createReferral", 201),
            ("reopenCustomerSession", 200),
            ("returnCartItems", 200),
            ("deleteCustomerData", 204),
        }
        # and it ended with the way back: the points of an order paid in the shop, notified by Talon.One
        # (twice, one X-UUID), in that customer's metafields at the Shopify Admin stand-in, printed
        assert out.rstrip().endswith(
            "The way back finished: points earned on an order are in the shop's customer metafields."
        ), out[-2000:]
        assert stack.shopify is not None
        written = {owner: fields for owner, fields in stack.shopify.admin.metafields.items()}
        assert len(written) == 1, written
        owner, fields = next(iter(written.items()))
        assert fields["talon_one.loyalty_points"]["value"] == "10"
        assert f"{owner} talon_one.loyalty_points = 10 (number_decimal)" in out
        sets = [r for r in stack.shopify.admin.requests if "metafieldsSet" in str(r["body"])]
        assert [r["status"] for r in sets] == [200]  # the notification sent twice: one write
        # and the queued deletion left the erasure queue
        assert queues.depth("DeleteCustomerDataQueue") == 0
        assert ("DeleteCustomerDataFunction", "schedule") in stack.gateway.invocations
        queues.close()
    finally:
        stack.stop()
