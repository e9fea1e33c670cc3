"""bench/cost.py: the Cost row's dollars per million, from measured units at bench/prices.json's prices."""

from __future__ import annotations

from typing import Any

import pytest

from bench import cost

PRICES: dict[str, Any] = {
    "region": "us-east-1",
    "as_of": "2026-12-05",
    "prices": {
        name: {"usd": usd}
        for name, usd in {
            "lambda_gb_second_arm64": 0.0000133334,
            "lambda_request": 0.0000002,
            "api_gateway_rest_request": 0.0000035,
            "api_gateway_http_request": 0.000001,
            "dynamodb_write_request_unit": 0.000000625,
            "dynamodb_read_request_unit": 0.000000125,
            "sqs_fifo_request": 0.0000005,
            "logs_ingested_gb": 0.5,
            "xray_trace_recorded": 0.000005,
        }.items()
    },
    "assumptions": {
        "lambda_platform_log_bytes": {"value": 450},
        "sqs_requests_per_message": {"value": 3},
        "xray_sampled_share": {"value": 0.05},
    },
}


def measured(ms: float, *, writes: float = 0, reads: float = 0, log_bytes: float = 0) -> dict[str, Any]:
    return {
        "handler_ns": ms * 1e6,
        "aws_calls": {"dynamodb.PutItem": writes, "dynamodb.GetItem": reads},
        "log_bytes": log_bytes,
        "metric_values": 2,
    }


def test_an_api_request_is_priced_line_by_line_from_its_units() -> None:
    # Given a signed API request measured at 4.1 ms (billed 5 ms), one write, 574 log bytes (+450 Lambda's)
    case = measured(4.1, writes=1, log_bytes=574)

    # When a million of them are priced behind a REST API, untraced
    bill = cost.bill(case, PRICES, api="rest", sqs=None, traced=False)

    # Then each line is its units times its list price
    assert bill.lines["API Gateway REST"] == pytest.approx(3.50)
    assert bill.lines["Lambda"] == pytest.approx(0.20 + 1e6 * 0.005 * 0.25 * 0.0000133334)
    assert bill.lines["DynamoDB"] == pytest.approx(0.625)
    assert bill.lines["logs"] == pytest.approx(1e6 * 1024 / 1024**3 * 0.5)
    assert bill.lines["X-Ray"] == 0
    assert bill.total == pytest.approx(sum(bill.lines.values()))


def test_a_queued_message_pays_its_queue_requests_and_no_api() -> None:
    # Given a queued message measured at 12 ms, three writes and one read
    case = measured(12.0, writes=3, reads=1)

    # When a million are priced from a FIFO queue
    bill = cost.bill(case, PRICES, api=None, sqs="fifo", traced=False)

    # Then it pays three SQS requests a message and no API Gateway
    assert bill.lines["SQS"] == pytest.approx(1.50)
    assert not any(line.startswith("API Gateway") for line in bill.lines)
    assert bill.lines["DynamoDB"] == pytest.approx(3 * 0.625 + 0.125)


def test_tracing_costs_only_when_enabled() -> None:
    # Given the same request
    case = measured(1.0)

    # When priced traced and untraced
    traced = cost.bill(case, PRICES, api="http", sqs=None, traced=True)
    untraced = cost.bill(case, PRICES, api="http", sqs=None, traced=False)

    # Then only the traced one pays X-Ray, for the sampled share of its requests
    assert traced.lines["X-Ray"] == pytest.approx(0.05 * 5.0)
    assert untraced.lines["X-Ray"] == 0
    assert traced.lines["API Gateway HTTP"] == pytest.approx(1.00)


def test_dynamodb_is_priced_by_the_units_counted_by_item_size_over_the_calls() -> None:
    # Given a queued message's case whose two writes took 3 write units by item size (an answer over 1 KB)
    case = {
        "aws_calls": {"dynamodb.GetItem": 1.0, "dynamodb.UpdateItem": 2.0},
        "dynamodb_units": {"write": 3.0, "read": 1.0},
    }
    # Then its units are those counted, not one per call; a case without them counts one per call
    assert cost.units(case) == {"write": 3.0, "read": 1.0}
    assert cost.units({"aws_calls": case["aws_calls"]}) == {"write": 2.0, "read": 1.0}
