"""A small load and outage run (local/load.py; `make load` runs the full one): every message delivered or
superseded, none dead-lettered by the outage, every session and profile at its latest update, and
Talon.One never serving more at once than the relay's budget."""

from __future__ import annotations

from local.load import Plan, run

SMALL = Plan(
    sessions=10,
    updates=5,
    profiles=5,
    profile_updates=5,
    api_sessions=4,
    api_updates=5,
    api_clients=2,
    poison=2,
    send_seconds=4,
    throttle_after=1,
    throttle_seconds=2,
    outage_after=3,
    outage_seconds=3,
    timeout=60,
)


def test_a_small_load_rides_out_rate_limits_and_an_outage_in_order(no_shared_stack: None) -> None:
    # Given 75 queued updates and 20 API requests while Talon.One rate-limits, then goes down, then is back,
    # and two sessions whose first update Talon.One refuses (dead-lettered, redriven at the end)
    lines: list[str] = []
    # When the run goes through its own stack
    figures = run(SMALL, report=lines.append)
    print(figures)
    # Then nothing was lost, and what was dead-lettered is the refusals only, not the outage's victims
    assert figures.failures() == []
    assert (figures.lost, figures.not_latest) == (0, 0)
    assert figures.dead_lettered == {"total": 2, "outage": 0, "refused (400)": 2}
    assert figures.delivered == {"queued": SMALL.queued - SMALL.poison, "api": SMALL.api_requests, "redriven": 2}
    # And the redriven refusals were superseded by their sessions' newer updates, not applied over them
    assert figures.superseded == SMALL.poison
    # And the API callers met the outage (5xx) and were answered once it passed
    assert figures.api_answers["200"] == SMALL.api_requests
    # And Talon.One served several requests at once, never more than the budget
    assert 2 <= figures.talon_one["peak"] <= figures.talon_one["budget"]
    assert figures.seconds < 60
