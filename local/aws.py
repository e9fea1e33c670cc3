"""Local AWS: a moto server on loopback, seeded with what template.yaml declares.

Queues (with their DLQs and redrive policies), DynamoDB tables, the secrets the template creates
(generated values, as Secrets Manager would), and the Talon.One secret pointing at the emulator.
Returns a Resolver so the gateway can give each function its real environment.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import pickle
import re
import string
import threading
import time
from dataclasses import dataclass, field
from secrets import choice
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local.moto_keepalive import KeepAliveMotoServer
from local.template import Resolver, StackSpec

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "talon-relay-local"
SECRET_NAME = "talon-relay/talon-one-local"  # noqa: S105 - a name, not a secret

#: Credentials for moto: not real, and exported so every boto3 client in this process uses them.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class LocalAws:
    """A running moto server and the local names of the template's resources."""

    endpoint: str
    server: KeepAliveMotoServer | None
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    secret_arn: str = ""
    #: ARNs of the secrets the template itself creates (e.g. CallerSigningSecret), by logical id
    secret_arns: dict[str, str] = field(default_factory=dict)
    resolver: Resolver | None = None

    def client(self, service: str) -> Any:
        return local_client(service, self.endpoint)

    def stop(self) -> None:
        if self.server is not None:
            self.delete_resources()
            self.server.stop()
            self.server = None

    def delete_resources(self) -> None:
        """Delete what seed() created. moto keeps its state per process, not per server: without
        this, the next stack started in the same process would find this one's queued messages."""
        sqs, secrets, dynamodb = self.client("sqs"), self.client("secretsmanager"), self.client("dynamodb")
        try:
            for url in self.queue_urls.values():
                with contextlib.suppress(BotoCoreError, ClientError):
                    sqs.delete_queue(QueueUrl=url)
            for arn in [self.secret_arn, *self.secret_arns.values()]:
                if arn:
                    with contextlib.suppress(BotoCoreError, ClientError):
                        secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
            for name in self.table_names.values():
                with contextlib.suppress(BotoCoreError, ClientError):
                    dynamodb.delete_table(TableName=name)
        finally:
            for client in (sqs, secrets, dynamodb):
                client.close()


def local_client(service: str, endpoint: str) -> Any:
    """A boto3 client for moto, usable from any process (credentials are moto's dummies)."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def current_secret(info: dict[str, Any], arn_key: str) -> str | None:
    """The "current" value of the local stack's secret whose ARN `info` (the stack's description) holds under
    `arn_key`, read from local AWS; None when the stack has no such secret."""
    arn = info.get(arn_key)
    if not arn:
        return None
    secrets = local_client("secretsmanager", info["aws_endpoint"])
    try:
        value: str = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["current"]
    finally:
        secrets.close()
    return value


def _deliverable(queue: Any) -> list[Any]:
    """The messages a receive may hand out, in queue order, as SQS decides it: visible and not delayed,
    and on a FIFO queue not behind a message of the same group that is still in flight."""
    waiting: set[str] = set()
    out = []
    for message in queue._messages:
        available = message.visible and not message.delayed
        group = message.group_id if queue.fifo_queue else None
        if group is not None and (group in waiting or not available):
            waiting.add(group)
            continue
        if available:
            out.append(message)
    return out


def _number_fifo_messages_in_order(queue_class: Any) -> None:
    """Give each FIFO message a SequenceNumber larger than every earlier one, as SQS does per group."""
    import itertools
    import threading

    original = queue_class.add_message
    counter = itertools.count(int(time.time() * 1000) * 1_000_000)
    lock = threading.Lock()

    def add_message(queue: Any, message: Any) -> Any:
        if queue.fifo_queue:
            with lock:
                message.sequence_number = f"{next(counter):020d}"
        return original(queue, message)

    queue_class.add_message = add_message


def _patch_for_large_queues() -> None:
    """Make moto fast enough for queues of thousands of messages (the load run, the erasure bench).

    moto reads the clock through datetime conversions for every message on every receive, and builds
    every attribute of a queue (counting all its messages) for each message it hands out, to read its
    retention period: quadratic, minutes for 10,000 messages. The clock becomes time.time() (the same
    value, no freezegun here) and the retention check reads the queue's own setting.
    """
    from moto.sqs import models

    def millis() -> float:
        return time.time() * 1000

    def retained(backend: Any, queue_name: str, message: Any) -> bool:
        period = float(backend.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    setattr(models, "unix_time", time.time)  # noqa: B010 - the names moto's SQS models bound at import
    setattr(models, "unix_time_millis", millis)  # noqa: B010
    setattr(models.SQSBackend, "is_message_valid_based_on_retention_period", retained)  # noqa: B010


def patch_fifo_redelivery() -> None:
    """Make moto give a FIFO group's failed messages back in order, as SQS does.

    moto (5.2.5) holds a group back while any of its messages is "pending" and forgets a pending
    message only when its receive loop passes it after its visibility timeout; so when several
    messages of one group were received and none deleted (a failed batch), all but the group's last
    are skipped and the last comes back first, which would reorder a customer's updates locally.
    Here a group simply waits behind its earliest message in flight. Applies to every moto server
    in this process (the local stack runs moto in-process); tests/e2e/test_delivery.py checks it.

    moto also gives FIFO messages random SequenceNumbers; SQS's grow within a message group (the relay
    orders a customer's updates by them, ordering.py), so here they grow across the queue. And it is
    made fast enough for large queues (_patch_for_large_queues).
    """
    from moto.sqs.models import Queue

    if getattr(Queue, "_talon_relay_fifo_patch", False):
        return
    _number_fifo_messages_in_order(Queue)
    _patch_for_large_queues()
    Queue.messages = property(_deliverable)  # type: ignore[method-assign, assignment]
    Queue.pending_message_groups = property(lambda queue: set())  # type: ignore[method-assign, assignment]
    Queue.approximate_number_of_messages = property(  # type: ignore[method-assign, assignment]
        lambda queue: sum(1 for m in queue._messages if m.visible and not m.delayed)
    )
    Queue._talon_relay_fifo_patch = True  # type: ignore[attr-defined]


#: SQS's rule for a MessageGroupId and a MessageDeduplicationId (moto 5.2.5 does not check it).
_SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def patch_message_id_rules() -> None:
    """Make moto refuse a MessageGroupId or MessageDeduplicationId that SQS refuses (InvalidParameterValue),
    so a relay that derives one wrongly fails locally as it would deployed."""
    from moto.sqs.exceptions import InvalidParameterValue
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend, "_talon_relay_id_patch", False):
        return
    original = SQSBackend._validate_message

    def validate(self: Any, queue: Any, message_body: str, delay_seconds: int, *args: Any, **kwargs: Any) -> None:
        names = ("deduplication_id", "group_id")
        values = dict(zip(names, args, strict=False)) | {k: v for k, v in kwargs.items() if k in names}
        for name, value in values.items():
            if value is not None and not _SQS_ID.fullmatch(value):
                raise InvalidParameterValue(
                    f"Value {value[:40]!r}... for parameter {name} is invalid: 1 to 128 characters of "
                    "alphanumerics and punctuation"
                )
        original(self, queue, message_body, delay_seconds, *args, **kwargs)

    SQSBackend._validate_message = validate  # type: ignore[method-assign]
    SQSBackend._talon_relay_id_patch = True  # type: ignore[attr-defined]


def message_size(body: str, attributes: dict[str, Any] | None) -> int:
    """A message's size as SQS counts it against MaximumMessageSize: the body's UTF-8 bytes, and each
    message attribute's name, data type and value."""
    size = len(body.encode("utf-8"))
    for name, value in (attributes or {}).items():
        data = value.get("StringValue") or value.get("BinaryValue") or ""
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        size += len(data.encode("utf-8") if isinstance(data, str) else data)
    return size


def patch_message_size_rule() -> None:
    """Make moto refuse a message whose body and attributes together are over the queue's MaximumMessageSize,
    as SQS does (moto 5.2.5 counts the body's characters only), so a relay that adds attributes to a large
    message (a dead letter's reason) fails locally as it would deployed."""
    from moto.sqs.exceptions import InvalidParameterValue
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend, "_talon_relay_size_patch", False):
        return
    original = SQSBackend.send_message

    def send_message(self: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any) -> Any:
        attributes = kwargs.get("message_attributes", args[0] if args else None)
        limit = int(self.get_queue(queue_name).maximum_message_size)
        if message_size(message_body, attributes) > limit:
            raise InvalidParameterValue(
                f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
            )
        return original(self, queue_name, message_body, *args, **kwargs)

    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    SQSBackend._talon_relay_size_patch = True  # type: ignore[attr-defined]


def patch_transaction_backups() -> None:
    """Make moto's TransactWriteItems cost what the transaction writes, not what the table holds.

    moto (5.2.5) deep-copies the whole table once per item of a transaction, to roll a cancelled one
    back: a claim of 10 records took 600 ms against the bench's table of thousands (DynamoDB's does not
    grow with the table). Here the table is not copied; the items the transaction names are, and they
    are put back when it is cancelled (tests/functions/test_catalog_round_trips.py checks the rollback).
    """
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    if getattr(backend, "_talon_relay_transaction_patch", False):
        return
    original = backend.transact_write_items

    class NoTableCopies:
        """What moto's DynamoDB module calls `copy`: the same, but a Table is not copied."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def named(self: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
        """Each item the transaction names: its table, hash and range key values, and a copy as it is."""
        found = []
        for entry in transact_items:
            ((kind, op),) = entry.items() if len(entry) == 1 else ((None, {}),)
            try:
                table = self.get_table(op["TableName"])
                key = op["Key"] if kind != "Put" else {name: op["Item"][name] for name in table.table_key_attrs}
                hash_value, range_value = self.get_keys_value(table, key)
                item = table.get_item(hash_value, range_value)
            except Exception:  # noqa: S112 - moto's own checks answer a malformed item
                continue
            found.append((table, hash_value, range_value, copy.deepcopy(item)))
        return found

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = named(self, transact_items)
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(backups):
                table.delete_item(hash_value, range_value)
                if item is not None:
                    table.put_item(item.to_json()["Attributes"])
            raise

    setattr(models, "copy", NoTableCopies())  # noqa: B010 - the name moto's DynamoDB module bound at import
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    backend._talon_relay_transaction_patch = True  # type: ignore[attr-defined]


def patch_item_writes_atomic() -> None:
    """Make moto's DynamoDB item operations atomic, as DynamoDB's are.

    moto (5.2.5) serves requests on threads and applies an UpdateItem to a new item in two steps (it puts
    the key alone, then sets the attributes): a conditional claim running beside it could find the key with
    nothing else (read by the relay as a key reused with another payload), or two claims could both find
    no item and both win. One lock per backend makes each item operation whole, as DynamoDB does; the
    relay's concurrent claims (tests/functions/test_concurrent_claims.py) then behave as in AWS.
    """
    from moto.dynamodb import models

    backend = models.DynamoDBBackend
    if getattr(backend, "_talon_relay_atomic_patch", False):
        return
    lock = threading.RLock()  # re-entered: a batch or a transaction calls the single-item operations

    def atomic(method: Any) -> Any:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return run

    for name in ("get_item", "put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
        if hasattr(backend, name):
            setattr(backend, name, atomic(getattr(backend, name)))
    backend._talon_relay_atomic_patch = True  # type: ignore[attr-defined]


#: Parsed expressions kept per moto process (one entry per distinct text and bindings): a bound, not a budget.
_PARSED_LIMIT = 4096
#: A placeholder as moto's condition lexer reads one (`comparisons.py`: `(:|#)?[A-z0-9\-_]+`).
_PLACEHOLDER = re.compile(r"[:#][A-z0-9\-_]+")


def _bindings(text: str, names: dict[str, Any] | None, values: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What a condition's parse can read besides its text: the names and values its placeholders name
    (moto puts both into the parsed condition). None when one cannot be a key (nothing is cached)."""
    try:
        tokens = sorted(set(_PLACEHOLDER.findall(text)))
        bound = [(t, (names or {}).get(t) if t[0] == "#" else (values or {}).get(t)) for t in tokens]
        return (text, json.dumps(bound, sort_keys=True))
    except (TypeError, ValueError):
        return None


def patch_expression_parsing() -> None:
    """Make moto parse each distinct update and condition expression once: a speed patch, no behaviour changes.

    moto (5.2.5) parses a transaction item's update expression twice and its condition twice, per item and per
    call (its request check, then the write), deep-copies the update's tree twice to validate it, counts its
    clauses and rebuilds each validator's table of node types at every node: most of a claim of 10 records'
    40 ms on loopback
    (docs/performance.md), for the same few texts the relay sends. Here:

    - an update expression's tree is kept by its text; moto's validator changes only its own copy of it
      (`Validator.__init__`, nothing else writes it), now unpickled from the tree's pickle (the same copy);
      its clauses are counted once (`ActionCountValidator` reads the tree alone), not at every node of every
      validation (a tree moto refuses is counted, and refused, each time as before);
    - a condition's parse is kept by its text with the names and values it names (moto writes both into the
      parsed condition, which it only reads afterwards);
    - each validator's table of node types is read once per validator (moto's `_processing_map` is a constant
      table), and whether a node's class is a node, and one the validator processes, once per class.

    A text moto refuses raises as before and is not kept. tests/local/test_moto_parsing.py checks that the
    relay's claims, completions, ordering records and failed conditions end as unpatched moto ends them, and
    that updates moto refuses are refused alike.
    """
    from moto.dynamodb import comparisons
    from moto.dynamodb.parsing import ast_nodes, expressions, validators

    nodes: Any = ast_nodes  # moto's parsing modules are untyped
    update: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
    condition: Any = comparisons.ConditionExpressionParser
    if getattr(update, "_talon_relay_parse_patch", False):
        return
    traverser = nodes.DepthFirstTraverser
    #: moto's own, for the test that compares (tests/local/test_moto_parsing.py): (owner, name, original)
    update._talon_relay_unpatched = [
        (update, "make", update.__dict__["make"]),
        (validators, "deepcopy", copy.deepcopy),
        (validators.Validator, "validate", validators.Validator.validate),
        (condition, "parse", condition.parse),
        (traverser, "nodes_to_be_processed", traverser.nodes_to_be_processed),
        (traverser, "process", traverser.process),
        (traverser, "traverse_node_recursively", traverser.traverse_node_recursively),
    ]
    _keep_update_trees(update, validators)
    _keep_conditions(condition)
    _keep_node_types(traverser, nodes.Node)
    update._talon_relay_parse_patch = True


def _keep_update_trees(parser: Any, validators: Any) -> None:
    """An update expression's tree kept by its text, and copied for moto's validator from its pickle."""
    make = parser.make.__func__
    trees: dict[str, Any] = {}
    pickles: dict[int, bytes] = {}  # by id() of a tree in `trees`, which keeps it alive

    def cached_make(cls: Any, expression: str) -> Any:
        tree = trees.get(expression)
        if tree is None:
            tree = make(cls, expression)
            if len(trees) >= _PARSED_LIMIT:
                trees.clear()
                pickles.clear()
            try:  # its clauses counted once (its text alone decides): a tree moto refuses is counted each time
                validators.ActionCountValidator().traverse(copy.deepcopy(tree))
                tree._talon_relay_counted = True
            except Exception:  # noqa: S110 - moto raises it again, where it always did
                pass
            with contextlib.suppress(Exception):  # a tree that will not pickle is deep-copied, as moto does
                pickles[id(tree)] = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
            trees[expression] = tree
        return tree

    def deepcopy(value: Any, memo: Any = None) -> Any:
        pickled = pickles.get(id(value))
        return copy.deepcopy(value, memo) if pickled is None else pickle.loads(pickled)  # noqa: S301 - our own

    def validate(self: Any) -> Any:
        """moto's `Validator.validate`, without counting the clauses of a tree counted already."""
        node = self.node_to_validate
        counted = getattr(node, "_talon_relay_counted", False)
        for processor in self.processors:
            if not (counted and type(processor) is validators.ActionCountValidator):
                node = processor.traverse(node)
        return node

    parser.make = classmethod(cached_make)
    validators.deepcopy = deepcopy
    validators.Validator.validate = validate


def _keep_conditions(parser: Any) -> None:
    """A condition's parse kept by its text and the names and values it names (`_bindings`)."""
    parse = parser.parse
    conditions: dict[tuple[Any, ...], tuple[Any, list[str], list[str]]] = {}

    def cached_parse(self: Any) -> Any:
        text = self.condition_expression
        key = _bindings(text, self.expression_attribute_names, self.expression_attribute_values) if text else None
        if key is None:
            return parse(self)
        found = conditions.get(key)
        if found is None:
            op = parse(self)
            if len(conditions) >= _PARSED_LIMIT:
                conditions.clear()
            found = conditions[key] = (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
        op, names_found, values_found = found
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return op

    parser.parse = cached_parse


def _keep_node_types(traverser: Any, node_class: type) -> None:
    """What moto's validators ask of each node's class, asked once: is it a node, does this validator process
    it, with what (`_processing_map`, a constant table). moto's node classes are ABCs with no registered
    virtual subclasses, so an isinstance answer depends on the class alone."""
    is_node: dict[type, bool] = {}

    def processing(self: Any) -> tuple[tuple[type, Any], ...]:
        table: tuple[tuple[type, Any], ...] | None = self.__dict__.get("_talon_relay_map")
        if table is None:
            table = self.__dict__["_talon_relay_map"] = tuple(self._processing_map().items())
            self.__dict__["_talon_relay_types"] = tuple(kind for kind, _ in table)
            self.__dict__["_talon_relay_processed"] = {}
        return table

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        processing(self)
        types: tuple[type, ...] = self.__dict__["_talon_relay_types"]
        return types

    def process(self: Any, node: Any) -> Any:
        for kind, processor in processing(self):
            if isinstance(node, kind):
                return processor(node)
        return None

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        """moto's own (`DepthFirstTraverser.traverse_node_recursively`), its isinstance answers kept by class."""
        kind = type(node)
        if kind not in is_node:
            is_node[kind] = isinstance(node, node_class)
        if is_node[kind]:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            processing(self)
            processed: dict[type, bool] = self.__dict__["_talon_relay_processed"]
            if kind not in processed:
                processed[kind] = isinstance(node, self.nodes_to_be_processed())
            if processed[kind]:
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    traverser.nodes_to_be_processed = nodes_to_be_processed
    traverser.process = process
    traverser.traverse_node_recursively = traverse_node_recursively


def create_relay_table(dynamodb: Any, name: str) -> str:
    """A table shaped like the template's IdempotencyTable (key `id`, on demand, its sparse index ByShop on
    `shop`), for the tests and the bench that make their own beside a stack's (`seed` makes the template's
    own)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "shop", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByShop",
                "KeySchema": [{"AttributeName": "shop", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def start_moto(port: int = 0) -> tuple[KeepAliveMotoServer, str]:
    """A moto server on 127.0.0.1 (port 0: any free one) and its endpoint URL: the one way the local
    stack, the tests and the bench start local AWS. It keeps connections alive, as AWS does
    (local/moto_keepalive.py); moto's own ThreadedMotoServer closes each after one answer."""
    patch_fifo_redelivery()
    patch_message_id_rules()
    patch_message_size_rule()
    patch_transaction_backups()
    patch_item_writes_atomic()
    patch_expression_parsing()
    server = KeepAliveMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    host, bound = server.get_host_and_port()
    return server, f"http://{host}:{bound}"


#: Every process-wide variable export_environment sets (and restore_environment puts back).
EXPORTED_NAMES = (*LOCAL_AWS_ENV, "AWS_ENDPOINT_URL")


def export_environment(endpoint: str) -> dict[str, str | None]:
    """Point every AWS SDK call of this process at moto (AWS_ENDPOINT_URL is honoured by boto3).

    Returns the values it replaced (None: was unset), for restore_environment.
    """
    previous = {name: os.environ.get(name) for name in EXPORTED_NAMES}
    os.environ.update(LOCAL_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    return previous


def restore_environment(previous: dict[str, str | None]) -> None:
    """Undo export_environment: each variable back to its old value, or unset if it had none."""
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def seed(
    aws: LocalAws,
    spec: StackSpec,
    *,
    talon_base_url: str,
    talon_api_key: str,
    parameters: dict[str, Any] | None = None,
) -> Resolver:
    """Create the template's resources in moto and return the resolver for their intrinsics."""
    params = {**spec.parameters, **(parameters or {})}
    secrets = aws.client("secretsmanager")
    secret = {"baseUrl": talon_base_url, "apiKey": talon_api_key}
    try:
        aws.secret_arn = secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps(secret))["ARN"]
    except secrets.exceptions.ResourceExistsException:
        aws.secret_arn = secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(secret))["ARN"]
    params[spec.secrets_parameter] = aws.secret_arn

    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK_NAME,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    refs: dict[str, str] = {}
    attributes: dict[tuple[str, str], str] = {}
    resolver = Resolver(params, refs, attributes, pseudo, spec.conditions, spec.mappings)

    for logical_id, props in spec.secrets.items():
        if not resolver.creates(spec, logical_id):
            continue
        secret_name = str(resolver.resolve(props.get("Name")) or f"{STACK_NAME}-{logical_id}")
        if "SecretString" in props:
            value = str(resolver.resolve(props["SecretString"]))
        else:
            value = generated_secret(resolver.resolve(props.get("GenerateSecretString") or {}))
        try:
            arn = secrets.create_secret(Name=secret_name, SecretString=value)["ARN"]
        except secrets.exceptions.ResourceExistsException:
            arn = secrets.put_secret_value(SecretId=secret_name, SecretString=value)["ARN"]
        aws.secret_arns[logical_id] = refs[logical_id] = arn

    sqs = aws.client("sqs")
    # DLQs first: a queue's redrive policy names its DLQ's ARN.
    ordered = sorted(spec.queues.values(), key=lambda q: "RedrivePolicy" in q.properties)
    for queue in ordered:
        if not resolver.creates(spec, queue.logical_id):
            continue
        props = queue.properties
        name = props.get("QueueName")
        name = resolver.resolve(name) if name else f"{STACK_NAME}-{queue.logical_id}"
        if queue.fifo and not str(name).endswith(".fifo"):
            name = f"{name}.fifo"
        attrs: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "ContentBasedDeduplication",
            "FifoQueue",
            "DeduplicationScope",
            "FifoThroughputLimit",
        ):
            if key in props:
                value = resolver.resolve(props[key])
                attrs[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attrs["RedrivePolicy"] = json.dumps(
                {k: str(v) for k, v in resolver.resolve(props["RedrivePolicy"]).items()}
            )
        url = sqs.create_queue(QueueName=str(name), Attributes=attrs)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws.queue_urls[queue.logical_id] = url
        aws.queue_arns[queue.logical_id] = arn
        refs[queue.logical_id] = url
        attributes[(queue.logical_id, "Arn")] = arn
        attributes[(queue.logical_id, "QueueUrl")] = url
        attributes[(queue.logical_id, "QueueName")] = str(name)

    dynamodb = aws.client("dynamodb")
    for logical_id, props in spec.tables.items():
        if not resolver.creates(spec, logical_id):
            continue
        name = resolver.resolve(props.get("TableName")) or f"{STACK_NAME}-{logical_id}"
        create: dict[str, Any] = {
            "TableName": name,
            "KeySchema": resolver.resolve(props["KeySchema"]),
            "AttributeDefinitions": resolver.resolve(props["AttributeDefinitions"]),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if "GlobalSecondaryIndexes" in props:  # IdempotencyTable's ByShop (shop/redact finds a shop's records)
            create["GlobalSecondaryIndexes"] = resolver.resolve(props["GlobalSecondaryIndexes"])
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**create)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=resolver.resolve(ttl))
        aws.table_names[logical_id] = name
        refs[logical_id] = name
        attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    _seed_event_buses(aws, spec, resolver, refs, attributes)
    for logical_id in spec.functions:
        refs.setdefault(logical_id, f"{STACK_NAME}-{logical_id}")
    aws.resolver = resolver
    return resolver


def _seed_event_buses(
    aws: LocalAws, spec: StackSpec, resolver: Resolver, refs: dict[str, str], attributes: dict[tuple[str, str], str]
) -> None:
    """The template's event buses, and its rules with their SQS targets: moto delivers a rule's events to
    an SQS target itself (docs/events.md), so the bus's subscriber queue fills as in AWS."""
    resources: dict[str, Any] = spec.template.get("Resources", {})
    events = aws.client("events")
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Events::EventBus" or not resolver.creates(spec, logical_id):
            continue
        name = str(resolver.resolve(resource["Properties"]["Name"]))
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=name)
        refs[logical_id] = name
        attributes[(logical_id, "Arn")] = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
        attributes[(logical_id, "Name")] = name
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule" or not resolver.creates(spec, logical_id):
            continue
        props = resource["Properties"]
        bus = str(resolver.resolve(props.get("EventBusName")) or "default")
        name = f"{STACK_NAME}-{logical_id}"
        arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]))["RuleArn"]
        targets = [{"Id": str(t["Id"]), "Arn": str(resolver.resolve(t["Arn"]))} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        refs[logical_id] = name
        attributes[(logical_id, "Arn")] = arn


def generated_secret(generate: dict[str, Any]) -> str:
    """A value as Secrets Manager's GenerateSecretString makes it (letters and digits only)."""
    length = int(generate.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    excluded = str(generate.get("ExcludeCharacters", ""))
    alphabet = "".join(c for c in alphabet if c not in excluded) or string.ascii_letters
    password = "".join(choice(alphabet) for _ in range(length))
    key = generate.get("GenerateStringKey")
    if key:
        document = json.loads(generate.get("SecretStringTemplate") or "{}")
        document[str(key)] = password
        return json.dumps(document)
    return password
