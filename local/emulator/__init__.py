"""A stateful, in-memory Talon.One Integration API emulator on a loopback port.

It serves the five v1 operations of May 2019 (updateCustomerProfile, updateCustomerSession,
trackEvent, createReferral, deleteCustomerData) and today's three v2 operations (May 2026:
updateCustomerSessionV2, updateCustomerProfileV2, trackEventV2). It checks requests against its own
JSON Schemas (`schemas/v1.json`, `schemas/v2.json`, transcribed from the vendor's specs and kept equal
to them by tests/contract/test_emulator_schemas.py; nothing is imported from the relay), evaluates
campaign rules from a rules file into v1 tuple effects and v2 typed effects, and has an admin
interface under `/_emulator/` for fault injection, inspection and settings.

Python:

    from local.emulator import Emulator
    emu = Emulator(rules=None,                       # None: default_rules.json next to this file
                   api_keys={"key"},                 # or {"key": applicationId}
                   applications={12: "a1b2c3"},      # Content-Signature: applicationId -> hex key
                   state_file=None,                  # JSON file: loaded at start, saved on change
                   era="2026")                       # v1 loyalty shape: "2026" ledgers (default), "2019" balances
    base_url = emu.start(host="127.0.0.1", port=0)   # "http://127.0.0.1:<port>"
    emu.inject_fault(status=503, count=2, path="/v1/customer_sessions")
    emu.requests(); emu.state(); emu.reset(); emu.set_keys(api_keys={"new"}); emu.era = "2019"
    emu.stop()

CLI: `python -m local.emulator --port 0 --rules PATH --api-key KEY --state-file PATH --era 2026` prints
the base URL on one line of stdout and serves until SIGINT/SIGTERM.

Where things are: `server` (the Emulator facade), `api` (serving a request), `operations` (THE table:
one entry per operation, its route, body definition, query parameters and handler; `routes` is an
entry's shape and the routing), `validation`, `auth`, `faults`, `requestlog`, `http`, `admin` (the
`/_emulator/` endpoints), `state` (operation semantics), `store` (entities, state file), `rules` and
`evaluation` (rules file, effects), `v1` and `v2` (the handlers of each API version) + `answers_v2` +
`loyalty` (their answers), `accounting` (totals, points), `customer_data` (referrals, erasure),
`jsonio` (strict JSON in, no NaN out).
"""

from __future__ import annotations

from local.emulator.auth import sign
from local.emulator.errors import ApiError
from local.emulator.faults import MAX_DELAY
from local.emulator.loyalty import ERAS
from local.emulator.rules import DEFAULT_RULES_FILE, RulesConfig, load_rules
from local.emulator.server import Emulator

__all__ = [
    "DEFAULT_RULES_FILE",
    "ERAS",
    "MAX_DELAY",
    "ApiError",
    "Emulator",
    "RulesConfig",
    "load_rules",
    "sign",
]
