"""Cold start to answer: each function in a fresh python3.13 process, beside the SDK and the floors.

Every subject runs `reps` times, interleaved round by round in shuffled order (after one discarded
run each, which warms the page cache). "To answer" is from just before the process is spawned to the
first answer in hand. Every function runs as deployed (every template default: the signed route with
replay protection in the idempotency table, the Parameters and Secrets extension); one function also
runs with the variants (secrets through boto3, no table, no bytecode, SnapStart), and sync_catalog also
with a coalesced SQS batch. Ratios are to the SDK and the floors of the same run.
"""

from __future__ import annotations

import json
import random
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import events
from bench.events import Op
from bench.infra import log
from bench.report import Row, ms, ratio, verdict

#: Issue 23's targets, as deployed: to answer <= 0.1x the SDK and <= 2x the bare floor.
SDK_TARGET = 0.1
FLOOR_TARGET = 2.0
RSS_LIMIT_MB = 90.0

Runner = Callable[[str, dict[str, Any], dict[str, str]], tuple[dict[str, Any], int]]


@dataclass
class ColdTarget:
    name: str
    env: dict[str, str]
    spec: dict[str, Any]
    signing_key: str | None = None
    samples: list[dict[str, float]] = field(default_factory=list)

    def run_once(self, run_child: Runner) -> dict[str, float]:
        spec = dict(self.spec)
        if self.signing_key is not None:
            spec["event"] = events.sign_api_event(spec["event"], self.signing_key)
        if spec.get("sqs"):  # new messages each run: the table would answer repeated keys from their records
            spec["event"] = events.fresh_keys(spec["event"], uuid.uuid4().hex[:12])
        result, started = run_child("cold", spec, self.env)
        return {
            "total": result["t_done"] - started,
            "start": result["t_main"] - started,
            "import": result["t_imported"] - result["t_main"],
            "call": result["t_done"] - result["t_imported"],
            "rss_mb": result["maxrss_kb"] / 1024,
            "rss_import_mb": result["rss_import_kb"] / 1024,
        }

    def median(self, key: str) -> float:
        return statistics.median(sample[key] for sample in self.samples)


def measure(targets: list[ColdTarget], reps: int, run_child: Runner, seed: int) -> None:
    log(f"cold start: {len(targets)} subjects x {reps} runs, interleaved (after one discarded run each)")
    for target in targets:
        target.run_once(run_child)  # the page cache warm, as for every later run
    for rep in range(reps):
        order = list(targets)
        random.Random(seed + rep).shuffle(order)
        for target in order:
            target.samples.append(target.run_once(run_child))


def _detail(target: ColdTarget) -> str:
    return (
        f"{ms(target.median('total'))} (start {ms(target.median('start'))}, import {ms(target.median('import'))}, "
        f"1st call {ms(target.median('call'))})"
    )


#: Info rows of one function beside its as-deployed row: the target name's suffix, and what it measures.
VARIANTS = {
    ":fallback": "as deployed but SecretsExtension=disabled (secrets through boto3)",
    ":notable": "no idempotency table: no replay write (an easier path than deployed)",
    ":nopyc": "as deployed, layer without .pyc (a build without python3.13)",
}


def rows(targets: list[ColdTarget], ops: list[Op]) -> tuple[list[Row], list[Row]]:
    """The cold-start rows (every function as deployed, then the variants) and the peak-RSS rows."""
    by_name = {target.name: target for target in targets}
    sdk, floor = by_name["sdk"], by_name["floor"]
    floor_ext, floor_boto3 = by_name["floor:extension"], by_name["floor:boto3"]
    sdk_ns, floor_ns = sdk.median("total"), floor.median("total")
    cold = [
        Row("Cold start", "baseline: talon-one-sdk create_referral", _detail(sdk), "", "", "", "baseline"),
        Row("Cold start", "baseline: bare floor (urllib3 POST)", _detail(floor), "", "", "", "baseline"),
        Row(
            "Cold start",
            "baseline: compliant floor, extension (GET secret, POST)",
            _detail(floor_ext),
            "",
            f"{ratio(floor_ext.median('total'), floor_ns)} bare floor",
            "",
            "baseline",
        ),
        Row(
            "Cold start",
            "baseline: compliant floor, boto3 (get_secret_value, POST)",
            _detail(floor_boto3),
            "",
            f"{ratio(floor_boto3.median('total'), floor_ns)} bare floor",
            "",
            "baseline",
        ),
    ]
    baseline = f"SDK {ms(sdk_ns)} · floor {ms(floor_ns)}"
    target_text = f"≤ {SDK_TARGET}x SDK and ≤ {FLOOR_TARGET:.0f}x floor"

    def judged(name: str, subject: str) -> Row:
        target = by_name[name]
        total = target.median("total")
        ok = total <= SDK_TARGET * sdk_ns and total <= FLOOR_TARGET * floor_ns
        return Row(
            "Cold start",
            subject,
            _detail(target),
            f"{baseline} · compliant {ms(floor_ext.median('total'))}",
            # three digits against the SDK: its target is 0.1x, and 0.1003x must not read as 0.10x beside a FAIL
            f"{ratio(total, sdk_ns, 3)} SDK · {ratio(total, floor_ns)} floor · "
            f"{ratio(total, floor_ext.median('total'))} compliant",
            target_text,
            verdict(ok),
        )

    for op in ops:
        kind = "API event, signed" if op.method != "GET" else "API event, signed read"
        cold.append(judged(op.folder, f"{op.folder} ({kind}, as deployed)"))
    if "sync_catalog:coalesced" in by_name:
        batch = by_name["sync_catalog:coalesced"].spec["event"]["Records"]
        cold.append(
            judged(
                "sync_catalog:coalesced",
                f"sync_catalog (SQS batch of {len(batch)} in one catalog, coalesced into one syncCatalog, as deployed)",
            )
        )
    for op in ops:
        for suffix, subject in VARIANTS.items():
            extra = by_name.get(op.folder + suffix)
            if extra is None:
                continue
            total = extra.median("total")
            cold.append(
                Row(
                    "Cold start",
                    f"{op.folder}, {subject}",
                    _detail(extra),
                    baseline,
                    f"{ratio(total, sdk_ns)} SDK · {ratio(total, floor_ns)} floor",
                    "(info)",
                    "info",
                )
            )
        snap = by_name.get(op.folder + ":snapstart")
        if snap is not None:
            restored = snap.median("call")
            cold.append(
                Row(
                    "Cold start",
                    f"{op.folder}, as deployed with SnapStart: after the restore to answer",
                    f"{ms(restored)} (hooks + 1st call; the init, {ms(snap.median('import'))}, is in "
                    "the snapshot; Lambda's restore itself is not measurable here)",
                    baseline,
                    f"{ratio(restored, sdk_ns)} SDK · {ratio(restored, floor_ns)} floor",
                    "(info)",
                    "info",
                )
            )
    rss_baseline = (
        f"SDK {sdk.median('rss_mb'):.1f} MB · floor {floor.median('rss_mb'):.1f} MB · "
        f"compliant {floor_ext.median('rss_mb'):.1f} / {floor_boto3.median('rss_mb'):.1f} MB"
    )
    deployed = sorted(((by_name[op.folder].median("rss_mb"), op.folder) for op in ops), reverse=True)
    peak, peak_folder = deployed[0]
    fallbacks = [by_name[op.folder + ":fallback"].median("rss_mb") for op in ops if op.folder + ":fallback" in by_name]
    highest = max([peak, *fallbacks])
    after_import = statistics.median(by_name[op.folder].median("rss_import_mb") for op in ops)
    memory = [
        Row(
            "Peak RSS",
            f"every function as deployed ({len(ops)}), cold, after the 1st answer",
            f"median {statistics.median(rss for rss, _ in deployed):.1f} MB, highest {peak:.1f} MB ({peak_folder})"
            + (f" · {max(fallbacks):.1f} MB with secrets through boto3" if fallbacks else "")
            + f" ({after_import:.1f} MB after import)",
            rss_baseline,
            f"{ratio(peak, sdk.median('rss_mb'))} SDK · {ratio(peak, floor.median('rss_mb'))} floor",
            f"< {RSS_LIMIT_MB:.0f} MB",
            verdict(highest < RSS_LIMIT_MB),
        )
    ]
    return cold, memory


def relay_spec(op: Op, *, snapstart: bool = False, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """A relay cold start: `op`'s API event (signed when run), or `event`, an SQS batch."""
    spec: dict[str, Any] = {
        "mode": "relay",
        "module": op.folder,
        "function_name": op.function_name,
        "event": events.load_event(op.folder, "api") if event is None else event,
        "expect": op.status,
    }
    if event is not None:
        spec["sqs"] = True
    if snapstart:
        spec["snapstart"] = True
    return spec


def baseline_specs(url: str, api_key: str, secret_arn: str) -> dict[str, dict[str, Any]]:
    body = json.loads(events.load_event("create_referral", "api")["body"])
    common = {"url": url, "api_key": api_key, "body": body, "expect": 201, "secret_arn": secret_arn}
    return {
        "sdk": {"mode": "sdk", **common},
        "floor": {"mode": "floor", **common},
        "floor:extension": {"mode": "floor_extension", **common},
        "floor:boto3": {"mode": "floor_boto3", **common},
    }
