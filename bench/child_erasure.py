"""One scheduled erasure run, run by the harness as `python -c <this file's text> SPEC RESULT`.

The delete_customer_data handler is invoked once with the schedule's input (`{}`: drain the queue),
with a Lambda context of `timeout` seconds (ErasureRunTimeout), against a stand-in that answers each
DELETE after a delay. It records the run's summary and its wall time.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any


class Context:
    """What Lambda's context object offers the handlers and Powertools."""

    def __init__(self, function_name: str, timeout: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "bench-erasure"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    handler = importlib.import_module(spec["module"]).handler
    started = time.perf_counter_ns()
    summary: Any = handler({}, Context(spec["function_name"], float(spec["timeout"])))
    elapsed = time.perf_counter_ns() - started
    with open(result_path, "w") as handle:
        json.dump({"summary": summary, "run_ns": elapsed}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
