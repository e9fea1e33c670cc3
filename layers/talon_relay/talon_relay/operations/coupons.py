"""Coupons held for customers (reservations) and the best prior price of products.

A coupon's reservations form one FIFO group per coupon code (`couponValue`): a reservation and its
removal reach Talon.One in the order they came. bestPriorPrice is a read sent as POST: answered at once,
no queue.
"""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Delivery, Operation

CREATE_COUPON_RESERVATION = Operation(
    Contract(
        name="createCouponReservation",
        method="POST",
        path="/v1/coupon_reservations/{couponValue}",
        body="wire.coupons:CouponReservations",
        response="wire.coupons:Coupon",
        success_status=201,
        body_required=True,
        examples={"couponValue": "WELCOME10"},
    ),
    Delivery(group_by="couponValue"),
)

DELETE_COUPON_RESERVATION = Operation(
    Contract(
        name="deleteCouponReservation",
        method="DELETE",
        path="/v1/coupon_reservations/{couponValue}",
        body="wire.coupons:CouponReservations",
        success_status=204,
        body_required=True,
        examples={"couponValue": "WELCOME10"},
    ),
    Delivery(group_by="couponValue"),
)

GET_RESERVED_CUSTOMERS = Operation(
    Contract(
        name="getReservedCustomers",
        method="GET",
        path="/v1/coupon_reservations/customerprofiles/{couponValue}",
        response="wire.coupons:ReservedCustomers",
        success_status=200,
        examples={"couponValue": "WELCOME10"},
    ),
)

BEST_PRIOR_PRICE = Operation(
    Contract(
        name="bestPriorPrice",
        method="POST",
        path="/v1/best_prior_price",
        body="wire.coupons:BestPriorPriceRequest",
        success_status=200,
        body_required=True,
    ),
    Delivery(read=True),
)
