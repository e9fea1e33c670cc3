"""template.yaml is rendered: base.yaml plus one block per entry of the operation table (template/render.py).

The committed file must be exactly what the renderer makes (`make template` re-renders, `make lint` and
the first test fail otherwise), and the renderer must make a valid stack of any table: the next entries
(the v2 operations) are one table entry away.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template, read_stack
from template import render
from template.entry import holds_queue, logical_prefix, queue_prefix
from tests.template.helpers import TABLE, TEMPLATE, as_list, of_type


@dataclass(frozen=True)
class Entry:
    """A table entry as the renderer reads one (the fields of talon_relay.operations.Operation it uses)."""

    name: str
    method: str
    path: str
    function: str
    fifo: bool = False
    schedule: bool = False
    webhook: str | None = None
    last_write_wins: bool = False
    group_by: str | None = None
    shared_queue: str | None = None
    consumes: bool = False
    webhook_steps_queued: bool = False
    coalesce: bool = False

    @property
    def queued(self) -> bool:
        """As Operation.queued: a GET is answered at once and has no queue."""
        return self.method.upper() != "GET"

    @property
    def polls(self) -> bool:
        """As Operation.polls: its own queue, or the shared queue it consumes."""
        return self.queued and (self.shared_queue is None or self.webhook is not None or self.consumes)

    @property
    def own_queue(self) -> bool:
        return self.queued and (self.shared_queue is None or self.webhook is not None)


#: An entry whose mapped webhook steps go on its own queue (Delivery.webhook_steps_queued).
QUEUED_STEPS: dict[str, Any] = {"webhook_steps_queued": True}

#: Today's table as plain entries, plus the v2 operations that come next and a standard-queue one.
TODAY = [
    Entry(
        op.name,
        op.method,
        op.path,
        op.function,
        op.fifo,
        op.schedule,
        op.webhook,
        op.last_write_wins,
        group_by=op.group_by,
        shared_queue=op.shared_queue,
        consumes=op.delivery.consumes,
        webhook_steps_queued=op.webhook_steps_queued,
        coalesce=op.coalesce,
    )
    for op in TABLE
]
NEXT_CANDIDATES = [
    Entry(
        "updateCustomerSessionV2",
        "PUT",
        "/v2/customer_sessions/{customerSessionId}",
        "update_customer_session_v2",
        True,
    ),
    Entry(
        "updateCustomerProfileV2", "PUT", "/v2/customer_profiles/{integrationId}", "update_customer_profile_v2", True
    ),
    Entry("trackEventV2", "POST", "/v2/events", "track_event_v2", True),
    Entry("createAudience", "POST", "/v2/audiences", "create_audience"),
]
NEXT = [
    e for e in NEXT_CANDIDATES if e.name not in {op.name for op in TABLE} and e.path not in {op.path for op in TABLE}
]


def rendered(entries: list[Entry], tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The rendering of `entries` over the repository's base.yaml: its text, and as loaded by the local stack."""
    text, stacks = render.render_stacks(render.BASE.read_text(), entries)
    path = tmp_path / "template.yaml"
    render.write_stacks(path, text, stacks)
    return text, load_template(path)


def test_committed_template_is_what_the_renderer_makes() -> None:
    # Given the committed template.yaml, and what base.yaml and the operation table render
    committed = TEMPLATE.read_text()
    fresh = render.render_table()

    # Then they are the same text: template.yaml is never edited by hand
    assert committed == fresh, "template.yaml is out of date: run `make template` and commit the result"


def test_check_mode_names_the_command_that_fixes_a_stale_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a template.yaml that differs from its rendering
    stale = tmp_path / "template.yaml"
    stale.write_text(TEMPLATE.read_text().replace("MemorySize: 256", "MemorySize: 512"))
    monkeypatch.setattr(render, "TEMPLATE", stale)

    # When `make lint` checks it
    # Then the check fails, shows the difference and says to run `make template`
    assert render.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "-    MemorySize: 512" in err and "+    MemorySize: 256" in err
    assert "run `make template`" in err
    # And `make template` re-renders it, after which the check passes
    assert render.main([]) == 0
    assert stale.read_text() == TEMPLATE.read_text()
    assert render.main(["--check"]) == 0


@pytest.mark.parametrize("count", [0, 1, len(TODAY), len(TODAY) + len(NEXT)])
def test_any_number_of_entries_renders_a_stack_of_that_many_operations(tmp_path: Path, count: int) -> None:
    # Given a table of `count` entries (today's, then the next ones; a shared queue whose consumer is not
    # among them is left out: each member then has its own queue)
    entries = (TODAY + NEXT)[:count]
    consumed = {e.shared_queue for e in entries if e.consumes}
    entries = [e if e.shared_queue in consumed else replace(e, shared_queue=None) for e in entries]

    # When it is rendered and read as the local stack reads template.yaml
    _, template = rendered(entries, tmp_path)
    stack = read_stack(template)

    # Then each entry has its function, with its route on both APIs (a webhook receiver: RelayApi only)
    # and its queue event (or none: the scheduled one, a GET, which has no queue at all, and a member of a
    # shared queue that only sends to it; the shared queue's consumer polls it)
    names = {logical_prefix(e): e for e in entries}
    assert set(stack.functions) == {f"{name}Function" for name in names}
    for name, entry in names.items():
        function = stack.functions[f"{name}Function"]
        assert {(r.api, r.method, r.path) for r in function.routes} == {
            (api, entry.method, entry.path) for api in ("RelayApi", "RelayKeyApi")[: 1 if entry.webhook else 2]
        }
        queue = queue_prefix(entry)
        assert function.queue == (None if entry.schedule or not entry.polls else f"{queue}Queue")
        assert function.code_uri.name == entry.function
        if not entry.own_queue:
            assert f"{name}Queue" not in stack.queues and f"{name}DeadLetterQueue" not in stack.queues
            assert f"{name}QueueUrl" not in template["Outputs"]
        if not holds_queue(entry):
            continue
        assert stack.queues[f"{queue}Queue"].fifo is entry.fifo
        assert stack.queues[f"{queue}DeadLetterQueue"].fifo is entry.fifo
        assert f"{queue}QueueUrl" in template["Outputs"]
    # And every queue (the erasure schedule's DLQ too) has its own TLS policy
    queues = set(of_type(template["Resources"], "AWS::SQS::Queue"))
    queued = {queue_prefix(entry) for entry in names.values() if holds_queue(entry)}
    assert queues == {f"{name}{kind}" for name in queued for kind in ("Queue", "DeadLetterQueue")} | {
        "ErasureScheduleDeadLetterQueue",
        "RelayEventsDeadLetterQueue",
        "RelayEventsQueue",
    }
    policies = of_type(template["Resources"], "AWS::SQS::QueuePolicy")
    assert {as_list(p["Properties"]["Queues"])[0]["Ref"] for p in policies.values()} == queues
    assert len(policies) == len(queues)


def test_rendering_is_deterministic_in_name_order(tmp_path: Path) -> None:
    # Given the same entries in two different orders
    entries = TODAY + NEXT
    shuffled = list(entries)
    random.Random(7).shuffle(shuffled)

    # Then the rendering is the same text, its blocks in the order of the operations' names
    text, template = rendered(entries, tmp_path)
    assert render.render(render.BASE.read_text(), shuffled) == text
    functions = [key for key in template["Resources"] if key.endswith("Function")]
    assert functions == [f"{logical_prefix(e)}Function" for e in sorted(entries, key=lambda e: e.name)]


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([Entry("createReferral", "POST", "/v1/referrals", "create_referral")] * 2, "same name"),
        (
            [
                Entry("trackEvent", "POST", "/v1/events", "track_event"),
                Entry("trackEventAgain", "POST", "/v1/events", "track_event_again"),
            ],
            "route POST /v1/events is served twice",
        ),
        (
            [
                Entry("deleteA", "DELETE", "/a/{id}", "delete_a", schedule=True, webhook_steps_queued=True),
                Entry("deleteB", "DELETE", "/b/{id}", "delete_b", schedule=True, webhook_steps_queued=True),
            ],
            "only one operation can be drained by the erasure schedule",
        ),
        (
            [Entry("deleteA", "DELETE", "/a/{id}", "delete_a", schedule=True)],
            "deleteA: a scheduled operation is never called by a webhook receiver: set webhook_steps_queued",
        ),
        (
            [
                Entry("putA", "PUT", "/a/{id}", "put_a", True, group_by="id", shared_queue="things", consumes=True),
                Entry("putB", "PUT", "/b/{id}", "put_b", True, group_by="id", shared_queue="things", **QUEUED_STEPS),
            ],
            "putB: a webhook's step can go on its queue (webhook_steps_queued) only if it has its own queue",
        ),
        (
            [Entry("getD", "GET", "/d/{id}", "get_d", **QUEUED_STEPS)],
            "getD: a webhook's step can go on its queue (webhook_steps_queued) only if it has its own queue",
        ),
        (
            [Entry("getA", "GET", "/a/{id}", "get_a", schedule=True)],
            "getA: a scheduled operation needs a queue (not a GET)",
        ),
        (
            [Entry("getHook", "GET", "/hooks/x", "get_hook", True, webhook="x")],
            "getHook: a webhook receiver needs a queue (not a GET)",
        ),
        (
            [Entry("putA", "PUT", "/a/{id}", "put_a", True, group_by="id", shared_queue="things")],
            "the things queue needs one consumer (Delivery.consumes), not none",
        ),
        (
            [
                Entry("putA", "PUT", "/a/{id}", "put_a", True, group_by="id", shared_queue="things", consumes=True),
                Entry("putB", "PUT", "/b/{id}", "put_b", True, group_by="id", shared_queue="things", consumes=True),
            ],
            "the things queue needs one consumer (Delivery.consumes), not ['putA', 'putB']",
        ),
        (
            [Entry("putA", "PUT", "/a/{id}", "put_a", True, shared_queue="things", consumes=True)],
            "putA: a member of the things queue needs a queue (not a GET) and its group (group_by)",
        ),
        ([Entry("Create-Referral", "POST", "/v1/referrals", "create_referral")], "camelCase operationId"),
        ([Entry("createReferral", "POST", "/v1/referrals", "CreateReferral")], "snake_case folder"),
        ([Entry("createReferral", "POST", "v1/referrals", "create_referral")], "must start with /"),
    ],
)
def test_a_table_the_template_cannot_hold_is_refused(entries: list[Entry], problem: str) -> None:
    # Given a table whose entries would make clashing or invalid resources
    # Then rendering refuses it, naming the problem
    with pytest.raises(ValueError, match="cannot be rendered") as raised:
        render.render(render.BASE.read_text(), entries)
    assert problem in str(raised.value)


def test_base_must_hold_each_marker_once() -> None:
    # Given a base without the marker where the operations' outputs go
    base = render.BASE.read_text().replace(render.OUTPUTS_MARKER + "\n", "")

    # Then rendering refuses it rather than dropping the outputs
    with pytest.raises(ValueError, match=r"1 time\(s\) \(found 0\)"):
        render.render(base, TODAY)
