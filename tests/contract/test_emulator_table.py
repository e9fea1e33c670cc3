"""Contract: the emulator's operation table (local/emulator/operations.py) serves every Integration API
entry of the relay's table, as the same operation: method, path template, success status, body
definition and query parameters. The two tables are written apart on purpose (the emulator imports
nothing of the relay); this is where they meet, so a new operation missing on either side fails here."""

from __future__ import annotations

import pytest

from local.emulator.operations import ROUTES
from local.emulator.routes import Route
from talon_relay.operations import OPERATIONS, Operation

#: The relay's Integration API entries (a webhook receiver is the relay's own route, not Talon.One's).
INTEGRATION = {op.name: op for op in OPERATIONS.values() if op.webhook is None}
EMULATED = {route.operation: route for route in ROUTES}


def test_both_tables_hold_the_same_operations() -> None:
    assert set(INTEGRATION) == set(EMULATED)


@pytest.mark.parametrize("op", INTEGRATION.values(), ids=lambda op: op.name)
def test_the_emulator_serves_the_entry_as_the_same_operation(op: Operation) -> None:
    # Given the relay's entry and the emulator's entry of the same operationId
    route: Route | None = EMULATED.get(op.name)
    assert route is not None, f"{op.name}: no entry in local/emulator/operations.py"
    # Then they agree on the route, the success status, the body's definition and the query parameters
    # (not on whether a body is required: the relay refuses a v1 event or referral without one, which the
    # 2019 spec leaves optional)
    assert (route.method, route.path, route.status) == (op.method, op.path, op.success_status)
    assert route.parameters == op.path_params
    assert route.body == (None if op.body_model is None else op.body_model.__name__)
    assert {q.name for q in route.query} == {q.name for q in op.query_params}
