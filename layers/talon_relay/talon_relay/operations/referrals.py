"""Referrals: a customer's code for a friend; codes for many advocates at once."""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Deployment, Operation, QueryParam

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

# A referral code for each of up to 1,000 advocates: creates, with no order relative to other messages
# (a standard queue, as createReferral's). 201 with the codes when silent=no; 204 otherwise (the default).
CREATE_REFERRALS_FOR_MULTIPLE_ADVOCATES = Operation(
    Contract(
        name="createReferralsForMultipleAdvocates",
        method="POST",
        path="/v1/referrals_for_multiple_advocates",
        body="wire.coupons:NewReferralsForMultipleAdvocates",
        response="wire.coupons:ReferralsCreated",
        success_status=201,
        body_required=True,
        query_params=(QueryParam("silent", "yes-no"),),
        examples={"silent": "no"},
    ),
    # (CreateReferralsForMultipleAdvocatesDeadLetterQueue would leave the stack name 15 characters)
    deployment=Deployment(function="referrals_for_multiple_advocates"),
)
