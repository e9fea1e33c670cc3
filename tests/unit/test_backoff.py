"""The retry arithmetic of queued messages: delays, the receives that cover an outage, Retry-After."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from talon_relay.core import retry_delays as backoff


def test_delays_double_from_30_seconds_up_to_15_minutes() -> None:
    # Given the default base and cap, then the n-th failed receive waits 30 s x 2^(n-1), at most 900 s
    assert [backoff.delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 900, 900, 900]
    # And a huge receive count does not overflow the arithmetic
    assert backoff.delay(10_000) == 900


def test_a_24_hour_horizon_needs_101_receives() -> None:
    # Given the default 24-hour horizon
    receives = backoff.receives_for(24 * 3600)
    # Then 101 receives: 30+60+120+240+480 s, then 95 x 900 s, reach 24 h; 100 do not
    assert receives == 101
    assert backoff.covered_seconds(101) == 930 + 95 * 900 == 86430
    assert backoff.covered_seconds(100) < 24 * 3600


@pytest.mark.parametrize("hours", backoff.HORIZON_HOURS)
def test_every_offered_horizon_is_covered_within_sqs_limits(hours: int) -> None:
    # Given a horizon a deployment may choose
    receives = backoff.receives_for(hours * 3600)
    # Then its receive count is the smallest that covers it, and SQS accepts it as maxReceiveCount
    assert backoff.covered_seconds(receives) >= hours * 3600 > backoff.covered_seconds(receives - 1)
    assert 1 <= receives <= backoff.MAX_RECEIVE_COUNT_LIMIT


def test_other_bases_and_caps_follow_the_same_rule() -> None:
    # Given the local stack's small delays (1 s doubling to 4 s), then 30 s take 1+2+4+4+4+4+4+4+4 s: 10 receives
    assert [backoff.delay(n, base=1, cap=4) for n in range(1, 6)] == [1, 2, 4, 4, 4]
    assert backoff.receives_for(30, base=1, cap=4) == 10
    assert backoff.covered_seconds(10, base=1, cap=4) == 31
    # And a base of 0 means no delay at all (the message comes back after the queue's visibility timeout)
    assert backoff.delay(3, base=0) == 0
    with pytest.raises(ValueError):
        backoff.receives_for(60, base=0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), (None, None), ("soon", None), ("-5", None), ("1.5", None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert backoff.retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    # Given a Retry-After date 90 s from now, then it means about 90 s; a date in the past means 0
    now = time.time()
    assert backoff.retry_after_seconds(formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90, abs=1)
    assert backoff.retry_after_seconds(formatdate(now - 90, usegmt=True), now=now) == 0.0


def test_visibility_is_the_backoff_or_talon_ones_retry_after_whichever_is_longer() -> None:
    # Given the third failed receive (backoff 120 s)
    assert backoff.visibility_for(3) == 120
    # When Talon.One asked for less, the backoff wins; when it asked for more, Talon.One does
    assert backoff.visibility_for(3, retry_after="10") == 120
    assert backoff.visibility_for(3, retry_after="600") == 600
    # And nothing is hidden longer than SQS allows (12 h from the receive)
    assert backoff.visibility_for(3, retry_after=str(7 * 86400)) == backoff.MAX_VISIBILITY_SECONDS < 43200
