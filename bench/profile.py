"""Where a warm call's time goes: `python -m bench.profile [FUNCTION] [--trigger api|sqs] [--calls N] [--batch N]`.

Runs the function's handler warm in one python3.13 process exactly as `make bench` does (the built
layer read-only, the stand-in, moto and the secrets extension), then profiles `calls` calls with
cProfile and prints the costliest functions (own time and cumulative time, in microseconds per call).
A development aid for reading the benchmark's warm overhead; not part of `make bench`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from bench import events
from bench.events import OPS
from bench.harness import SIGNING_KEY, lambda_env, one_function, spec_files
from bench.infra import BenchError

CHILD = r"""
import cProfile, copy, importlib, io, json, pstats, sys, time

spec = json.load(open(sys.argv[1]))


class Context:
    function_name = spec["function_name"]
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + spec["function_name"]
    aws_request_id = "bench-profile"
    log_group_name = "/aws/lambda/" + spec["function_name"]
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self):
        return 30000


def event(n):
    e = copy.deepcopy(spec["events"][n] if "events" in spec else spec["event"])
    if "Records" in e:
        for i, record in enumerate(e["Records"]):  # a new delivery, as bench.child_warm's: its own ids and keys
            record["messageId"] = f"profile-{n}-{i}"
            message = json.loads(record["body"])
            if isinstance(message, dict) and message.get("idempotencyKey"):
                message["idempotencyKey"] = f"{message['idempotencyKey']}-profile-{n}"
                record["body"] = json.dumps(message, separators=(",", ":"))
    else:
        e["requestContext"]["requestId"] = f"profile-{n}"
    return e


handler = importlib.import_module(spec["module"]).handler
calls = spec["calls"]
prepared = [event(n) for n in range(calls + 50)]
for n in range(50):
    handler(prepared[n], Context())
profiler = cProfile.Profile()
started = time.perf_counter_ns()
profiler.enable()
for n in range(50, 50 + calls):
    handler(prepared[n], Context())
profiler.disable()
elapsed = time.perf_counter_ns() - started
out = io.StringIO()
stats = pstats.Stats(profiler, stream=out)
rows = []
for (file, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
    rows.append((tt / calls * 1e6, ct / calls * 1e6, nc / calls, f"{file.split('/python/')[-1]}:{line}({name})"))
with open(sys.argv[2], "w") as handle:
    json.dump({"rows": rows, "per_call_us": elapsed / calls / 1000}, handle)
if len(sys.argv) > 3:
    profiler.dump_stats(sys.argv[3])
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("function", nargs="?", default="update_customer_session", choices=sorted(OPS))
    parser.add_argument("--trigger", choices=("api", "sqs"), default="api")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--fallback", action="store_true", help="without the secrets extension (boto3)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    parser.add_argument(
        "--body-kb", type=int, metavar="KB", help="update_customer_session_v2 only: its cart grown to about KB KB"
    )
    parser.add_argument(
        "--batch", type=int, metavar="N", help="sync_catalog only: an SQS batch of N messages, coalesced"
    )
    parser.add_argument("--dump", metavar="FILE", help="also write the cProfile stats there (for pstats' callers)")
    args = parser.parse_args(argv)
    op = OPS[args.function]
    with one_function(op) as setup:
        spec: dict[str, object] = {"module": op.folder, "function_name": op.function_name, "calls": args.calls}
        if args.trigger == "api":
            # each call signed apart (the table, set as deployed, accepts each signature once), a millisecond
            # apart in the past so no two are the same
            api = events.load_event(op.folder, "api")
            if args.body_kb:
                if op.folder != "update_customer_session_v2":
                    raise SystemExit("--body-kb grows update_customer_session_v2's cart: profile that function")
                api = events.with_body_kb(api, args.body_kb)
            now = time.time()
            spec["events"] = [events.sign_api_event(api, SIGNING_KEY, now - n / 1000) for n in range(args.calls + 50)]
        elif not op.queued:
            raise SystemExit(f"{op.folder} has no queue (a GET): profile its API trigger")
        elif args.batch:
            if op.folder != "sync_catalog":
                raise SystemExit("--batch coalesces sync_catalog's messages: profile that function")
            spec["event"] = events.catalog_batch(args.batch)
        else:
            spec["event"] = events.one_record(events.load_event(op.folder, "sqs"))
        spec_path, result_path = spec_files(setup.workdir, spec)
        env = lambda_env(setup, op, secret_arn=setup.fast_secret, extension=not args.fallback)
        env.update(item.split("=", 1) for item in args.env)
        command = [str(setup.python), "-S", "-c", CHILD, str(spec_path), str(result_path)]
        if args.dump:
            command.append(str(Path(args.dump).resolve()))
        proc = subprocess.run(command, env=env, cwd=setup.workdir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=600)  # fmt: skip
        if proc.returncode != 0:
            raise BenchError(proc.stderr[-2000:])
        result = json.loads(result_path.read_text())
    print(f"{op.folder} ({args.trigger}): {result['per_call_us']:.0f} us per call under cProfile")
    for key, title in ((0, "own time"), (1, "cumulative")):
        print(f"\n== top {args.top} by {title} (us per call, calls per call)")
        for row in sorted(result["rows"], key=lambda r: -r[key])[: args.top]:
            print(f"  {row[0]:8.1f} {row[1]:8.1f} {row[2]:6.1f}  {row[3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
