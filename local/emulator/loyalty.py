"""Loyalty answers in either era's shape, and the era setting that chooses the v1 one.

- "2019": `Loyalty.programs` values are `LoyaltyProgramBalance {currentBalance}` (May 2019 spec).
- "2026": they are `LoyaltyProgramLedgers {id, title, name, joinDate, ledger, subLedgers}`, as
  Talon.One answers from late 2019 on (v1 paths too, until v1 was retired) and v2 always.

The era only changes v1 answers; v2 answers always have today's shape. The default is "2026":
the shape every Talon.One has answered since late 2019, and the one the vendor's SDKs (2019-09 on) read.
"""

from __future__ import annotations

from typing import Any, Literal

from local.emulator.rules import RulesConfig
from local.emulator.store import Profile, rfc3339

Era = Literal["2019", "2026"]
ERAS: tuple[Era, ...] = ("2019", "2026")
DEFAULT_ERA: Era = "2026"


def check_era(value: str) -> Era:
    for era in ERAS:
        if value == era:
            return era
    raise ValueError(f"era must be one of {', '.join(ERAS)}, got {value!r}")


def balances(profile: Profile) -> dict[str, Any]:
    """`Loyalty` of May 2019: `{programs: {id: {currentBalance}}}`."""
    return {
        "programs": {str(program): {"currentBalance": balance} for program, balance in sorted(profile.balances.items())}
    }


def ledgers(profile: Profile, rules: RulesConfig) -> dict[str, Any]:
    """`Loyalty` of today: `{programs: {id: LoyaltyProgramLedgers}}`."""
    programs: dict[str, Any] = {}
    for program_id, balance in sorted(profile.balances.items()):
        program = rules.loyalty_program(program_id)
        entry: dict[str, Any] = {
            "id": program_id,
            "title": program.title,
            "name": program.name,
            "ledger": {
                "currentBalance": balance,
                "pendingBalance": 0.0,
                "expiredBalance": 0.0,
                "spentBalance": 0.0,
                "tentativeCurrentBalance": balance,
            },
            "subLedgers": {},
        }
        joined = profile.memberships.get(program_id)
        if joined is not None:
            entry["joinDate"] = rfc3339(joined)
        programs[str(program_id)] = entry
    return {"programs": programs}


def loyalty(profile: Profile, rules: RulesConfig, era: Era) -> dict[str, Any]:
    return balances(profile) if era == "2019" else ledgers(profile, rules)
