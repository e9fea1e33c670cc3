"""The read cache: a read's answer kept a few seconds in the container, for the operations that opt in.

Where Talon.One's data may be seconds old without harm (loyalty balances and points, achievements), the
table entry names a TTL (`Delivery.cache_seconds`); a write never has one (`Operation.cache_seconds` is 0
unless the method is GET). An answer is kept per application, per caller and per request path and query
(the path names the customer, the program, the card), so one caller never gets another's, nor another
customer's, answer; and never past its TTL on the container's clock. A kept answer goes back with `Age`
(whole seconds, RFC 9111) and `X-Relay-Cache: hit`; a fresh one with `X-Relay-Cache: miss`. A hit calls
Talon.One for nothing, so it counts no call, logs no effect again and counts `ReadCacheHits`.

Only 2xx answers with a body are kept; errors never are. The cache lives on the `Container` (one
reset forgets it) and is bounded, in answers and in characters (a function has 256 MB, and an answer may
be 6 MB): the oldest answers go first, and one of more than MAX_ANSWER_CHARS is not kept at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from talon_relay import telemetry

if TYPE_CHECKING:
    from talon_relay.container import Container
    from talon_relay.core.request import Request

#: Answers kept at most per container (the oldest are dropped first).
MAX_ENTRIES = 1000
#: Characters of kept answers at most per container, all together, and of any one answer kept.
MAX_CHARS = 16 * 1024 * 1024
MAX_ANSWER_CHARS = 1024 * 1024
#: The relay's header saying where the answer came from: `hit` (the cache) or `miss` (Talon.One).
CACHE_HEADER = "X-Relay-Cache"


class Hit(NamedTuple):
    """A kept answer and its age in seconds."""

    text: str
    age: float


def caller_of(identity: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """Who is asking, as far as the cache tells callers apart: API Gateway's key id on the key route, a
    digest of the caller key (`Authorization`, never kept as such), else the signed route's application."""
    key_id = identity.get("apiKeyId")
    if key_id:
        return f"api-key:{key_id}"
    authorization = headers.get("authorization")
    if authorization is not None and headers.get("x-relay-signature") is None:
        return "caller-key:" + hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).hexdigest()
    return "signed"


def _key(request: Request, caller: str) -> tuple[str, ...]:
    return (request.application, caller, request.operation.name, request.path)


def lookup(container: Container, request: Request, caller: str) -> Hit | None:
    """The kept answer of this request for this caller, when younger than the operation's TTL (counted)."""
    ttl = request.operation.cache_seconds
    if not ttl:
        return None
    key = _key(request, caller)
    kept = container.read_cache.get(key)
    if kept is None:
        return None
    age = container.clock() - kept[0]
    if not 0 <= age < ttl:
        _drop(container, key)
        return None
    container.counts.of(request.application).add(telemetry.READ_CACHE_HITS)
    return Hit(kept[1], age)


def keep(container: Container, request: Request, caller: str, text: str | None) -> None:
    """Keep a successful answer of an operation that opts in (nothing else is kept)."""
    if not request.operation.cache_seconds or not text or len(text) > MAX_ANSWER_CHARS:
        return
    cache = container.read_cache
    key = _key(request, caller)
    _drop(container, key)  # re-inserted: the newest last
    while cache and (len(cache) >= MAX_ENTRIES or container.read_cache_chars + len(text) > MAX_CHARS):
        _drop(container, next(iter(cache)))
    cache[key] = (container.clock(), text)
    container.read_cache_chars += len(text)


def _drop(container: Container, key: tuple[str, ...]) -> None:
    """Forget one kept answer, and its characters."""
    kept = container.read_cache.pop(key, None)
    if kept is not None:
        container.read_cache_chars -= len(kept[1])


def headers(hit: Hit | None) -> dict[str, str]:
    """The answer's headers saying where it came from."""
    if hit is None:
        return {CACHE_HEADER: "miss"}
    return {CACHE_HEADER: "hit", "Age": str(int(hit.age))}
