"""Answers recorded and replayed at urllib3's door (HTTPConnectionPool.urlopen), for the children that replay:
child_cpu (every host: the relay's own CPU, no socket) and child_warm (DynamoDB's answers: the warm rows' figure
without the DynamoDB round trips, their waits included). The children run as `python -S -c <text>`, so each
loads this file by its path (`load`), never through the bench package.

A request kind is its host, port, method, path and body kind; the body kind tells DynamoDB's requests apart (they
all POST to /): the X-Amz-Target, the body's top-level keys and its expressions and table, which are fixed per
call site, not per call. A kind answered two ways while recording would be replayed wrong: `twice` names them.
"""

from __future__ import annotations

import io
import json
from typing import Any

import urllib3

Key = tuple[str, int | None, str, str, str]

#: the body's fields that are fixed per call site (a DynamoDB request's expressions, its table)
FIXED = ("TableName", "ConditionExpression", "UpdateExpression", "KeyConditionExpression", "ProjectionExpression")


def body_kind(headers: Any, body: Any) -> str:
    """What kind of request this is beyond its path: its X-Amz-Target and the shape of its JSON body."""
    target = next((value for name, value in (headers or {}).items() if name.lower() == "x-amz-target"), "")
    target = target.decode() if isinstance(target, bytes) else str(target)
    if body is None:
        return f"{target}|none"
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        return f"{target}|bytes"
    if not isinstance(document, dict):
        return f"{target}|{type(document).__name__}"
    fixed = {name: document[name] for name in FIXED if isinstance(document.get(name), str)}
    return f"{target}|{','.join(sorted(document))}|{json.dumps(fixed, sort_keys=True)}"


def key_of(pool: Any, method: str, url: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Key:
    """The request kind of one `urlopen(pool, method, url, *args, **kwargs)`."""
    body = kwargs.get("body", args[0] if args else None)
    headers = kwargs.get("headers", args[1] if len(args) > 1 else None)
    return (pool.host, pool.port, method, url.split("?", 1)[0], body_kind(headers, body))


def label(key: Key) -> str:
    """A request kind, short: DynamoDB's operation (`dynamodb.UpdateItem`), else its method and path."""
    target = key[4].split("|", 1)[0]
    return f"dynamodb.{target.partition('.')[2]}" if target.startswith("DynamoDB") else target or f"{key[2]} {key[3]}"


class Recordings:
    """The last answer per request kind, and every status each kind was answered with."""

    def __init__(self) -> None:
        self.answers: dict[Key, tuple[int, dict[str, str], bytes]] = {}
        self.statuses: dict[Key, set[int]] = {}

    def record(self, key: Key, answer: Any) -> None:
        """Keep `answer` (a urllib3 response, its body read) as the kind's."""
        self.answers[key] = (answer.status, dict(answer.headers), answer.data or b"")
        self.statuses.setdefault(key, set()).add(answer.status)

    def twice(self) -> dict[str, list[int]]:
        """The kinds answered with more than one status while recording."""
        return {str(key): sorted(statuses) for key, statuses in self.statuses.items() if len(statuses) > 1}

    def replay(self, key: Key, method: str) -> urllib3.HTTPResponse | None:
        """The kind's recorded answer as a new response (its body preloaded), or None if none was recorded."""
        if key not in self.answers:
            return None
        status, headers, data = self.answers[key]
        return urllib3.HTTPResponse(
            body=io.BytesIO(data), headers=headers, status=status, preload_content=True, request_method=method
        )
