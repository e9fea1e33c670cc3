"""How long a queued message that failed for a passing reason waits, and how many receives ride out an outage.

A message whose n-th receive failed for a passing reason (Talon.One 5xx, 429, 409, a timeout) is handed
back to its queue hidden for

    delay(n) = min(BASE_SECONDS * 2 ** (n - 1), MAX_SECONDS)        (30 s, 60 s, ... 15 min, 15 min ...)

seconds, or longer when Talon.One said how long with Retry-After (a 429, a 503), up to SQS's limit.
On a FIFO queue a hidden message holds its message group: the customer's later messages wait behind it,
in order, without being received (so their receive counts do not grow meanwhile).

The queue's maxReceiveCount is `receives_for(horizon)`: the smallest count whose delays add up to the
outage horizon, so the last receive happens `horizon` seconds or more after the first failure. With the
defaults a 24-hour outage needs 101 receives (30+60+120+240+480 s, then 95 x 900 s: 24 h 0 min 30 s).
template/render.py writes that arithmetic into template.yaml (the OutageHorizon mapping), and the
function reads the same numbers (QUEUE_RETRY_BASE_SECONDS, QUEUE_RETRY_MAX_SECONDS, MAX_RECEIVE_COUNT).

Pure arithmetic and parsing: no AWS, no logging (the template renderer imports it).
"""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

#: The first retry's delay, doubled at each further receive ...
BASE_SECONDS = 30
#: ... up to this: the longest a message waits once Talon.One is back (and the pace of retries meanwhile).
MAX_SECONDS = 900
#: SQS keeps a message hidden at most 12 hours from the receive; a little is left for the receive itself.
MAX_VISIBILITY_SECONDS = 43200 - 300
#: Outage horizons a deployment may choose (OutageHorizonHours), each with its maxReceiveCount rendered.
HORIZON_HOURS = (1, 6, 12, 24, 48, 72, 96, 168)
#: SQS's bounds of a redrive policy's maxReceiveCount.
MAX_RECEIVE_COUNT_LIMIT = 1000


def delay(receive_count: int, *, base: int = BASE_SECONDS, cap: int = MAX_SECONDS) -> int:
    """Seconds a message waits after its `receive_count`-th receive failed: base x 2^(n-1), at most cap."""
    if receive_count < 1:
        raise ValueError("receive_count starts at 1")
    if base <= 0:
        return 0
    # 2**(n-1) grows without bound; past the cap the exponent no longer matters
    exponent = min(receive_count - 1, 62)
    return int(min(base * (2**exponent), cap))


def covered_seconds(receives: int, *, base: int = BASE_SECONDS, cap: int = MAX_SECONDS) -> int:
    """Seconds from the first failed receive to the last of `receives` receives (the delays between them)."""
    return sum(delay(n, base=base, cap=cap) for n in range(1, receives))


def receives_for(horizon_seconds: float, *, base: int = BASE_SECONDS, cap: int = MAX_SECONDS) -> int:
    """The smallest maxReceiveCount whose delays cover `horizon_seconds` of failures."""
    if horizon_seconds <= 0:
        return 1
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive to cover a horizon")
    receives, covered = 1, 0
    while covered < horizon_seconds:
        covered += delay(receives, base=base, cap=cap)
        receives += 1
    return receives


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Talon.One's Retry-After in seconds (delta-seconds or an HTTP date), None when absent or unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def visibility_for(
    receive_count: int, *, retry_after: str | None = None, base: int = BASE_SECONDS, cap: int = MAX_SECONDS
) -> int:
    """Seconds to hide a message whose `receive_count`-th receive failed: the backoff, or Talon.One's
    Retry-After when that is longer, within what SQS allows."""
    wait = float(delay(max(receive_count, 1), base=base, cap=cap))
    asked = retry_after_seconds(retry_after)
    if asked is not None:
        wait = max(wait, math.ceil(asked))
    return int(min(wait, MAX_VISIBILITY_SECONDS))
