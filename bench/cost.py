"""The `Cost` row: dollars per million API requests and per million queued messages, as deployed.

Priced from what the warm rows measured for one function (update_customer_session_v2: its signed API
event and one SQS record, as deployed): the handler's duration (billed per started millisecond at the
template's memory), the DynamoDB request units it used (by the size of each item: bench.infra.DynamoUnits),
the bytes it wrote to its log (Powertools lines and EMF metric values, which CloudWatch bills as log ingestion), and the
template's defaults (REST API, X-Ray as XRayTracing says, FIFO queues), at the list prices of
bench/prices.json. What is not measured here is said: Lambda's own log lines and the SQS requests per
message are the assumptions of prices.json, and Talon.One's answer time (loopback here) is priced apart
as dollars per 100 ms, since each call waits for it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Row, verdict

PRICES = Path(__file__).with_name("prices.json")
#: Issue 23's target, all in, per million API requests (and per million queued messages).
TARGET_PER_MILLION = 6.0
#: The template's MemorySize (template/base.yaml Globals) in GB, as Lambda bills it (MB / 1024).
MEMORY_GB = 256 / 1024
WRITES = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")
READS = ("dynamodb.GetItem",)
GIB = 1024**3


def prices(path: Path = PRICES) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@dataclass(frozen=True)
class Bill:
    """Dollars per million of one kind of unit of work, by line."""

    lines: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.lines.values())

    def text(self) -> str:
        parts = ", ".join(f"{name} {usd:.2f}" for name, usd in self.lines.items() if usd >= 0.005)
        return f"${self.total:.2f} ({parts})"


def _usd(table: dict[str, Any], name: str) -> float:
    return float(table["prices"][name]["usd"])


def _assumed(table: dict[str, Any], name: str) -> float:
    return float(table["assumptions"][name]["value"])


def units(case: dict[str, Any]) -> dict[str, float]:
    """A case's DynamoDB request units: by item size where the bench counted them (`dynamodb_units`),
    else one per call (what an item under 1 KB costs, 4 KB for a read)."""
    counted = case.get("dynamodb_units")
    if counted is not None:
        return {"write": float(counted["write"]), "read": float(counted["read"])}
    calls = case.get("aws_calls") or {}
    return {"write": sum(calls.get(n, 0.0) for n in WRITES), "read": sum(calls.get(n, 0.0) for n in READS)}


def bill(case: dict[str, Any], table: dict[str, Any], *, api: str | None, sqs: str | None, traced: bool) -> Bill:
    """A million of `case` (a warm case's measurements): `api` the API type in front of it (rest, http or
    None for a queued message), `sqs` the queue type it came through (fifo, standard or None)."""
    million = 1_000_000
    billed_ms = math.ceil(case["handler_ns"] / 1e6)  # Lambda bills each started millisecond
    calls = case.get("aws_calls") or {}
    writes, reads = units(case)["write"], units(case)["read"]
    log_bytes = case["log_bytes"] + _assumed(table, "lambda_platform_log_bytes")
    gb_seconds = billed_ms / 1000 * MEMORY_GB
    xray = _assumed(table, "xray_sampled_share") * _usd(table, "xray_trace_recorded") if traced else 0.0
    lines = {
        "Lambda": million * (_usd(table, "lambda_request") + gb_seconds * _usd(table, "lambda_gb_second_arm64")),
        "DynamoDB": million
        * (writes * _usd(table, "dynamodb_write_request_unit") + reads * _usd(table, "dynamodb_read_request_unit")),
        "logs": million * log_bytes / GIB * _usd(table, "logs_ingested_gb"),
        "X-Ray": million * xray,
    }
    if api is not None:
        lines = {f"API Gateway {api.upper()}": million * _usd(table, f"api_gateway_{api}_request"), **lines}
    if sqs is not None:
        per_message = _assumed(table, "sqs_requests_per_message") + calls.get("sqs.SendMessage", 0.0)
        lines["SQS"] = million * per_message * _usd(table, f"sqs_{sqs}_request")
    return Bill(lines)


def per_100ms(table: dict[str, Any]) -> float:
    """Dollars per million calls for each 100 ms a function waits (for Talon.One's answer)."""
    return 1_000_000 * 0.1 * MEMORY_GB * _usd(table, "lambda_gb_second_arm64")


def rows(
    function: str, api_case: dict[str, Any], sqs_case: dict[str, Any] | None, *, traced: bool = False
) -> list[Row]:
    """The Cost row (and the HTTP API alternative as info) from one function's warm measurements."""
    table = prices()
    rest = bill(api_case, table, api="rest", sqs=None, traced=traced)
    http = bill(api_case, table, api="http", sqs=None, traced=traced)
    queued = bill(sqs_case, table, api=None, sqs="fifo", traced=traced) if sqs_case is not None else None
    measured = (
        f"measured per API request: {api_case['handler_ns'] / 1e6:.2f} ms, "
        f"{units(api_case)['write']:g} DynamoDB write units, "
        f"{api_case['log_bytes']:,.0f} log bytes, {api_case['metric_values']:g} metric values"
    )
    if sqs_case is not None:
        measured += (
            f"; per message: {sqs_case['handler_ns'] / 1e6:.2f} ms, "
            f"{units(sqs_case)['write']:g} write units, {units(sqs_case)['read']:g} read units, "
            f"{sqs_case['log_bytes']:,.0f} log bytes"
        )
    wait = f"+${per_100ms(table):.2f} per million for each 100 ms Talon.One takes to answer (loopback here)"
    source = f"list prices {table['region']} of {table['as_of']} (bench/prices.json)"
    worst = max(rest.total, queued.total if queued is not None else 0.0)
    result = [
        Row(
            "Cost",
            f"{function} as deployed: $ per million API requests (REST API, signed)",
            rest.text(),
            f"{measured}; {source}",
            wait,
            f"≤ ${TARGET_PER_MILLION:.0f} per million all in",
            verdict(worst <= TARGET_PER_MILLION),
        )
    ]
    if queued is not None:
        result.append(
            Row(
                "Cost",
                f"{function} as deployed: $ per million queued messages (FIFO queue, 1 record an invocation)",
                queued.text(),
                f"{measured}; {source}",
                wait,
                f"≤ ${TARGET_PER_MILLION:.0f} per million all in",
                verdict(queued.total <= TARGET_PER_MILLION),
            )
        )
    result.append(
        Row(
            "Cost",
            f"{function}: $ per million API requests if RelayApi were an HTTP API (not deployed: docs/cost.md)",
            http.text(),
            "the same measured units",
            "",
            "(info)",
            "info",
        )
    )
    return result
