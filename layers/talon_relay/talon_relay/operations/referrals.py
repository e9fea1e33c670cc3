"""Referrals: a customer's code for a friend."""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Operation

CREATE_REFERRAL = Operation(
    Contract(
        name="createReferral",
        method="POST",
        path="/v1/referrals",
        body="wire.models:NewReferral",
        response="wire.responses:Referral",
        success_status=201,
        body_required=True,
    ),
)
