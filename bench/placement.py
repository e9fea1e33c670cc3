"""Which CPUs the bench's processes run on: the measured ones on a CPU of their own, the servers on the rest.

On Lambda neither DynamoDB nor Talon.One runs on the function's CPU. Here moto, the stand-in and the
extension are Python processes and threads on the same two cores as the measured process; unplaced, the
scheduler runs them on its core between its calls, and every warm row then also measured moto's work
evicting the relay's caches (a queued record's overhead without DynamoDB: +760 to +1,200 us unplaced, +470 to
+640 us placed, in short interleaved runs of the same code; whole runs still move with the machine).

Placement is by inheritance: Linux gives a new thread or process its creator's CPU set. `Placement.servers`
puts the calling thread on the servers' CPUs while they start (moto's and the extension's threads, the
stand-in's process and every thread they later make inherit it), then on the measured CPU, where every child
the harness spawns afterwards (relay, SDK and floor alike) runs. `restore` gives the thread its own CPUs back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    #: the CPU every measured child runs on
    measured: frozenset[int]
    #: the CPUs the servers (moto, the stand-in, the extension: their threads and processes) run on
    servers: frozenset[int]
    #: the calling thread's CPUs before placement
    original: frozenset[int]

    @classmethod
    def plan(cls) -> Placement | None:
        """The first CPU this process may use for the measured processes, the others for the servers; None
        on a machine (or a CPU set) of one CPU, where there is nothing to place."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return None
        return cls(frozenset(cpus[:1]), frozenset(cpus[1:]), frozenset(cpus))

    @contextmanager
    def servers_starting(self) -> Iterator[None]:
        """The calling thread on the servers' CPUs inside, on the measured CPU after (also on an error:
        `restore` is the way back)."""
        os.sched_setaffinity(0, self.servers)
        try:
            yield
        finally:
            os.sched_setaffinity(0, self.measured)

    def restore(self) -> None:
        os.sched_setaffinity(0, self.original)

    def describe(self) -> str:
        return (
            f"measured processes on CPU {_cpus(self.measured)}; moto, the stand-in and the extension on CPU "
            f"{_cpus(self.servers)}"
        )


def _cpus(cpus: frozenset[int]) -> str:
    return ", ".join(str(cpu) for cpu in sorted(cpus))


def describe(placement: Placement | None) -> str:
    """The results' line: where the processes ran."""
    if placement is None:
        return "not placed (one CPU, or --no-placement): the servers share the measured processes' CPUs"
    return placement.describe()
