"""A stateful, in-memory Talon.One Integration API (v1, May 2019) emulator on a loopback port.

It serves the five operations tagged `integration` in the reference spec, answers with bodies that
validate against the spec's definitions, evaluates campaign rules from a rules file into v1 effects,
and has an admin interface under `/_emulator/` for fault injection and inspection.

Python:

    from local.emulator import Emulator
    emu = Emulator(rules=None,                       # None: default_rules.json next to this file
                   api_keys={"key"},                 # or {"key": applicationId}
                   applications={12: "a1b2c3"},      # Content-Signature: applicationId -> hex key
                   state_file=None)                  # JSON file: loaded at start, saved on change
    base_url = emu.start(host="127.0.0.1", port=0)   # "http://127.0.0.1:<port>"
    emu.inject_fault(status=503, count=2, path="/v1/customer_sessions")
    emu.requests(); emu.state(); emu.reset(); emu.set_keys(api_keys={"new"})
    emu.stop()

CLI: `python -m local.emulator --port 0 --rules PATH --api-key KEY --state-file PATH` prints the
base URL on one line of stdout and serves until SIGINT/SIGTERM.

Semantics are described in `local.emulator.state` (operations), `local.emulator.rules` (rules file
and effects) and `local.emulator.server` (HTTP, auth, faults, admin endpoints).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import talon_relay  # noqa: F401
except ImportError:  # run outside pytest / the Lambda layer: use the repo's layer sources
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "talon_relay"))

from local.emulator.rules import DEFAULT_RULES_FILE, RulesConfig, load_rules
from local.emulator.server import MAX_DELAY, Emulator, sign
from local.emulator.state import ApiError

__all__ = [
    "DEFAULT_RULES_FILE",
    "MAX_DELAY",
    "ApiError",
    "Emulator",
    "RulesConfig",
    "load_rules",
    "sign",
]
