"""`python -m local.emulator`: run the Talon.One emulator until SIGINT/SIGTERM.

Prints the base URL (one line on stdout) once it listens. API keys can also come from the
environment variable TALON_EMULATOR_API_KEYS (comma-separated), which keeps them out of `ps`;
the era from TALON_EMULATOR_ERA when --era is not given. `--application NAME=KEY` serves another
Talon.One application from the same process (its own key and data; the default rules).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local.emulator import DEFAULT_RULES_FILE, ERAS, Emulator
from local.emulator.loyalty import DEFAULT_ERA


def _application(text: str) -> tuple[int, str]:
    app_id, sep, key = text.partition(":")
    if not sep or not app_id.isdigit():
        raise argparse.ArgumentTypeError("expected APPLICATION_ID:HEX_KEY")
    try:
        bytes.fromhex(key)
    except ValueError:
        raise argparse.ArgumentTypeError("the application key must be hex") from None
    return int(app_id), key


def _served(text: str) -> tuple[str, str]:
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError("expected NAME=API_KEY")
    return name, key


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_FILE, help="rules file (JSON or YAML)")
    parser.add_argument("--api-key", action="append", default=[], help="accepted API key (repeatable)")
    parser.add_argument(
        "--app",
        action="append",
        type=_application,
        default=[],
        metavar="ID:HEXKEY",
        help="application for Content-Signature auth (repeatable)",
    )
    parser.add_argument(
        "--application",
        action="append",
        type=_served,
        default=[],
        metavar="NAME=API_KEY",
        help="another Talon.One application served by this process: its own API key and data (repeatable)",
    )
    parser.add_argument("--state-file", type=Path, default=None, help="persist state to this JSON")
    parser.add_argument(
        "--bad-signature-status",
        type=int,
        default=401,
        choices=(400, 401),
        help="status of a wrong Content-Signature (2019 Talon.One: 400)",
    )
    parser.add_argument(
        "--era",
        choices=ERAS,
        default=os.environ.get("TALON_EMULATOR_ERA") or DEFAULT_ERA,
        help="shape of v1 answers' loyalty: 2026 LoyaltyProgramLedgers (default), 2019 LoyaltyProgramBalance",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.era not in ERAS:  # a default from TALON_EMULATOR_ERA is not checked by `choices`
        parser.error(f"TALON_EMULATOR_ERA must be one of {', '.join(ERAS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    env_keys = [k.strip() for k in os.environ.get("TALON_EMULATOR_API_KEYS", "").split(",")]
    api_keys = [*args.api_key, *(k for k in env_keys if k)]
    if not api_keys and not args.app:
        logging.getLogger("local.emulator").warning(
            "no --api-key and no --app given: every Integration API request will get 401 "
            "(set keys with PUT /_emulator/keys)"
        )
    emulator = Emulator(
        rules=args.rules,
        api_keys=api_keys,
        applications=dict(args.app),
        state_file=args.state_file,
        bad_signature_status=args.bad_signature_status,
        era=args.era,
        application="default" if args.application else None,
    )
    for name, key in args.application:
        emulator.add_application(name, api_keys={key})
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    url = emulator.start(host=args.host, port=args.port)
    print(url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
