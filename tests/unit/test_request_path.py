"""The path a request is sent to: made once, from the path a signature was checked against, only when
that path was made of the request's own parameters (`core/request.py` `parse_request(signed_path=...)`)."""

from __future__ import annotations

from talon_relay.core.request import parse_request
from talon_relay.operations import OPERATIONS

INVENTORY = OPERATIONS["getCustomerInventory"]


def test_the_signed_path_is_the_path_sent_when_the_parameters_pass_as_they_came() -> None:
    # Given an id that needs percent-encoding, a query, and the path a signature was checked against
    params, query = {"integrationId": "p 1/é"}, {"loyalty": "true", "coupons": "false"}
    signed = INVENTORY.canonical_path(dict(params), dict(query))
    # When the request is parsed with it
    request = parse_request(INVENTORY, params, None, query=query, signed_path=signed)
    # Then it is sent to that path, the one it would have made itself
    assert request.path == signed == "/v1/customer_profiles/p%201%2F%C3%A9/inventory?coupons=false&loyalty=true"
    assert parse_request(INVENTORY, params, None, query=query).path == signed


def test_a_signed_path_of_other_parameters_is_not_taken() -> None:
    # Given a signed path made of parameters the request does not keep as they came (one it does not take)
    sent = {"integrationId": "p-1", "proxy": "other"}
    signed = "/v1/customer_profiles/p-2/inventory"
    # When the request is parsed
    request = parse_request(INVENTORY, sent, None, signed_path=signed)
    # Then its path is made of its own checked parameters
    assert request.path == "/v1/customer_profiles/p-1/inventory"
