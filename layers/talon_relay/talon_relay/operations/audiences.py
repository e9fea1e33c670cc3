"""Audiences: a shop's or a CDP's segments of customers, and who belongs to them (May 2026, `/v2/`).

How they are queued (with `Prefer: respond-async`, or sent to the queue): the writes to one audience form
one FIFO group (its `audienceId`: a rename, then a delete, reach Talon.One in that order); the
memberships of many customers in one request form one FIFO group for the whole operation (`group`), so
an add and a later delete of the same customer are never swapped; a new audience (no id yet) goes on a
standard queue.
"""

from __future__ import annotations

from talon_relay.operations.operation import Contract, Delivery, Deployment, Operation, QueryParam

#: An audience's id, an int64 (a caller's "abc" is a 400 naming it rather than Talon.One's guess).
AUDIENCE = QueryParam("audienceId", "integer")

CREATE_AUDIENCE_V2 = Operation(
    Contract(
        name="createAudienceV2",
        method="POST",
        path="/v2/audiences",
        body="wire.audiences:NewAudience",
        response="wire.audiences:Audience",
        success_status=201,
        body_required=True,
    ),
)

UPDATE_AUDIENCE_V2 = Operation(
    Contract(
        name="updateAudienceV2",
        method="PUT",
        path="/v2/audiences/{audienceId}",
        body="wire.audiences:UpdateAudience",
        response="wire.audiences:Audience",
        success_status=200,
        body_required=True,
        path_checks=(AUDIENCE,),
        examples={"audienceId": "1"},
    ),
    # a rename replaces the one before: an older one is never applied over a newer one
    Delivery(group_by="audienceId", last_write_wins=True),
)

DELETE_AUDIENCE_V2 = Operation(
    Contract(
        name="deleteAudienceV2",
        method="DELETE",
        path="/v2/audiences/{audienceId}",
        success_status=204,
        path_checks=(AUDIENCE,),
        examples={"audienceId": "1"},
    ),
    Delivery(group_by="audienceId"),
)

DELETE_AUDIENCE_MEMBERSHIPS_V2 = Operation(
    Contract(
        name="deleteAudienceMembershipsV2",
        method="DELETE",
        path="/v2/audiences/{audienceId}/memberships",
        success_status=204,
        path_checks=(AUDIENCE,),
        examples={"audienceId": "1"},
    ),
    Delivery(group_by="audienceId"),
)

UPDATE_AUDIENCE_CUSTOMERS_ATTRIBUTES = Operation(
    Contract(
        name="updateAudienceCustomersAttributes",
        method="PUT",
        path="/v2/audience_customers/{audienceId}/attributes",
        body="wire.audiences:AttributeQuery",
        success_status=204,
        body_required=True,
        path_checks=(AUDIENCE,),
        examples={"audienceId": "1"},
    ),
    # attributes merge: a later request sets what it names, it does not replace the one before
    Delivery(group_by="audienceId"),
    # (UpdateAudienceCustomersAttributesDeadLetterQueue would leave the stack name 12 characters)
    Deployment(function="audience_customers_attributes"),
)

UPDATE_CUSTOMER_PROFILE_AUDIENCES = Operation(
    Contract(
        name="updateCustomerProfileAudiences",
        method="POST",
        path="/v2/customer_audiences",
        body="wire.audiences:CustomerProfileAudienceRequest",
        success_status=204,
        body_required=True,
    ),
    Delivery(group="customerAudiences"),
    # (UpdateCustomerProfileAudiencesDeadLetterQueue would leave the stack name 14 characters)
    Deployment(function="customer_profile_audiences"),
)
