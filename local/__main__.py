"""`python -m local run|demo|cleanup`: the commands behind `make run`, `make demo`, `make cleanup`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

import urllib3

from local.stack import RUN_PARAMETERS, STACK_FILE, LocalStack, free_port, running_stack


class _PrettyLog(logging.Handler):
    """The relay's Powertools log records as short lines for a terminal (effects above all)."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        message = record.getMessage()
        if message == "effects":  # one record per answer listing its effects: a line each here
            context = (
                f"  [{fields.get('operation')} session={fields.get('session_id')!r}"
                f" profile={fields.get('profile_id')!r}]"
            )
            lines = []
            for effect in fields.get("effects") or []:
                args = ", ".join(repr(a) for a in effect.get("arguments") or [])
                lines.append(
                    f"       effect {effect.get('effect')}({args})  campaign {effect.get('campaign_id')}{context}"
                )
            line = "\n".join(lines)
        elif message == "event published":  # the bus (docs/events.md): source, detail-type and id, never the detail
            line = (
                f"       event on the bus: {fields.get('event_source')} {fields.get('detail_type')}"
                f"  id {fields.get('event_id')}"
            )
        elif message == "written back to Shopify":
            names = ", ".join(fields.get("metafields") or [])
            line = f"       Shopify Admin: metafieldsSet {names} (as of {fields.get('at')})"
        elif message.startswith("write-back "):
            line = f"       Shopify Admin: {message}"
        elif message == "talon.one call":
            line = (
                f"       Talon.One {fields.get('operation')} -> {fields.get('status')}"
                f" in {fields.get('duration_ms')} ms ({fields.get('attempts')} attempt(s))"
            )
        elif record.levelno >= logging.WARNING:
            detail = {k: fields[k] for k in ("reason", "status", "message_id") if fields.get(k) is not None}
            line = f"       {record.levelname.lower()}: {message} {json.dumps(detail) if detail else ''}"
        elif message == "erasure run finished":
            keys = ("requested", "deleted", "not_found", "failed", "dead_lettered")
            line = "       erasure run: " + ", ".join(f"{k}={fields.get(k)}" for k in keys)
        else:
            return
        print(line, flush=True)


def _terminal_logging(verbose: bool) -> None:
    """JSON logs stay as they are with --verbose; otherwise a readable line per event."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from talon_relay.observability import logger

    relay = logging.getLogger(logger.name)
    if not verbose:
        for handler in relay.handlers:
            handler.setLevel(logging.CRITICAL + 1)  # keep Powertools' handler (it owns the formatter)
        relay.addHandler(_PrettyLog())
    emulator_log = logging.getLogger("local.emulator")
    emulator_log.setLevel(logging.INFO)
    talon_handler = logging.StreamHandler(sys.stdout)
    talon_handler.setFormatter(logging.Formatter("       emulator: %(message)s"))
    emulator_log.addHandler(talon_handler)
    emulator_log.propagate = False


def _local_signing_secret(info: dict[str, Any]) -> str | None:
    from local.demo import signing_secret

    return signing_secret(info)


def _local_caller_key(info: dict[str, Any]) -> str | None:
    from local.demo import caller_api_key

    return caller_api_key(info)


def _shopify_banner(info: dict[str, Any]) -> None:
    from local.notifications import banner as way_back_banner
    from local.shopify import banner as shopify_banner

    print(shopify_banner(info), flush=True)
    print(way_back_banner(info), flush=True)


#: The banner's last line: below it, what happens, as it happens.
LIVE_VIEW = (
    "Live view (below): each request, its effects, each event published on the bus and each write-back to the"
    " Shopify Admin stand-in. Ctrl-C stops."
)

#: The ports `make run` takes by default, and the variable that chooses each.
PORTS = (
    ("api", "API_PORT", 3000),
    ("emulator", "EMULATOR_PORT", 3100),
    ("aws", "AWS_PORT", 3200),
    ("shopify", "SHOPIFY_PORT", 3300),
)


class PortError(Exception):
    """A port `make run` cannot use; the message names it and the variables that choose the ports."""


def _is_free(port: int) -> bool:
    """Whether the stack's servers can listen on the port: bound the way they bind (SO_REUSEADDR, as
    every HTTPServer does), so the TIME_WAIT sockets a stopped `make run` leaves for a minute do not
    count as "in use", while a socket listening there still does."""
    import socket

    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def _port(value: str | None, default: int, variable: str = "") -> int:
    """The port asked for (it must be free), else `default` when free, else any free port."""
    choose = "choose the ports with API_PORT, EMULATOR_PORT, AWS_PORT and SHOPIFY_PORT (e.g. make run API_PORT=3001)"
    if value:
        try:
            port = int(value)
        except ValueError:
            raise PortError(f"{variable or 'port'}={value!r} is not a port number; {choose}") from None
        if not 0 < port < 65536:
            raise PortError(f"{variable or 'port'}={value} is not a port number (1-65535); {choose}")
        if not _is_free(port):
            raise PortError(f"port {port} ({variable}) is already in use on 127.0.0.1 (another `make run`?); {choose}")
        return port
    return default if _is_free(default) else free_port()


def sdk_snippet(api_url: str, caller_key: str) -> str:
    """Three lines of Talon.One's Python SDK (talon-one-sdk, in .venv) calling the local relay as it
    calls Talon.One: only the host and the key (a relay caller key, `Authorization: ApiKey-v1`) differ."""
    request = (
        'talon_one.IntegrationRequest(customer_session=talon_one.NewCustomerSessionV2(profile_id="customer-1",'
        ' coupon_codes=["WELCOME10"]))'
    )
    return "\n".join(
        (
            f"import talon_one; config = talon_one.Configuration(host={json.dumps(api_url)})",
            'config.api_key["api_key_v1"], config.api_key_prefix["api_key_v1"] = '
            f'{json.dumps(caller_key)}, "ApiKey-v1"',
            "print(talon_one.IntegrationApi(talon_one.ApiClient(config))"
            f'.update_customer_session_v2("session-1", {request}).effects)',
        )
    )


def _sdk_section(api_url: str, caller_key: str | None) -> str:
    if caller_key is None:
        return "  Callers are not authenticated (CallerAuthentication=disabled): no relay caller key.\n"
    # flush left: pasted into a Python prompt, indented lines would be an IndentationError
    return f"""  Relay caller key:          {caller_key}
                             Talon.One's SDKs send it as Authorization: ApiKey-v1 <key> (CallerApiKeysSecret)
  Talon.One's Python SDK against the relay (paste into .venv/bin/python):

{sdk_snippet(api_url, caller_key)}
"""


def banner(stack_urls: dict[str, str], info: dict[str, Any], signing: str | None, caller_key: str | None = None) -> str:
    """What `make run` prints once the stack is up: URLs, keys, and requests to paste."""
    from local.stack import LOCAL_API_KEY

    api_url, emulator_url, aws_url = stack_urls["api"], stack_urls["emulator"], stack_urls["aws"]
    return f"""
talon-relay is running locally (Ctrl-C stops everything).

  Relay API (API Gateway):   {api_url}
  Talon.One emulator:        {emulator_url}   (admin: {emulator_url}/_emulator/requests)
                             its Integration API key: Authorization: ApiKey-v1 {LOCAL_API_KEY}
  Local AWS (moto):          {aws_url}
  Callers authenticate as when deployed: sign with the local signing secret {signing!r}
  (docs/api.md, "Signing a request"), or send the local API key (x-api-key: {info["api_key"]}).

Try it:

  curl -s -X PUT {api_url}/v1/customer_sessions/session-1 \\
       -H 'Content-Type: application/json' -H 'x-api-key: {info["api_key"]}' \\
       -d '{{"profileId": "customer-1", "coupon": "WELCOME10",
            "cartItems": [{{"name": "Camera", "sku": "SKU-CAMERA", "quantity": 1, "price": 120}}]}}'

{_sdk_section(api_url, caller_key)}
  make demo      # a scripted journey through all five operations
  make cleanup   # run the off-peak erasure schedule now
"""


def applications_banner(info: dict[str, Any], default_key: str | None) -> str:
    """Each application the stack serves: its name, its Talon.One emulator and its relay caller key."""
    lines = ["  Applications (docs/applications.md): each relay caller key reaches its own Talon.One"]
    for name, app in (info.get("applications") or {}).items():
        key = app.get("caller_key") or default_key
        where = app.get("emulator_admin") or app["emulator_url"]
        lines.append(f"  Application {name}:  relay caller key {key}  ->  Talon.One application {name} ({where})")
    return "\n".join(lines) + "\n"


def cmd_run(args: argparse.Namespace) -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    try:
        api_port = _port(args.api_port, 3000, "API_PORT")
        emulator_port = _port(args.emulator_port, 3100, "EMULATOR_PORT")
        aws_port = _port(args.aws_port, 3200, "AWS_PORT")
        shopify_port = _port(args.shopify_port, 3300, "SHOPIFY_PORT")
        stack = LocalStack.start(
            api_port=api_port,
            emulator_port=emulator_port,
            moto_port=aws_port,
            shopify_port=shopify_port,
            reporter=lambda line: print(line, flush=True),
            applications=True,  # two Talon.One applications (docs/applications.md)
            parameters=RUN_PARAMETERS,  # every effect on the bus too, shown as published (docs/events.md)
            # EMF metric lines are for CloudWatch; on a terminal they drown the effects (--verbose shows them)
            function_environment={} if args.verbose else {"POWERTOOLS_METRICS_DISABLED": "true"},
        )
    except PortError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a port taken between the check and the start
        print(
            f"make run: could not start the local stack ({exc.strerror or exc}); ports tried: API_PORT={api_port}, "
            f"EMULATOR_PORT={emulator_port}, AWS_PORT={aws_port}, SHOPIFY_PORT={shopify_port}: choose free ones with "
            "those variables",
            file=sys.stderr,
        )
        return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:  # from here on Ctrl-C stops the stack (also while the banner is written)
        _terminal_logging(args.verbose)
        stack.write_state()
        info = stack.describe()
        urls = {"api": stack.api_url, "emulator": stack.emulator_url, "aws": stack.aws.endpoint}
        print(banner(urls, info, _local_signing_secret(info), _local_caller_key(info)), flush=True)
        print(applications_banner(info, _local_caller_key(info)), flush=True)
        _shopify_banner(info)
        print(LIVE_VIEW, flush=True)
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping...", flush=True)
        stack.stop()
        STACK_FILE.unlink(missing_ok=True)
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    info = running_stack()
    if info is None:
        print("no local stack is running: start one with `make run`", file=sys.stderr)
        return 1
    payload = json.dumps({"integrationIds": args.ids}) if args.ids else b""
    response = urllib3.request(
        "POST", f"{info['api_url']}/_local/schedules/DeleteCustomerDataFunction", body=payload, timeout=120
    )
    print(response.data.decode())
    return 0 if response.status == 200 else 1


def cmd_redrive_events(args: argparse.Namespace) -> int:
    """`make redrive FUNCTION=events`: RelayEventsDeadLetterQueue's events on their way again (docs/events.md)."""
    from local.aws import local_client
    from local.events_redrive import redrive_events, urls_from_stack

    if args.stack:
        import boto3

        dlq_url, bus = urls_from_stack(args.stack)
        sqs, events = boto3.client("sqs"), boto3.client("events")
    else:
        info = running_stack()
        if info is None:
            print("no local stack is running: start one with `make run`, or pass STACK=<name>", file=sys.stderr)
            return 1
        dlq_url, bus = info["queues"]["RelayEventsDeadLetterQueue"], info["event_bus_name"]
        sqs, events = local_client("sqs", info["aws_endpoint"]), local_client("events", info["aws_endpoint"])
    result = redrive_events(sqs, events, dlq_url=dlq_url, bus_name=bus, limit=args.limit)
    print(f"sent {result.moved} event(s) from {dlq_url} on again (to the bus {bus}, or to their subscriber queue)")
    for reason, count in sorted(result.reasons.items(), key=lambda item: -item[1]):
        print(f"  {count} x {reason}")
    print(f"{result.came_back} could not be sent again: left in the dead-letter queue")
    for reason, count in sorted(result.came_back_reasons.items(), key=lambda item: -item[1]):
        print(f"  {count} x {reason}")
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    from local.aws import local_client
    from local.events_redrive import EVENTS_NAMES
    from local.redrive import function_names, logical_name, queue_name, queue_urls_from_stack, redrive

    if args.function in EVENTS_NAMES:
        return cmd_redrive_events(args)
    name = logical_name(args.function)
    known = {logical_name(function): function for function in function_names()}
    if name not in known:
        names = ", ".join(function_names())
        print(
            f"unknown function {args.function!r}; FUNCTION is one of: {names}, or events (the bus's dead letters)",
            file=sys.stderr,
        )
        return 1
    name = queue_name(name)  # a session operation's messages are on the sessions queue
    if args.stack:
        import boto3

        queue_url, dlq_url = queue_urls_from_stack(args.stack, name)
        sqs = boto3.client("sqs")
    else:
        info = running_stack()
        if info is None:
            print("no local stack is running: start one with `make run`, or pass STACK=<name>", file=sys.stderr)
            return 1
        queues = info["queues"]
        queue_url, dlq_url = queues[f"{name}Queue"], queues[f"{name}DeadLetterQueue"]
        sqs = local_client("sqs", info["aws_endpoint"])
    result = redrive(sqs, dlq_url=dlq_url, queue_url=queue_url, limit=args.limit, settle_seconds=args.settle)
    print(f"moved {result.moved} message(s) from {dlq_url} back to {queue_url}")
    for reason, count in sorted(result.reasons.items(), key=lambda item: -item[1]):
        print(f"  {count} x {reason}")
    print(f"{result.came_back} of them came back to the dead-letter queue within {args.settle:g} s (still failing)")
    for reason, count in sorted(result.came_back_reasons.items(), key=lambda item: -item[1]):
        print(f"  {count} x {reason}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from local.demo import run_demo

    info = running_stack()
    if info is not None:
        print(f"Using the running stack at {info['api_url']}\n")
        return run_demo(info)
    print("No stack running: starting a fresh one for the demo.\n")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the demo prints its own account of each step
    with LocalStack.start(
        schedules=False,
        applications=True,
        parameters={"LogLevel": "WARNING", **RUN_PARAMETERS},
        function_environment={"POWERTOOLS_METRICS_DISABLED": "true"},
    ) as stack:
        return run_demo(stack.describe())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the emulator, local AWS and the gateway")
    run.add_argument("--api-port", default=os.environ.get("API_PORT"))
    run.add_argument("--emulator-port", default=os.environ.get("EMULATOR_PORT"))
    run.add_argument("--aws-port", default=os.environ.get("AWS_PORT"))
    run.add_argument("--shopify-port", default=os.environ.get("SHOPIFY_PORT"))
    run.add_argument("--verbose", action="store_true", help="show the functions' raw JSON logs")
    run.set_defaults(func=cmd_run)
    cleanup = sub.add_parser("cleanup", help="run the erasure schedule of the running stack now")
    cleanup.add_argument("ids", nargs="*", help="delete these integration ids instead of draining the queue")
    cleanup.set_defaults(func=cmd_cleanup)
    again = sub.add_parser("redrive", help="move a function's dead-lettered messages back to its queue")
    again.add_argument(
        "function", help="e.g. update_customer_session (a folder under functions/), or events (the bus's dead letters)"
    )
    again.add_argument("--stack", default=os.environ.get("STACK"), help="a deployed stack (default: the local one)")
    again.add_argument("--limit", type=int, default=1000)
    again.add_argument(
        "--settle", type=float, default=5.0, help="seconds to watch the DLQ afterwards for messages that come back"
    )
    again.set_defaults(func=cmd_redrive)
    demo = sub.add_parser("demo", help="a scripted journey through all five operations")
    demo.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    result: Any = args.func(args)
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
