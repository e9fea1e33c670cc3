"""bench/placement.py: the servers started on CPUs of their own, and every process spawned after on the measured CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from bench import placement
from bench.placement import Placement

#: a child that prints the CPUs it may run on
CHILD = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]


@pytest.fixture
def plan() -> Iterator[Placement]:
    found = Placement.plan()
    if found is None:
        pytest.skip(f"placement needs two CPUs; this process may use {sorted(os.sched_getaffinity(0))}")
    try:
        yield found
    finally:
        found.restore()


def spawned_cpus() -> list[int]:
    return [
        int(cpu)
        for cpu in subprocess.run(CHILD, capture_output=True, text=True, check=True).stdout.strip()[1:-1].split(",")
    ]


def test_a_plan_keeps_one_cpu_for_the_measured_processes_and_gives_the_servers_the_rest(plan: Placement) -> None:
    # Given this process's CPUs; When planned
    cpus = sorted(os.sched_getaffinity(0))
    # Then the first is the measured processes', the others the servers', and together they are all
    assert plan.measured == {cpus[0]}
    assert plan.servers == set(cpus[1:])
    assert plan.original == set(cpus)


def test_what_starts_inside_runs_on_the_servers_cpus_and_what_is_spawned_after_on_the_measured_one(
    plan: Placement,
) -> None:
    # Given a server thread and a server process started while the servers start
    seen: dict[str, set[int]] = {}
    release = threading.Event()

    def serve() -> None:
        seen["thread"] = os.sched_getaffinity(0)

        def per_request() -> None:  # a thread the server makes later, as a threading HTTP server does
            seen["request"] = os.sched_getaffinity(0)

        worker = threading.Thread(target=per_request)
        worker.start()
        worker.join()
        release.wait(timeout=10)

    with plan.servers_starting():
        server = threading.Thread(target=serve)
        server.start()
        process = spawned_cpus()
    try:
        # When a measured child is spawned afterwards
        child = spawned_cpus()
    finally:
        release.set()
        server.join(timeout=10)
    # Then the servers' thread, the threads it makes and its process run on the servers' CPUs only
    assert seen["thread"] == plan.servers
    assert seen["request"] == plan.servers
    assert set(process) == plan.servers
    # and the child on the measured CPU only, never beside a server
    assert set(child) == plan.measured
    assert not set(child) & plan.servers


def test_restore_gives_the_thread_all_its_cpus_back(plan: Placement) -> None:
    # Given a placed thread
    with plan.servers_starting():
        pass
    assert os.sched_getaffinity(0) == plan.measured
    # When restored (the bench's setup closes)
    plan.restore()
    # Then it runs on every CPU it had, and so do the processes it spawns
    assert os.sched_getaffinity(0) == plan.original
    assert set(spawned_cpus()) == plan.original


def test_the_results_say_where_the_processes_ran(plan: Placement) -> None:
    # Given a plan on this machine, and none (one CPU, or --no-placement)
    # Then the results' line names each CPU, or says the servers shared the measured processes' CPUs
    line = placement.describe(plan)
    assert f"measured processes on CPU {min(plan.measured)}" in line
    assert all(str(cpu) in line.rsplit("CPU", 1)[1] for cpu in plan.servers)
    assert "share the measured processes' CPUs" in placement.describe(None)
