"""One queued webhook: its topic's mapping, then the mapped operations in order, each exactly once.

Called by the SQS adapter for a webhook receiver's records (the batch, its FIFO groups and the
dispositions are the adapter's). Every request is made and checked before the first is sent: a
webhook that does not map is dead-lettered whole, with the reason. Then step N runs with the
idempotency key `<webhook id>#<N>`, so a platform's retry of the same webhook, or SQS delivering the
message again after step 1 went through and step 2 failed, replays what was done and sends only
what was not: nothing reaches Talon.One twice. A step with its own `key` (a refund's id) uses
`<key>#<N>` instead, so a replay under any webhook id is the same step.

A mapping that reads the relay's record of an order (a refund's, an edit's) gets it from the table
before anything is mapped; one that keeps it (a paid order's) writes it once every step went through;
one that forgets records (customers/redact, shop/redact) deletes them last (webhooks/forgetting.py).

A step whose operation the table marks `webhook_steps_queued` is not run now: it is queued, in the
message format of docs/api.md ("Queue message formats"), on that operation's own queue, whose consumer
applies it with the API's queued requests: a product's syncCatalog is coalesced with the catalog's other
syncs, a deleteCustomerData waits for the off-peak erasure schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from talon_relay.aws import order_records, queues
from talon_relay.aws.idempotency import run_once
from talon_relay.aws.store import Store, store
from talon_relay.callers import applications
from talon_relay.config.applications import DEFAULT
from talon_relay.core import lifecycle, messages, service
from talon_relay.core.request import Request
from talon_relay.errors import InvalidRequest, KeyReused, RelayError, SettingsError
from talon_relay.observability import logger
from talon_relay.operations import Operation
from talon_relay.webhooks import forgetting, mappings, metrics, session_order
from talon_relay.webhooks.envelope import QueuedWebhook
from talon_relay.webhooks.errors import StepFailed
from talon_relay.webhooks.mapping_model import TopicMapping

if TYPE_CHECKING:
    from talon_relay.container import Container


#: The order record's list of the edits applied to it (their webhooks' keys), and how many it keeps.
APPLIED = "applied"
KEPT_EDITS = 50


def step_key(webhook_id: str, step: int | str) -> str:
    """The idempotency key of a webhook's step: stable across the platform's retries."""
    return f"{webhook_id}#{step}"


def _queue_step(container: Container, request: Request, key: str, context: Any) -> str | None:
    """A step whose operation the table queues (`webhook_steps_queued`) put once on that operation's queue,
    for its application (sealed), with the step's key as its idempotency key: its consumer applies it as
    it applies the API's queued requests (syncs coalesced, erasures on the off-peak schedule)."""
    name = request.operation.name
    queue_url = container.settings().step_queue_url(name)
    if not queue_url:
        raise SettingsError(f"STEP_QUEUE_URLS must name the queue of {name}: a mapped {name} goes on it")
    app = request.application

    def send() -> str:
        body = messages.encode(request, key)
        return queues.enqueue(
            container,
            queue_url,
            body,
            group_id=request.group_id if app == DEFAULT or not request.group_id else f"{app}/{request.group_id}",
            deduplication_key=f"{name}#{key}" + ("" if app == DEFAULT else f"#{app}"),
            attributes=applications.sealed(container, app, body),
        )

    scope = f"{Store.idempotency_scope(name, app)}.queued"
    return run_once(container, key, scope=scope, payload=request.payload, call=send, context=context)


def _execute(container: Container, request: Request, message: QueuedWebhook, key: str, context: Any) -> object:
    return service.execute(container, request, context=context, correlation_id=message.webhook_id, idempotency_key=key)


def process(
    container: Container,
    operation: Operation,
    body: str,
    *,
    context: Any,
    routed: Callable[[str], None] | None = None,
    record: Mapping[str, Any] | None = None,
) -> int:
    """Map and apply one queued webhook; returns how many operations it became. `routed` hears each
    application it reaches, once known and before any is called (the adapter measures its queue age).
    `record`: its SQS record, whose place its session steps keep (session_order.py).

    Raises a RelayError whose `dead_letter` says what the adapter does with the message.
    """
    message = QueuedWebhook.decode(body)
    platform = operation.webhook or ""
    logged: dict[str, Any] = {
        "topic": message.topic,
        "webhook_id": message.webhook_id,
        "shop_domain": message.shop_domain,
    }
    if message.platform != platform:
        raise InvalidRequest.single(
            "Invalid message", f"a {message.platform} webhook on the {platform} receiver's queue", pointer="/platform"
        )
    if platform == "talon_one":  # Talon.One's notifications: published on the bus, then written back
        from talon_relay.webhooks.talon_one import notifications

        return notifications.process(container, operation, message, context=context)
    mapping = mappings.for_topic(container, platform, message.topic)
    if mapping is None:  # its mapping was removed since it was queued
        logger.info("webhook topic has no mapping; nothing sent", extra=logged)
        metrics.count(metrics.UNMAPPED, operation=operation.name, topic=message.topic)
        return 0
    payload = message.payload()
    forgetting.check_shop(mapping, payload, message.shop_domain)  # checked before anything is done
    forgotten = forgetting.order_ids(mapping, payload)  # (ids that are not ids: a dead letter, nothing done)
    if message.continuation is not None:  # its webhook's steps ran: it forgets what that one could not
        count = forgetting.forget(container, mapping, message, forgotten, record)
        logger.info("webhook continued: records forgotten", extra={**logged, "forgotten": count})
        return 0
    order = _recall(container, mapping, payload, message.shop_domain)
    if order is not None and message.dedup_key in (order.get(APPLIED) or []):
        return _repeated(operation, message, logged)
    planned = _for_applications(container, mappings.plan(mapping, payload, order), message.shop_domain, payload, order)
    steps = session_order.Steps.of(container, operation, mapping, record)
    if routed is not None:
        for application in sorted({request.application for _, request in planned}):
            routed(application)
    for step, request in planned:
        # (X-Shopify-Event-Id, topic) when the platform sends it: a replay under a new webhook id is the same
        key = step if "#" in step else step_key(message.dedup_key, step)  # a step's own key, else the webhook's
        logged["application"] = request.application
        try:
            if request.operation.webhook_steps_queued:
                _queue_step(container, request, key, context)
                target = request.operation.name
                logger.info("queued on its operation's queue", extra={**logged, "step": step, "target": target})
                continue
            call = partial(_execute, container, request, message, key, context)
            if not steps.applied(step, request, partial(lifecycle.applied, container, request, call)):
                # a late cart update of a session the order moved on past, or one older than an update applied
                # while the webhook was away (a redrive): acknowledged, the next step runs
                logger.info("step superseded", extra={**logged, "step": step, "target": request.operation.name})
        except KeyReused as exc:
            if order is None:
                raise StepFailed(step, request.operation.name, exc) from exc
            # A repeat of a refund or an edit applied before: its steps were planned on the order's record as
            # that first delivery left it (an edit rewrites it), so a step differs from what its key ran. The
            # key is the same merchant action's: it was applied once, whole (the record changes only then).
            return _repeated(operation, message, {**logged, "step": step})
        except RelayError as exc:
            raise StepFailed(step, request.operation.name, exc) from exc
    _remember(container, mapping, payload, order, message.shop_domain, planned, message.dedup_key)
    if mapping.order is not None and mapping.order.forgets:  # the relay's own records of the orders, last
        logged["forgotten"] = forgetting.forget(container, mapping, message, forgotten, record)
    logged["applications"] = sorted({request.application for _, request in planned})
    logged.pop("application", None)
    logger.info("webhook applied", extra={**logged, "steps": len(planned)})
    metrics.count(metrics.APPLIED, operation=operation.name, topic=message.topic)
    return len(planned)


def _repeated(operation: Operation, message: QueuedWebhook, logged: dict[str, Any]) -> int:
    """A repeat of a webhook applied before (an edit the order's record names, or a step whose key ran
    another request): acknowledged, nothing sent, the record left as it is."""
    logger.info("repeat of an applied webhook; nothing sent", extra=logged)
    metrics.count(metrics.REPEATED, operation=operation.name, topic=message.topic)
    return 0


def _recall(container: Container, mapping: TopicMapping, payload: Any, shop: str | None) -> dict[str, Any] | None:
    """The record of the order the mapping reads (a refund's, an edit's), if the relay kept one."""
    order_id = mappings.recalled_order(mapping, payload)
    table = store(container)
    if order_id is None or table is None:
        return None
    return order_records.get(table, order_records.order_id(table.owner, shop, order_id), now=time.time())


def _remember(
    container: Container,
    mapping: TopicMapping,
    payload: Any,
    order: dict[str, Any] | None,
    shop: str | None,
    planned: list[tuple[str, Request]],
    key: str,
) -> None:
    """The order's record written once its steps went through (one write; a replay writes it again). A
    record an edit rewrites names the last edits applied to it (`key`: the webhook's), so a repeat of one
    is known before anything is sent (a reopen sent again would leave the order open)."""
    record = mappings.remembered(mapping, payload, order)
    table = store(container)
    if record is None or table is None:
        return
    if order is not None:
        record[APPLIED] = [*(order.get(APPLIED) or [])[-(KEPT_EDITS - 1) :], key]
    apps = {request.application for _, request in planned if not request.operation.schedule}
    record["application"] = apps.pop() if len(apps) == 1 else (order or {}).get("application", DEFAULT)
    expires = int(time.time()) + container.settings().order_memory_seconds
    # a mapping that read the record (an edit) replaces it; one that makes it (a paid order) only creates it
    item_id = order_records.order_id(table.owner, shop, record["order"])
    order_records.put(table, item_id, record, shop=shop, expires=expires, replace=order is not None)


def _for_applications(
    container: Container,
    planned: list[tuple[str, Request]],
    shop_domain: str | None,
    payload: Any,
    order: dict[str, Any] | None = None,
) -> list[tuple[str, Request]]:
    """Each step with its application: an order's steps go to the one application of its shop (and
    currency), a recalled order's to the application it was paid in; a scheduled step (the erasure of
    customers/redact) to every application of the shop. A webhook no application takes is
    dead-lettered with the reason."""
    apps = container.applications()
    out: list[tuple[str, Request]] = []
    order_app: str | None = (order or {}).get("application")
    for step, request in planned:
        if request.operation.schedule:
            bound = apps.for_shop(shop_domain)
            if not bound:
                raise _unrouted(f"shop {shop_domain!r} is bound to no application (TALON_APPLICATIONS)")
            out += [(step, replace(request, application=app.name)) for app in bound]
            continue
        if order_app is None:
            try:
                currency = mappings.order_currency(payload) if apps.by_currency(shop_domain) else None
                order_app = apps.for_order(shop_domain, currency).name
            except InvalidRequest:  # its currency is no code: the reason names the field
                raise
            except ValueError as exc:
                raise _unrouted(str(exc)) from None
        out.append((step, replace(request, application=order_app)))
    return out


def _unrouted(reason: str) -> InvalidRequest:
    return InvalidRequest.single("No application", reason, pointer="/shopDomain")
