"""What Lambda gives a handler, for running functions outside Lambda: the context object.

Used by the local gateway, the tests and the bench; the shipped layer needs none of it. (What a
container keeps between invocations is the layer's own `talon_relay.container.Container`.)
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    """Lambda's context object: what the handlers and Powertools read from it."""

    function_name: str = "test-function"
    timeout_seconds: float = 20.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(int(left * 1000), 0)
