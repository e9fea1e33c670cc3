"""Idempotent answers of any size: what a repeat of a keyed request gets back.

A DynamoDB item holds at most 400 KB, and Talon.One's answer (an IntegrationState carrying a
customer's attributes) can be larger. The idempotency record keeps a short answer as it is; a longer
one compressed (zlib, base64) in the record when that is shorter (a write unit is charged per started KB
of the item); else compressed and split into parts, each an item of
the same table (id `<function>.answer#<hash>#<n>`, the same TTL; `aws.store`), that the record names.
So a repeat never calls Talon.One again and gets the first answer byte for byte. Only when the parts
cannot be written does the record keep a marker, and a repeat gets `{"message": ...}` (docs/api.md,
"Guarantees and security").
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import TYPE_CHECKING, Any

from talon_relay.observability import logger

if TYPE_CHECKING:
    from talon_relay.aws.store import Store

#: Characters of the stored result's JSON text kept in the record itself (the item also holds its
#: id, status, expiry and payload hash; DynamoDB's limit is 400 KB).
INLINE_CHARS = 300_000
#: Bytes of compressed answer per part item.
PART_BYTES = 350_000
#: Characters of an answer kept as it is: a longer one is kept compressed when that is shorter. DynamoDB
#: charges a write unit per started KB of the item; an IntegrationState with one effect (about 1 KB)
#: compresses to about 0.5 KB, so its record costs one unit to complete, not two.
PLAIN_CHARS = 512

Stored = str | dict[str, Any] | None


def _fits(result: str) -> bool:
    # json.dumps escapes non-ASCII as \uXXXX (6 characters): measure only when that could matter
    return len(result) * 6 + 2 <= INLINE_CHARS or len(json.dumps(result)) <= INLINE_CHARS


def not_kept(size: int) -> str:
    """What a repeat gets when the first answer could not be kept: the request was applied once."""
    return json.dumps(
        {
            "message": f"This request was applied once already; its answer ({size:,} bytes) could not be kept, "
            "so a repeat cannot return it"
        },
        separators=(",", ":"),
    )


def pack(result: str | None, *, store: Store, scope_key: str, expires: int) -> Stored:
    """What the idempotency record stores for `result` (writing part items when it must)."""
    if result is None or len(result) <= PLAIN_CHARS:
        return result
    raw = result.encode("utf-8")
    compressed = zlib.compress(raw, 6)
    text = base64.b64encode(compressed).decode("ascii")
    if _fits(result) and len(text) + 30 >= len(raw):
        return result  # incompressible, and it fits: as it is
    if len(text) + 100 <= INLINE_CHARS:
        return {"answer": "zlib", "data": text}
    ref = store.answer_ref(scope_key)
    parts = [compressed[start : start + PART_BYTES] for start in range(0, len(compressed), PART_BYTES)]
    try:
        for index, part in enumerate(parts):
            store.put_part(ref, index, part, expires=expires)
    except Exception as exc:  # botocore's errors: the record keeps a marker rather than nothing
        logger.warning(
            "could not keep a large answer; a repeat gets a short answer", extra={"reason": type(exc).__name__}
        )
        return {"answer": "not-kept", "bytes": len(raw)}
    return {
        "answer": "zlib-parts",
        "ref": ref,
        "parts": len(parts),
        "bytes": len(raw),
        "sha256": hashlib.sha256(compressed).hexdigest(),
    }


def unpack(stored: Any, *, store: Store) -> str | None:
    """The answer a record stores, as Talon.One sent it (or `not_kept` when it was not kept)."""
    if stored is None or isinstance(stored, str):
        return stored
    kind = stored.get("answer") if isinstance(stored, dict) else None
    if kind == "zlib":
        return zlib.decompress(base64.b64decode(stored["data"])).decode("utf-8")
    size = int(stored.get("bytes") or 0) if isinstance(stored, dict) else 0
    if kind == "zlib-parts":
        chunks: list[bytes] = []
        for index in range(int(stored["parts"])):
            part = store.get_part(stored["ref"], index)
            if part is None:
                break
            chunks.append(part)
        compressed = b"".join(chunks)
        if len(chunks) == int(stored["parts"]) and hashlib.sha256(compressed).hexdigest() == stored["sha256"]:
            return zlib.decompress(compressed).decode("utf-8")
        logger.warning("a large answer's parts are gone; a repeat gets a short answer")
    return not_kept(size)
