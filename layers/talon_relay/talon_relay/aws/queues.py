"""Every SQS call the functions make themselves: queueing, dead-lettering with a reason, draining.

boto3 is imported on the first call only; AWS_ENDPOINT_URL (local runs, tests) is honoured by boto3.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talon_relay.errors import PayloadTooLarge, QueueUnavailable, SettingsError
from talon_relay.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from talon_relay.container import Container

#: What SQS takes in one message (body and attributes), and what the relay queues itself: room is
#: left for the attributes a dead letter gets (failureReason and the others).
SQS_MAX_MESSAGE_BYTES = 1_048_576
MAX_QUEUED_MESSAGE_BYTES = SQS_MAX_MESSAGE_BYTES - 8_192


def sqs(container: Container) -> SQSClient:
    """The container's SQS client."""
    client: SQSClient = container.aws("sqs")
    return client


def dead_letter(
    container: Container,
    queue_url: str | None,
    *,
    body: str,
    reason: str,
    operation: str,
    message_id: str,
    status: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> None:
    """Put a message that can never succeed on the DLQ, with why, so it is not retried forever.

    Raises when there is no DLQ configured or the send fails: the caller then keeps the message on
    its queue (it reaches the DLQ by redrive), so nothing is lost either way.
    """
    logger.error(
        "dead-lettering message",
        extra={
            "message_id": message_id,
            "operation": operation,
            "reason": reason,
            "status": status,
        },
    )
    if not queue_url:
        raise SettingsError("DEAD_LETTER_QUEUE_URL is not set; message left for redrive")
    message_attributes: dict[str, Any] = {
        "failureReason": {"DataType": "String", "StringValue": sqs_text(reason)[:4000]},
        "operation": {"DataType": "String", "StringValue": operation},
        "sourceMessageId": {"DataType": "String", "StringValue": message_id},
    }
    if status is not None:
        message_attributes["talonStatus"] = {"DataType": "Number", "StringValue": str(status)}
    message_attributes.update(extra_attributes or {})  # e.g. its place in its customer's order (ordering.py)
    fitted = _fitting(body, message_attributes)
    params: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": body,
        "MessageAttributes": fitted,
    }
    if queue_url.endswith(".fifo"):
        group = (attributes or {}).get("MessageGroupId") or message_id
        params["MessageGroupId"] = group
        params["MessageDeduplicationId"] = message_id
    sent = sqs(container).send_message(**params)
    if fitted != message_attributes:  # the log line above keeps the whole reason, beside the dead letter
        logger.warning(
            "dead letter too large for its reason: attributes shortened to fit SQS; the reason is logged above",
            extra={"message_id": message_id, "dead_letter_id": sent.get("MessageId"), "kept": sorted(fitted)},
        )


_TRUNCATED = " [truncated]"
#: The attributes a dead letter drops first when it and its body are over SQS's limit (relayOrder last:
#: a redriven update needs its place, ordering.py).
_LEAST_NEEDED = ("talonStatus", "operation", "failureReason", "sourceMessageId", "relayOrder")


def _attribute_bytes(attributes: Mapping[str, Any]) -> int:
    """What SQS counts of message attributes against its 1 MiB: each one's name, data type and value."""
    return sum(len(f"{name}{a['DataType']}{a['StringValue']}".encode()) for name, a in attributes.items())


def _fitting(body: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The dead letter's attributes that fit beside `body` in one SQS message: the reason shortened first,
    then the least needed dropped, so the message still leaves its queue (and its FIFO group) at once."""
    room = SQS_MAX_MESSAGE_BYTES - len(body.encode("utf-8"))
    fitted = dict(attributes)
    excess = _attribute_bytes(fitted) - room
    reason = fitted.get("failureReason", {}).get("StringValue", "")
    if excess > 0 and reason:
        keep = len(reason.encode()) - excess - len(_TRUNCATED)
        shortened = reason.encode()[: max(keep, 0)].decode("utf-8", "ignore")
        fitted["failureReason"] = {"DataType": "String", "StringValue": shortened + _TRUNCATED}
    for name in _LEAST_NEEDED:
        if _attribute_bytes(fitted) <= room:
            break
        fitted.pop(name, None)
    return fitted


#: What SQS takes as a MessageGroupId (or MessageDeduplicationId): 1 to 128 of these characters.
_SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
#: SQS takes only the XML 1.0 characters in a message body or attribute value (#x9, #xA, #xD,
#: #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF); these are the others. Written as the few refused
#: ranges: the same set as the allowed ones negated, which takes 4 ms of a cold start to compile.
_NOT_SQS_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def message_group_id(value: str | None) -> str:
    """The FIFO MessageGroupId of a customer key: the key itself when SQS takes it as it is, else a
    stable hash of it (`sha256:<hex>`), so a long or non-ASCII id keeps its customer's order."""
    if not value:
        return "default"
    if _SQS_ID.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "backslashreplace")).hexdigest()


def sqs_text(text: str) -> str:
    """`text` with every character SQS refuses in a string attribute written as an escape."""
    return _NOT_SQS_TEXT.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def check_size(message: str, *, advice: str | None = None) -> None:
    """PayloadTooLarge (413) when `message` is more than the relay queues: checked before anything else is
    done with what it carries (a webhook's records), and again by `enqueue`."""
    size = len(message.encode("utf-8"))
    if size > MAX_QUEUED_MESSAGE_BYTES:
        raise PayloadTooLarge.single(
            "Payload too large",
            f"the request is {size:,} bytes as a queued message; SQS takes at most {MAX_QUEUED_MESSAGE_BYTES:,}"
            + (f" ({advice})" if advice else ""),
            pointer="",
        )


def enqueue(
    container: Container,
    queue_url: str,
    message: str,
    *,
    group_id: str | None,
    deduplication_key: str,
    attributes: Mapping[str, Any] | None = None,
    advice: str | None = None,
) -> str:
    """Put a validated request on a function's queue (storage-first); returns the SQS message id.

    On a FIFO queue the message joins its customer's group (per-customer order) and is deduplicated
    on `deduplication_key`, so a sender's retry within five minutes is not queued twice. A message
    SQS cannot take is a PayloadTooLarge (413), never a "try again later": retrying cannot help
    (`advice`: what the sender can do instead, in parentheses after the reason).
    """
    check_size(message, advice=advice)
    params: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": message,
    }
    if attributes:  # its application, sealed (core/applications.py)
        params["MessageAttributes"] = dict(attributes)
    if queue_url.endswith(".fifo"):
        params["MessageGroupId"] = message_group_id(group_id)
        params["MessageDeduplicationId"] = hashlib.sha256(deduplication_key.encode()).hexdigest()
    try:
        return str(sqs(container).send_message(**params)["MessageId"])
    except Exception as exc:  # botocore's errors; nothing was queued
        if "shorter than" in str(exc):  # SQS's own limit (a queue's MaximumMessageSize may be lower)
            raise PayloadTooLarge.single("Payload too large", f"SQS refused the message: {exc}", pointer="") from None
        raise QueueUnavailable(f"could not queue the request: {type(exc).__name__}") from exc


def receive(container: Container, queue_url: str, *, hide_seconds: int | None = None) -> list[MessageTypeDef]:
    """Up to ten messages of a queue the function drains itself (the erasure schedule), with their
    message attributes (a sealed application, core/applications.py), hidden for `hide_seconds`
    (None: the queue's visibility timeout)."""
    params: dict[str, Any] = {"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}
    if hide_seconds is not None:
        params["VisibilityTimeout"] = hide_seconds
    response = sqs(container).receive_message(AttributeNames=["All"], MessageAttributeNames=["All"], **params)
    return list(response.get("Messages", []))


def delete(container: Container, queue_url: str, receipt_handle: str) -> None:
    sqs(container).delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


def change_visibility(container: Container, queue_url: str, receipt_handle: str, seconds: int) -> bool:
    """Hide a received message for `seconds` from now (a retry later, backoff.py); False when SQS refused
    (the message then comes back after the queue's visibility timeout: later than planned, never lost)."""
    try:
        sqs(container).change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
    except Exception as exc:  # botocore's errors, e.g. a receipt handle that expired
        logger.warning("could not delay the message's next receive", extra={"reason": type(exc).__name__})
        return False
    return True
