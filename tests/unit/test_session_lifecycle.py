"""The state machine as the relay knows it (core/lifecycle.py), and which operation a message of the shared
sessions queue is for (core/messages.py): Talon.One's refusals read, late updates told from refused moves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from talon_relay.core import lifecycle, messages, ordering
from talon_relay.core.request import parse_request
from talon_relay.errors import InvalidRequest
from talon_relay.operations import OPERATIONS, operation_of
from talon_relay.talon.errors import TalonOneError


def refusal(status: int, message: str, details: str | None = None) -> TalonOneError:
    body: dict[str, Any] = {"message": message}
    if details is not None:
        body["errors"] = [{"title": "Invalid state transition", "details": details, "source": {"pointer": "/state"}}]
    return TalonOneError.from_response(status, json.dumps(body).encode(), operation="x")


@pytest.mark.parametrize(
    ("error", "move"),
    [
        (refusal(400, "Cannot move session to state open from state closed"), ("closed", "open")),
        (refusal(400, "Bad request", "Cannot move session to state open from state cancelled"), ("cancelled", "open")),
        (
            refusal(400, "Cannot move session to state partially_returned from state open"),
            ("open", "partially_returned"),
        ),
        (refusal(400, "Invalid cart item"), None),
        (refusal(409, "Cannot move session to state open from state closed"), None),
        (refusal(503, "Service unavailable"), None),
    ],
)
def test_talon_ones_refusal_of_a_state_transition_is_read_and_nothing_else_is(
    error: TalonOneError, move: tuple[str, str] | None
) -> None:
    # Given one of Talon.One's answers
    # When the relay reads it
    found = lifecycle.refused_move(error)

    # Then a 400 refusing a move names it (from, to), in its message or its errors; nothing else is one
    assert (None if found is None else (found.current, found.new)) == move


@pytest.mark.parametrize(
    ("operation", "current", "new", "late"),
    [
        ("updateCustomerSessionV2", "closed", "open", True),
        ("updateCustomerSession", "cancelled", "open", True),
        ("updateCustomerSessionV2", "partially_returned", "open", True),
        ("updateCustomerSessionV2", "cancelled", "closed", False),  # closing a cancelled order: refused
        ("returnCartItems", "open", "partially_returned", False),
        ("reopenCustomerSession", "cancelled", "open", False),
    ],
)
def test_only_a_cart_update_after_the_order_moved_on_is_late(
    operation: str, current: str, new: str, late: bool
) -> None:
    # Given a move Talon.One refused for an operation
    move = lifecycle.Move(current, new)

    # Then only an update to open after the order closed, was returned or cancelled is a late update
    assert lifecycle.is_late(operation, move) is late


def test_a_refused_move_names_what_the_state_machine_allows_from_there() -> None:
    # Given a return Talon.One refused because the session is still open
    cause = refusal(400, "Cannot move session to state partially_returned from state open")
    move = lifecycle.refused_move(cause)
    assert move is not None

    # When it is made a disposition
    error = lifecycle.TransitionRefused("returnCartItems", "s-1", move, cause)

    # Then it is a dead letter (never a retry) and a 400 for an API caller, naming the move and the way on
    assert error.dead_letter is True and error.api_status == 400 and error.talon_status == 400
    assert "returnCartItems cannot move session 's-1' from open to partially_returned" in error.reason
    assert "allows closed (update), cancelled (update)" in error.reason


def test_the_state_machine_is_the_issues() -> None:
    # Then the relay knows exactly these moves, and which operation makes each
    assert lifecycle.TRANSITIONS == {
        ("open", "closed"): "update",
        ("open", "cancelled"): "update",
        ("closed", "cancelled"): "update",
        ("partially_returned", "cancelled"): "update",
        ("closed", "partially_returned"): "returnCartItems",
        ("partially_returned", "partially_returned"): "returnCartItems",
        ("closed", "open"): "reopenCustomerSession",
    }


def named(operation: str | None) -> dict[str, Any]:
    return {} if operation is None else {"relayOperation": {"stringValue": operation, "dataType": "String"}}


@pytest.mark.parametrize(
    "name", ["updateCustomerSession", "returnCartItems", "reopenCustomerSession", "shopifyWebhook"]
)
def test_a_message_on_the_sessions_queue_is_for_the_operation_it_names(name: str) -> None:
    # Given the sessions queue's consumer and a message naming one of the queue's operations
    consumer = OPERATIONS["updateCustomerSessionV2"]

    # Then the message is that operation's
    assert operation_of(consumer, named(name)) is OPERATIONS[name]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("updateCustomerProfile", "names no operation of the sessions queue"),
        ("getCustomerSession", "names no operation of the sessions queue"),
        ("noSuchOperation", "names no operation of the sessions queue"),
    ],
)
def test_a_message_on_the_sessions_queue_naming_no_operation_of_it_is_refused(name: str | None, reason: str) -> None:
    # Given a message on the sessions queue that names none of its operations
    consumer = OPERATIONS["updateCustomerSessionV2"]

    # Then it is an InvalidRequest (a dead letter) saying so
    with pytest.raises(InvalidRequest) as raised:
        operation_of(consumer, named(name))
    assert reason in raised.value.reason


def test_a_message_naming_no_operation_is_the_receiving_functions_own() -> None:
    # Given a message without relayOperation, handed to the sessions queue's consumer or to a member's function
    # Then it is that function's own operation (an updateCustomerSessionV2 sender needs no attribute)
    for name in ("updateCustomerSessionV2", "returnCartItems"):
        assert operation_of(OPERATIONS[name], named(None)) is OPERATIONS[name]


def test_a_queue_of_its_own_ignores_the_attribute() -> None:
    # Given a function with its own queue (a profile update), and a message naming something else
    consumer = OPERATIONS["updateCustomerProfileV2"]

    # Then the message is its own operation's, and the relay names no operation on such a queue
    assert operation_of(consumer, named("returnCartItems")) is consumer
    assert messages.operation_attribute(consumer) == {}
    assert messages.operation_attribute(OPERATIONS["returnCartItems"]) == {
        "relayOperation": {"DataType": "String", "StringValue": "returnCartItems"}
    }


@pytest.mark.parametrize(
    ("function", "body", "moves_on"),
    [
        ("update_customer_session", {"profileId": "p-1", "state": "closed"}, True),
        ("update_customer_session", {"profileId": "p-1", "state": "cancelled"}, True),
        ("update_customer_session", {"profileId": "p-1", "state": "open"}, False),
        ("update_customer_session", {"profileId": "p-1"}, False),
        ("update_customer_session_v2", {"customerSession": {"profileId": "p-1", "state": "closed"}}, True),
        ("update_customer_session_v2", {"customerSession": {"profileId": "p-1", "state": "open"}}, False),
        ("update_customer_session_v2", {"customerSession": {"profileId": "p-1"}, "responseContent": []}, False),
        ("update_customer_profile_v2", {"attributes": {"state": "closed"}}, False),
    ],
)
def test_a_close_or_a_cancel_moves_a_session_on_and_nothing_else_does(
    function: str, body: dict[str, Any], moves_on: bool
) -> None:
    # Given a queued request of a session (or another) operation
    (operation,) = [op for op in OPERATIONS.values() if op.function == function]
    params = {name: "x-1" for name in operation.path_params}
    request = parse_request(operation, params, body)
    # Then only an update asking for a state past open moves the session on (never superseded: core/ordering.py)
    assert ordering.moves_on(request) is moves_on
