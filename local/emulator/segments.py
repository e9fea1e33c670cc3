"""The emulator's audiences, memberships and coupon reservations (`Segments`, part of the `Store`).

Kept as plain values (the answers' own shapes for audiences) so the state file and
GET /_emulator/state show them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Segments:
    #: by id: the Audience as answered (accountId, id, created, name and what the caller set)
    audiences: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: audienceId -> the members' profile integration ids, in the order they joined
    members: dict[int, list[str]] = field(default_factory=dict)
    #: coupon code -> the profile integration ids it is reserved for, in the order they were added
    reservations: dict[str, list[str]] = field(default_factory=dict)
    next_audience_id: int = 1

    def dump(self) -> dict[str, Any]:
        return {
            "audiences": [self.audiences[key] for key in sorted(self.audiences)],
            "members": {str(key): list(value) for key, value in sorted(self.members.items())},
            "reservations": {key: list(value) for key, value in sorted(self.reservations.items())},
            "nextAudienceId": self.next_audience_id,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Segments:
        return cls(
            audiences={int(a["id"]): dict(a) for a in data.get("audiences", [])},
            members={int(k): [str(v) for v in values] for k, values in data.get("members", {}).items()},
            reservations={str(k): [str(v) for v in values] for k, values in data.get("reservations", {}).items()},
            next_audience_id=int(data.get("nextAudienceId", 1)),
        )

    def forget(self, integration_id: str) -> None:
        """A customer's data erased: out of every audience, no coupon reserved for them any more."""
        for members in (*self.members.values(), *self.reservations.values()):
            while integration_id in members:
                members.remove(integration_id)

    def new_audience_id(self) -> int:
        self.next_audience_id += 1
        return self.next_audience_id - 1
