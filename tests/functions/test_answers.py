"""answers.py against DynamoDB (moto): how a large answer is kept, and what a repeat gets when it was not."""

from __future__ import annotations

import json
import random
import string
import time

import boto3

from talon_relay.aws import answers
from talon_relay.aws.store import Store
from talon_relay.container import Container
from tests.functions.conftest import Stack


def test_small_answers_stay_as_they_are_and_large_ones_round_trip(stack: Stack, container: Container) -> None:
    # Given a small, a compressible large and an incompressible large answer
    store = Store(container, stack.table, owner="test-func")
    expires = int(time.time()) + 600
    small = '{"ok":true}'
    repetitive = json.dumps({"note": "x" * 450_000})
    noisy = json.dumps({"note": "".join(random.choices(string.ascii_letters + string.digits, k=450_000))})
    # When each is packed for the idempotency record and read back
    packed = {
        name: answers.pack(text, store=store, scope_key=f"op#{name}", expires=expires)
        for name, text in {"small": small, "repetitive": repetitive, "noisy": noisy}.items()
    }
    # Then the small one is stored as it is, the others compressed (in the record, or in parts)
    assert packed["small"] == small
    assert isinstance(packed["repetitive"], dict) and packed["repetitive"]["answer"] == "zlib"
    assert isinstance(packed["noisy"], dict) and packed["noisy"]["answer"] == "zlib-parts"
    assert all(len(json.dumps(value)) < answers.INLINE_CHARS for value in packed.values())
    # And each reads back byte for byte
    assert answers.unpack(packed["small"], store=store) == small
    assert answers.unpack(packed["repetitive"], store=store) == repetitive
    assert answers.unpack(packed["noisy"], store=store) == noisy


def test_an_answer_whose_parts_cannot_be_written_or_read_is_a_short_message(stack: Stack, container: Container) -> None:
    # Given a large incompressible answer, and a table the parts cannot be written to
    client = boto3.client("dynamodb")
    store = Store(container, stack.table, owner="test-func")
    noisy = json.dumps({"note": "".join(random.choices(string.ascii_letters, k=450_000))})
    # When it is packed
    stored = answers.pack(
        noisy, store=Store(container, "no-such-table", owner="test-func"), scope_key="op#k", expires=0
    )
    # Then the record keeps a marker, and a repeat gets a message saying it was applied once
    assert stored == {"answer": "not-kept", "bytes": len(noisy)}
    message = json.loads(answers.unpack(stored, store=store) or "")
    assert "applied once already" in message["message"]
    # And when parts were written but one is gone (removed early), the same message, never a wrong answer
    packed = answers.pack(noisy, store=store, scope_key="op#gone", expires=0)
    assert isinstance(packed, dict)
    client.delete_item(TableName=stack.table, Key={"id": {"S": f"{packed['ref']}#0"}})
    assert "applied once already" in (answers.unpack(packed, store=store) or "")
