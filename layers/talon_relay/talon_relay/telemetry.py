"""What an invocation did, counted, as ONE EMF document: the effects Talon.One returned (one metric
per effect name), its calls to Talon.One and what became of its messages.

Counted on the container's `counts` during an invocation (a batch's threads included), flushed once at
its end by the handler entry point: metrics of the namespace MetricsNamespace with the dimensions `operation` and
`service`, so that one CloudWatch alarm can divide errors by calls and the dashboard can show effects
and calls per function. One line per invocation, not one per call or per effect. An invocation that
Lambda stops (timeout, memory) writes none: its effect lines are in its logs, its counts are lost.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from talon_relay.observability import NAMESPACE, SERVICE

#: Talon.One calls made (each with its in-process retries).
CALLS = "TalonOneCalls"
#: Calls that failed for Talon.One's reasons: 5xx, 429, 409, timeouts, unreachable, the relay's
#: credentials refused. A 4xx about the request itself (400, 404) is the request's fault, not counted.
ERRORS = "TalonOneErrors"
#: In-process retries: attempts beyond the first (urllib3's Retry, and one fresh secret read after a 401).
RETRIES = "TalonOneRetries"
#: 429 answers received, retried or not: Talon.One asking the relay to slow down.
THROTTLED = "TalonOneThrottled"
#: Queued messages handed back to their queue to come back after a delay (backoff.py).
RETRY_LATER = "MessagesRetryLater"
#: Queued updates not applied because a newer one for the same customer already was (ordering.py).
SUPERSEDED = "MessagesSuperseded"
#: Messages the relay put on a dead-letter queue (poison, or an outage longer than the horizon).
DEAD_LETTERED = "MessagesDeadLettered"
#: Customers' data erased by a scheduled run (404s included: already gone).
ERASED = "ErasuresDone"
#: Reads answered from the container's read cache (core/read_cache.py): no Talon.One call, nothing logged again.
READ_CACHE_HITS = "ReadCacheHits"

#: Seconds the oldest message received in the invocation had waited since it was first sent: one
#: application's queue age, where several share one queue (recorded only in such a deployment).
QUEUE_AGE = "QueueAgeSeconds"

NAMES = (CALLS, ERRORS, RETRIES, THROTTLED, RETRY_LATER, SUPERSEDED, DEAD_LETTERED, ERASED, READ_CACHE_HITS, QUEUE_AGE)
#: Metrics that keep their largest value in an invocation, not a sum, and their unit.
MAXIMA = {QUEUE_AGE: "Seconds"}


#: The application of a deployment of one (config/applications.py's DEFAULT).
DEFAULT_APPLICATION = "default"


class _Values:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_application: dict[str, dict[str, int]] = {}


class Counts:
    """Thread-safe counters of one invocation (a container's `counts`: one invocation at a time), per
    Talon.One application: `of(application)` counts into the same invocation for that application."""

    def __init__(self, application: str = DEFAULT_APPLICATION, values: _Values | None = None) -> None:
        self.application = application
        self._values = values or _Values()

    def of(self, application: str) -> Counts:
        """These counters, counting for `application`."""
        return self if application == self.application else Counts(application, self._values)

    def add(self, name: str, value: int = 1) -> None:
        if value:
            with self._values.lock:
                own = self._values.by_application.setdefault(self.application, {})
                own[name] = own.get(name, 0) + value

    def maximum(self, name: str, value: int) -> None:
        """Keep `value` for `name` when it is the largest so far (a metric of MAXIMA)."""
        with self._values.lock:
            own = self._values.by_application.setdefault(self.application, {})
            own[name] = max(own.get(name, 0), value)

    def add_all(self, counts: Mapping[str, int]) -> None:
        with self._values.lock:  # one lock for them all
            own = self._values.by_application.setdefault(self.application, {})
            for name, value in counts.items():
                if value:
                    own[name] = own.get(name, 0) + value

    def take_by_application(self) -> dict[str, dict[str, int]]:
        """The counters so far per application, sorted by name; counting starts again from nothing."""
        with self._values.lock:
            values, self._values.by_application = self._values.by_application, {}
        if not values:  # nothing counted (an invocation starting: entry.py takes what an earlier one left)
            return {}
        return {app: dict(sorted(named.items())) for app, named in sorted(values.items()) if named}

    def take(self) -> dict[str, int]:
        """The counters so far (every application together), sorted by name; counting starts again."""
        return _totals(self.take_by_application())


def _totals(by_application: dict[str, dict[str, int]]) -> dict[str, int]:
    """Every application's counters together, sorted by name (one application's: its own, sorted already)."""
    if len(by_application) <= 1:
        return next(iter(by_application.values()), {})
    totals: dict[str, int] = {}
    for named in by_application.values():
        for name, value in named.items():
            totals[name] = max(totals.get(name, 0), value) if name in MAXIMA else totals.get(name, 0) + value
    return dict(sorted(totals.items()))


def metrics_enabled() -> bool:
    """Whether EMF documents are written (POWERTOOLS_METRICS_DISABLED, read as Powertools reads it): the
    entry point asks once per container (`Container.once`), not once per invocation."""
    return not is_metrics_disabled()


def flush(counts: Counts, operation: str, *, enabled: bool | None = None) -> dict[str, int]:
    """Emit an invocation's counters as EMF (unless metrics are disabled: `enabled`, else read now);
    returns their totals.

    Counted for the default application alone (every deployment of one application): one document,
    as always. Once another application is counted: the totals by operation (what the alarms divide),
    and one document per application with the dimension `application` too.
    """
    by_application = counts.take_by_application()
    totals = _totals(by_application)
    if enabled is None:
        enabled = metrics_enabled()
    if not enabled:
        return totals
    emit_counts(totals, operation=operation, enabled=True)
    if set(by_application) - {DEFAULT_APPLICATION}:
        for application, named in by_application.items():
            emit_counts(named, operation=operation, application=application, enabled=True)
    return totals


#: CloudWatch's limits for one EMF document: metric name length, metrics per document.
MAX_METRIC_NAME = 255
MAX_METRICS = 100
_RESERVED = frozenset({"_aws", "operation", "service", "application"})
#: a string as json writes it (ensure_ascii, json's default): the C function json's encoder calls for one
_quoted = encode_basestring_ascii
#: the document's fixed text around its timestamp, without and with an application (`emit_counts`)
_NAMESPACED = ',"CloudWatchMetrics":[{"Namespace":' + _quoted(NAMESPACE) + ',"Dimensions":'
_DIMENSIONS = {
    False: _NAMESPACED + '[["operation","service"]],"Metrics":[',
    # an application's metrics also without the operation: one alarm per application covers every function
    True: _NAMESPACED + '[["application","operation","service"],["application","service"]],"Metrics":[',
}
_SERVICE = ',"service":' + _quoted(SERVICE)


def emit_counts(
    counts: Mapping[str, int], *, operation: str, application: str | None = None, enabled: bool | None = None
) -> None:
    """One EMF document with one Count metric per name, dimensioned by operation and service.

    The document Powertools' metrics write (same namespace, dimension set, value lists, one JSON line
    on stdout), built here: creating and validating an EphemeralMetrics for it costs about 40 us on
    python3.13, a tenth of the warm budget, and a name over CloudWatch's 255 characters would make
    Powertools raise after Talon.One applied the call (such a name is skipped here). Honours
    POWERTOOLS_METRICS_DISABLED, as Powertools does (`enabled`: already read).
    """
    if not counts or not (metrics_enabled() if enabled is None else enabled):
        return
    names = [name for name in counts if 0 < len(name) <= MAX_METRIC_NAME and name not in _RESERVED]
    # the document as text, key by key as json writes the dict {"_aws": {"Timestamp", "CloudWatchMetrics"},
    # "operation", "service", ("application"), each name: [value]}, not a dict built and encoded
    # (tests/unit/test_effects.py compares the two)
    dimensions = _DIMENSIONS[application is not None]
    labels = f']}}]}},"operation":{_quoted(operation)}{_SERVICE}'
    if application is not None:
        labels += f',"application":{_quoted(application)}'
    timestamp = int(time.time() * 1000)
    for start in range(0, len(names), MAX_METRICS):
        chunk = names[start : start + MAX_METRICS]
        metrics = ",".join(f'{{"Name":{_quoted(name)},"Unit":{_quoted(MAXIMA.get(name, "Count"))}}}' for name in chunk)
        values = "".join(f",{_quoted(name)}:[{float(counts[name])!r}]" for name in chunk)
        # one write (print makes two)
        sys.stdout.write(f'{{"_aws":{{"Timestamp":{timestamp}{dimensions}{metrics}{labels}{values}}}\n')
