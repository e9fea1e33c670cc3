"""The Talon.One stand-in: a fixed-response Integration API on 127.0.0.1 (run as its own process).

`python -m bench.standin --delay-ms 50` serves three ThreadingHTTPServers (HTTP/1.1, keep-alive): one
that answers at once, one that answers each request after the delay, and one that answers at once
with three effects instead of one, and one with MANY_EFFECTS. It prints `{"fast": <port>, "slow": <port>,
"rich": <port>, "many": <port>}` on
one line, then serves until its standard input closes (the
harness ends), SIGTERM, or --max-seconds pass, whichever comes first.

Every route answers with the status the spec gives it and a canned valid body (the test suite's
IntegrationState, IntegrationStateV2 and Referral samples), so the relay, the SDK and raw urllib3 all
parse a real answer.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from local.samples import integration_state, integration_state_v2, referral
from talon_relay.operations import OPERATIONS, V1_EFFECTS, Operation

#: The answers of the fast and slow ports: the test suite's samples, one effect each where the
#: operation returns effects (what the project's bench has always measured).
#: The rich port's: three effects, two of one kind (a cart with a coupon and free shipping).
_V1_EFFECTS = [
    [1, 2, 0, ["setDiscount", "Ten off", 10]],
    [1, 2, 1, ["acceptCoupon", "SUMMER10"]],
    [1, 3, 0, ["setDiscount", "Free shipping", 4.9]],
]
_V2_EFFECTS = [
    {"campaignId": c, "rulesetId": r, "ruleIndex": i, "ruleName": f"rule {i}", "effectType": name, "props": props}
    for c, r, i, name, props in (
        (1, 2, 0, "setDiscount", {"name": "Ten off", "value": 10}),
        (1, 2, 1, "acceptCoupon", {"value": "SUMMER10"}),
        (1, 3, 0, "setDiscount", {"name": "Free shipping", "value": 4.9}),
    )
]


#: The many port's: MANY_EFFECTS effects (the rich three, repeated), for the "per effect" growth row.
MANY_EFFECTS = 30


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


_REFERRAL = _json(referral())
_NOT_FOUND = _json({"message": "no such route in the stand-in"})


def _pattern(op: Operation) -> re.Pattern[str]:
    """The operation's route as a path pattern: each path parameter one segment."""
    return re.compile("^" + re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(op.path)) + "$")


def routes(v1_state: bytes, v2_state: bytes) -> list[tuple[str, re.Pattern[str], int, bytes | None]]:
    """(method, path pattern, status, body or None for an empty 204) of every operation of the table."""
    table = []
    for op in OPERATIONS.values():
        if op.webhook is not None:
            continue  # not an Integration API route
        body: bytes | None = None
        if op.effects_at is not None:
            body = v1_state if op.effects_at == V1_EFFECTS else v2_state
        elif op.success_status != 204:
            body = _REFERRAL
        table.append((op.method, _pattern(op), op.success_status, body))
    return table


ROUTES = routes(_json(integration_state()), _json(integration_state_v2()))
RICH_ROUTES = routes(_json(integration_state(effects=_V1_EFFECTS)), _json(integration_state_v2(effects=_V2_EFFECTS)))
MANY_ROUTES = routes(
    _json(integration_state(effects=(_V1_EFFECTS * MANY_EFFECTS)[:MANY_EFFECTS])),
    _json(integration_state_v2(effects=(_V2_EFFECTS * MANY_EFFECTS)[:MANY_EFFECTS])),
)


def answer(
    method: str, path: str, table: list[tuple[str, re.Pattern[str], int, bytes | None]]
) -> tuple[int, bytes | None]:
    path = path.split("?", 1)[0]
    for route_method, pattern, status, body in table:
        if route_method == method and pattern.match(path):
            return status, body
    return 404, _NOT_FOUND


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connection
    timeout = 120  # an idle keep-alive connection is closed after this
    # Like a production server: no Nagle, and status line, headers and body leave in one send at the
    # end of the request (an unbuffered writer would send headers and body apart, and Nagle plus the
    # client's delayed ACK would then add ~40 ms to a keep-alive answer).
    disable_nagle_algorithm = True
    wbufsize = -1
    delay = 0.0
    table = ROUTES

    def log_message(self, format: str, *args: object) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.delay:
            time.sleep(self.delay)
        status, body = answer(self.command, self.path, self.table)
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body is not None:
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _serve


def serve(delay: float, table: list[tuple[str, re.Pattern[str], int, bytes | None]] = ROUTES) -> ThreadingHTTPServer:
    handler = type("DelayedHandler" if delay else "FastHandler", (_Handler,), {"delay": delay, "table": table})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fast, slow, rich = serve(0.0), serve(args.delay_ms / 1000), serve(0.0, RICH_ROUTES)
    many = serve(0.0, MANY_ROUTES)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the harness closes the pipe or dies
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    ports = {
        "fast": fast.server_address[1],
        "slow": slow.server_address[1],
        "rich": rich.server_address[1],
        "many": many.server_address[1],
    }
    print(json.dumps(ports), flush=True)
    stop.wait(args.max_seconds)
    for server in (fast, slow, rich, many):
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
