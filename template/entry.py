"""What the template is rendered from: the fields of an operation-table entry, and the logical-id
prefix of its resources (shared by the renderer and the dashboard)."""

from __future__ import annotations

from typing import Protocol


class OperationEntry(Protocol):
    """The fields of a talon_relay.operations.Operation the template is rendered from."""

    @property
    def name(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def function(self) -> str: ...
    @property
    def queued(self) -> bool: ...
    @property
    def fifo(self) -> bool: ...
    @property
    def schedule(self) -> bool: ...
    @property
    def webhook(self) -> str | None: ...
    @property
    def last_write_wins(self) -> bool: ...
    @property
    def group_by(self) -> str | None: ...
    @property
    def shared_queue(self) -> str | None: ...
    @property
    def polls(self) -> bool: ...
    @property
    def own_queue(self) -> bool: ...
    @property
    def webhook_steps_queued(self) -> bool: ...
    @property
    def coalesce(self) -> bool: ...


def logical_prefix(operation: OperationEntry) -> str:
    """The prefix of the operation's logical ids, its function's name in CamelCase: update_customer_session
    -> UpdateCustomerSession (the operationId's, unless its `Deployment` names a shorter function, as a
    long operationId would lower the stack-name limit: docs/deploying.md)."""
    return "".join(part[:1].upper() + part[1:] for part in operation.function.split("_"))


def queue_prefix(operation: OperationEntry) -> str:
    """The prefix of the logical ids of the queue the operation's messages go to: its own
    (UpdateCustomerProfileQueue), or its shared queue's (sessions -> SessionsQueue)."""
    shared = operation.shared_queue if operation.webhook is None else None
    if shared is None:
        return logical_prefix(operation)
    return "".join(part.capitalize() for part in shared.split("_"))


def holds_queue(operation: OperationEntry) -> bool:
    """Whether the operation's block of the template holds its queue: its own, or the shared queue it
    consumes (a member that only sends to a shared queue holds none; a GET has no queue)."""
    return operation.queued and (operation.own_queue or operation.polls)
