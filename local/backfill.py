"""`make catalog-backfill CATALOG=<id> FILE=<products.json>`: a whole catalog's products, queued as syncs.

Reads Shopify products (the Admin API's `{"products": [...]}`, a JSON array, or one product per line, as
products/create sends them) and makes each variant an ADD (replaceIfExists) by the same mapping as the
products/create webhook (talon_relay/webhooks/shopify/topics/products_create.json) and the same SKU
convention (`--conventions shopify_sku=variant_id`, as WEBHOOK_CONVENTIONS). The actions go on the
syncCatalog queue in order, on the catalog's FIFO group, as messages of at most 1,000 actions, no SKU twice
in one (a repeated SKU starts the next message, after it) and within SQS's message size; the function then
coalesces them as it does any queued sync. Each message checked as the relay will check it before any is
sent: a file the relay would refuse sends nothing. Works on the local stack (`make run`) and, with
`STACK=<name>`, on a deployed stack (the queue URL from its outputs). Where the stack serves several
applications each message names its application (`--application`, default `default`), sealed with its
signing secret (`make run`'s: read from local AWS; a deployed stack's: `--signing-secret-arn`), else the
relay dead-letters it (docs/applications.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from talon_relay.callers import applications
from talon_relay.config.applications import DEFAULT
from talon_relay.core.request import parse_request
from talon_relay.operations import OPERATIONS
from talon_relay.webhooks import conventions, mappings

OPERATION = OPERATIONS["syncCatalog"]
MAX_ACTIONS = 1000
#: Bytes of a message body (SQS takes 262,144; room for the attributes the relay adds on the way).
MAX_BYTES = 200_000


def read_products(path: Path) -> list[dict[str, Any]]:
    """Products from a file: `{"products": [...]}`, a JSON array, or JSON lines."""
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data.get("products", [data])
    if not isinstance(data, list) or not all(isinstance(product, dict) for product in data):
        raise ValueError(f"{path}: not products (a JSON array, {{'products': [...]}} or one product per line)")
    return data


def product_actions(products: list[dict[str, Any]], choices: str | None = None) -> list[dict[str, Any]]:
    """Each product's variants as ADD actions, by the products/create mapping and the chosen conventions."""
    replacements = conventions.expansions(conventions.parse_choices(choices))
    mapping = mappings.load_file(mappings.platform_dir("shopify") / "products_create.json", replacements)
    step = mapping.steps[0]
    actions: list[dict[str, Any]] = []
    for index, product in enumerate(products):
        try:
            actions += _mapped(step, product)
        except ValueError as exc:  # InvalidRequest: names the field, never the product's values
            raise ValueError(f"product {index} (id {product.get('id')!r}) does not map: {exc}") from None
    return actions


def _mapped(step: Any, product: dict[str, Any]) -> list[dict[str, Any]]:
    """One product's actions. A product of more variants than one sync takes (Shopify allows 2,048) is
    mapped MAX_ACTIONS variants at a time (`chunks` splits the actions anyway); a SKU twice in one product
    is still refused, as its products/create webhook is (the mapping's check, here across the slices)."""
    variants = product.get("variants")
    if not isinstance(variants, list) or len(variants) <= MAX_ACTIONS:
        found: list[dict[str, Any]] = mappings.step_request(step, product).body["actions"]
        return found
    actions: list[dict[str, Any]] = []
    for start in range(0, len(variants), MAX_ACTIONS):
        actions += _mapped(step, {**product, "variants": variants[start : start + MAX_ACTIONS]})
    first: dict[str, int] = {}
    for at, action in enumerate(actions):
        sku = action.get("payload", {}).get("sku")
        if isinstance(sku, str) and first.setdefault(sku, at) != at:
            raise ValueError(f"actions/{at}/payload/sku repeats the SKU of actions/{first[sku]}: a SKU at most once")
    return actions


def chunks(actions: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The actions in order, as bodies of at most 1,000 actions and MAX_BYTES, no SKU twice in one."""
    current: list[dict[str, Any]] = []
    skus: set[str] = set()
    size = 0
    for action in actions:
        sku = action.get("payload", {}).get("sku")
        cost = len(json.dumps(action, separators=(",", ":"))) + 1
        if current and (len(current) >= MAX_ACTIONS or size + cost > MAX_BYTES or sku in skus):
            yield current
            current, skus, size = [], set(), 0
        current.append(action)
        size += cost
        if isinstance(sku, str):
            skus.add(sku)
    if current:
        yield current


def messages(catalog: str, actions: list[dict[str, Any]], run: str) -> list[dict[str, Any]]:
    """The queue messages (docs/api.md format) of a backfill, each checked as the relay will check it."""
    out: list[dict[str, Any]] = []
    for index, part in enumerate(chunks(actions)):
        body = {"actions": part}
        parse_request(OPERATION, {"catalogId": catalog}, body)  # InvalidRequest names the fault
        out.append({"catalogId": catalog, "body": body, "idempotencyKey": f"backfill:{run}:{index}"})
    return out


def send(
    sqs: Any, queue_url: str, catalog: str, bodies: list[dict[str, Any]], *, seal: tuple[str, str] | None = None
) -> int:
    """Queue the messages in order on the catalog's FIFO group; returns how many were sent. `seal`: (the
    application, its signing secret) in a deployment of several, where each queued message names its
    application, sealed (docs/applications.md), on that application's group of the catalog, as the relay's
    own asynchronous mode queues it."""
    group = catalog if seal is None or seal[0] == DEFAULT else f"{seal[0]}/{catalog}"
    for body in bodies:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        attributes = {}
        if seal is not None:
            value = applications.seal(seal[0], text, seal[1])
            attributes = {
                applications.APPLICATION_ATTRIBUTE: {"DataType": "String", "StringValue": seal[0]},
                applications.SEAL_ATTRIBUTE: {"DataType": "String", "StringValue": value},
            }
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=text,
            MessageGroupId=group,
            MessageDeduplicationId=hashlib.sha256(body["idempotencyKey"].encode()).hexdigest(),
            MessageAttributes=attributes,
        )
    return len(bodies)


def _current(secrets: Any, arn: str) -> str:
    value: str = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["current"]
    return value


def local_seal(info: dict[str, Any], application: str) -> tuple[str, str] | None:
    """The seal of the local stack's `application` (`make run` serves two): its signing secret read from
    local AWS; None when the stack serves one application."""
    apps = info.get("applications") or {}
    if application not in apps:
        raise ValueError(f"no application {application!r} in the local stack (known: {', '.join(apps)})")
    if len(apps) < 2:
        return None
    from local.aws import local_client

    return application, _current(
        local_client("secretsmanager", info["aws_endpoint"]), apps[application]["signing_secret_arn"]
    )


def queue_url(stack: str | None, application: str, signing_secret_arn: str | None) -> tuple[Any, str, Any]:
    """(SQS client, syncCatalog queue URL, seal) of the local stack, or of a deployed one (sealed when
    its application's signing secret is named: a deployment of several applications)."""
    if stack:
        import boto3

        from local.redrive import queue_urls_from_stack

        seal = None
        if signing_secret_arn:
            seal = (application, _current(boto3.client("secretsmanager"), signing_secret_arn))
        return boto3.client("sqs"), queue_urls_from_stack(stack, "SyncCatalog")[0], seal
    from local.aws import local_client
    from local.stack import running_stack

    info = running_stack()
    if info is None:
        raise SystemExit("no local stack is running: start one with `make run`, or pass STACK=<name>")
    seal = local_seal(info, application)
    return local_client("sqs", info["aws_endpoint"]), str(info["queues"]["SyncCatalogQueue"]), seal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="the Talon.One catalog id (an integer)")
    parser.add_argument("--file", required=True, type=Path, help="the products (JSON, or one product per line)")
    parser.add_argument("--stack", help="a deployed stack's name (default: the local stack of `make run`)")
    parser.add_argument("--conventions", help="as WEBHOOK_CONVENTIONS, e.g. shopify_sku=variant_id")
    parser.add_argument("--application", default=DEFAULT, help="the Talon.One application (docs/applications.md)")
    parser.add_argument(
        "--signing-secret-arn", help="a deployed stack of several applications: the application's signing secret"
    )
    parser.add_argument("--dry-run", action="store_true", help="check and count, send nothing")
    args = parser.parse_args(argv)
    try:
        actions = product_actions(read_products(args.file), args.conventions)
        bodies = messages(args.catalog, actions, uuid.uuid4().hex[:12])
    except (OSError, ValueError) as exc:  # InvalidRequest is a ValueError: it names the field
        print(f"nothing sent: {exc}", file=sys.stderr)
        return 1
    print(f"{len(actions)} item(s) of catalog {args.catalog} in {len(bodies)} message(s)")
    if not args.dry_run:
        try:
            sqs, url, seal = queue_url(args.stack, args.application, args.signing_secret_arn)
        except ValueError as exc:
            print(f"nothing sent: {exc}", file=sys.stderr)
            return 1
        print(f"queued {send(sqs, url, args.catalog, bodies, seal=seal)} message(s) on {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
