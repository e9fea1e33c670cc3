"""Lambda SnapStart (template parameter SnapStart): the work moved before the snapshot, and what each
restored execution environment must not share with the others.

With SnapStart, Lambda initialises a function once, when a version is published, snapshots the
initialised environment, and resumes every new execution environment from that snapshot. So:

- before the snapshot (`prime`) the relay imports what any first call would (every adapter, the
  HTTP client, the AWS SDK that the secrets and queues need, and pydantic's error models, which a
  first call that fails builds) and builds the validators of its operation's body, of its settings
  and of the Talon.One secret: a restored environment starts with all of it done;
- after each restore (`after_restore`) it drops what must stay per environment: open connections
  (the Talon.One pool and the secrets extension's), secrets already read (read again with this
  environment's credentials), the cached clients, and the random state (urllib3's backoff jitter,
  uuid4 ids): every restored copy would otherwise draw the same numbers.

No secret is read and no connection is opened before the snapshot (the Parameters and Secrets
extension does not even answer during initialisation). The hooks are registered with the runtime's
`snapshot_restore_py` only when Lambda initialises for a snapshot (AWS_LAMBDA_INITIALIZATION_TYPE is
"snap-start"); anywhere else `register` does nothing, and costs nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
from typing import TYPE_CHECKING

from talon_relay.operations import Operation

if TYPE_CHECKING:
    from talon_relay.container import Container

#: What the first call of any trigger imports; imported before the snapshot instead.
PRIMED_MODULES = (
    "talon_relay.adapters.api",
    "talon_relay.adapters.sqs",
    "talon_relay.adapters.scheduled",
    "talon_relay.core.service",
    "talon_relay.aws.secret_values",
    "urllib3",
    "boto3",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.batch",
    "talon_relay.aws.idempotency",
)


def snapshotting() -> bool:
    """Whether Lambda is initialising this environment to snapshot it."""
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"


def register(operation: Operation, container: Container) -> bool:
    """Register the hooks when Lambda initialises for a snapshot; True when they were."""
    if not snapshotting():
        return False
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # a runtime without the library: SnapStart then works without the hooks
        return False
    register_before_snapshot(prime, operation, container)
    register_after_restore(after_restore, container)
    return True


def prime(operation: Operation, container: Container) -> None:
    """Before the snapshot: the imports and validators a first call would otherwise pay for."""
    for name in PRIMED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # e.g. boto3 outside the Lambda runtime: the first use imports it
            continue
    from talon_relay.config import fields as records
    from talon_relay.core import checkers
    from talon_relay.errors import SettingsError, api_error, error_response
    from talon_relay.talon.auth import TalonCredentials

    # The function's configuration is the version's: the same in every restored copy. When it is
    # wrong, each call reports it (an API caller gets the error's answer), as without SnapStart.
    with contextlib.suppress(SettingsError):
        container.settings()
    if operation.body is not None:
        checkers.checker(operation.body)
    records.validator(TalonCredentials)
    error_response("primed", [api_error("primed", "before the snapshot", pointer="")])


def after_restore(container: Container) -> None:
    """After each restore: nothing that one environment must not share with another survives."""
    container.reset()
    random.seed()  # from os.urandom: a fresh state for each restored copy
