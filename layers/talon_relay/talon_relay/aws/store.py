"""The relay's one DynamoDB table (IdempotencyTable): its key layout, and every read and write of it.

One table, one `id` key and one `expiration` TTL attribute, seven kinds of item told apart by the id:

| id                                         | what                                       | kept until                 |
| ------------------------------------------ | ------------------------------------------ | -------------------------- |
| `<function>.<record name>#<sha256>`        | idempotency records (`aws.idempotency`)    | IDEMPOTENCY_EXPIRY_SECONDS |
| `<function>.answer#<sha256>#<n>`           | a large answer's parts (`aws.answers`)     | its idempotency record     |
| `<function>.signature#<hex>`               | a used caller signature (`callers.access`) | the signature's window     |
| `ordering#<operation>#<customer>`          | its holes and last place (`core.ordering`) | ORDERING_EXPIRY_SECONDS    |
| `<function>.writeback#<shop>#<field>#<id>` | a write-back's last time (`writeback`)     | ORDERING_EXPIRY_SECONDS    |
| `<function>.order#<shop>#<order id>`       | an order's session and lines               | ORDER_MEMORY_SECONDS       |
| `<function>.ordergroup#<shop>#<order id>`  | an order's FIFO group (a webhook receiver) | ORDER_MEMORY_SECONDS       |

The two order items (`aws.order_records`) also carry `shop`, the key of the table's one index (ByShop),
where shop/redact finds a shop's records.

`<function>` is the function's name (AWS_LAMBDA_FUNCTION_NAME), as Powertools prefixes its records, so
each function's role reaches only its own items (`dynamodb:LeadingKeys` in the template); a signature
covers its route, so no other function could accept it anyway. The ordering records keep their
operation-wide ids (35 days of them exist). Nothing else writes the table, and nothing else knows
these prefixes.

Each record belongs to one Talon.One application (docs/applications.md). The `default` application's
ids are as they always were; another application's name comes right after the kind's own prefix, so
the role's conditions on the prefix (dynamodb:LeadingKeys) still cover them: `<function>.<scope>` and
`<function>.answer#` hash `<operation>@<application>#<key>` (`idempotency_scope`),
`<function>.signature#<application>/<hex>`, `ordering#<operation>#@<application>#<customer>`. An
operation name has no `@`, a replay id no `/`, and a `default` customer's id that begins with `@` gets one
more (`@@...`), so no id of one application's customer is ever another application's.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from talon_relay.aws import table_client
from talon_relay.config.applications import DEFAULT
from talon_relay.errors import StoreUnavailable

if TYPE_CHECKING:
    from talon_relay.container import Container

ANSWER = "answer#"
SIGNATURE = "signature#"
ORDERING = "ordering#"
WRITEBACK = "writeback#"
#: Bytes of a customer key kept as it is in an ordering id; a longer one is hashed.
MAX_KEY_BYTES = 512


def error_code(exc: Exception) -> str:
    """DynamoDB's name of the error (botocore's ClientError or table_client's), else ""."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class Store:
    """The table `table` through the container's DynamoDB client."""

    def __init__(self, container: Container, table: str, *, owner: str) -> None:
        self.table = table
        #: the function's own key prefix (see the module docstring)
        self.owner = owner
        self._container = container

    @property
    def client(self) -> Any:
        """The light client (`table_client`: no boto3) where the environment allows it, else boto3's."""
        return table_client.client(self._container)

    # --- a large answer's parts -------------------------------------------------------------------

    def answer_ref(self, scope_key: str) -> str:
        return f"{self.owner}.{ANSWER}" + hashlib.sha256(scope_key.encode("utf-8", "backslashreplace")).hexdigest()

    def put_part(self, ref: str, index: int, data: bytes, *, expires: int) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={"id": {"S": f"{ref}#{index}"}, "data": {"B": data}, "expiration": {"N": str(expires)}},
        )

    def get_part(self, ref: str, index: int) -> bytes | None:
        item = self.client.get_item(TableName=self.table, Key={"id": {"S": f"{ref}#{index}"}}, ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else bytes(item["data"]["B"])

    # --- used caller signatures -------------------------------------------------------------------

    def remember_signature(
        self, replay_id: str, *, application: str = DEFAULT, expires: int, now: float | None = None
    ) -> bool:
        """Record a signature as used; False when it was used before (its record still counts)."""
        if application != DEFAULT:
            replay_id = f"{application}/{replay_id}"
        now = time.time() if now is None else now
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"id": {"S": f"{self.owner}.{SIGNATURE}{replay_id}"}, "expiration": {"N": str(expires)}},
                # A record past its TTL may linger until DynamoDB removes it: it no longer counts.
                ConditionExpression="attribute_not_exists(#id) OR #expiration < :now",
                ExpressionAttributeNames={"#id": "id", "#expiration": "expiration"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except Exception as exc:  # botocore's or table_client's errors, told apart by their code
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailable(f"replay store unavailable: {code or type(exc).__name__}") from None
        return True

    # --- a customer's last applied position ---------------------------------------------------------

    @staticmethod
    def ordering_id(operation: str, customer: str, application: str = DEFAULT) -> str:
        name = customer
        if len(customer.encode()) > MAX_KEY_BYTES:
            name = "sha256:" + hashlib.sha256(customer.encode()).hexdigest()
        if application != DEFAULT:
            name = f"@{application}#{name}"
        elif name.startswith("@"):  # a default customer named `@us#s-1` is not `us`'s s-1
            name = f"@{name}"
        return f"{ORDERING}{operation}#{name}"

    def writeback_id(self, shop: str, field: str, customer: str) -> str:
        """A customer's written-back `field` (a loyalty balance, a tier) in `shop`: its record keeps the
        time of the value written last (read and recorded as an ordering position)."""
        name = customer
        if len(customer.encode()) > MAX_KEY_BYTES:
            name = "sha256:" + hashlib.sha256(customer.encode()).hexdigest()
        return f"{self.owner}.{WRITEBACK}{shop}#{field}#{name}"

    @staticmethod
    def idempotency_scope(operation: str, application: str = DEFAULT) -> str:
        """What an idempotency key is scoped by: its operation, and its application but the default's."""
        return operation if application == DEFAULT else f"{operation}@{application}"

    def applied_position(self, item_id: str) -> str:
        """The last applied position recorded (sortable text; empty: none yet)."""
        try:
            item = self.client.get_item(
                TableName=self.table, Key={"id": {"S": item_id}}, ConsistentRead=True, ProjectionExpression="pos"
            ).get("Item")
        except Exception as exc:  # botocore's errors: nothing was applied, so a retry is safe
            raise StoreUnavailable(f"ordering record unavailable: {type(exc).__name__}") from exc
        return str((item or {}).get("pos", {}).get("S") or "")

    def record_position(self, item_id: str, position: str, *, message_id: str, expires: int) -> None:
        """Record `position` as applied (only ever forward)."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": item_id},
                    "pos": {"S": position},
                    "messageId": {"S": message_id},
                    "expiration": {"N": str(expires)},
                },
                ConditionExpression="attribute_not_exists(id) OR pos < :pos",
                ExpressionAttributeValues={":pos": {"S": position}},
            )
        except Exception as exc:
            if type(exc).__name__ == "ConditionalCheckFailedException":
                return  # this position, or a newer one, is recorded already
            # Talon.One has it; the message is retried, its idempotency record answers without a second
            # call, and this record is written then.
            raise StoreUnavailable(f"could not record the applied position: {type(exc).__name__}") from exc

    # --- a customer's ordering record: its holes (core.ordering) -------------------------------------

    def ordering_record(self, item_id: str) -> tuple[str, frozenset[str]]:
        """The last applied position recorded ("": none) and the record's holes, in one consistent read."""
        try:
            item = self.client.get_item(
                TableName=self.table,
                Key={"id": {"S": item_id}},
                ConsistentRead=True,
                ProjectionExpression="pos, holes",
            ).get("Item")
        except Exception as exc:  # botocore's errors: nothing was applied, so a retry is safe
            raise StoreUnavailable(f"ordering record unavailable: {type(exc).__name__}") from exc
        return _ordering(item)

    def mark_hole(self, item_id: str, hole: str, *, expires: int) -> tuple[str, frozenset[str]]:
        """Add `hole` to the record (one write; the record as it is then, as `ordering_record` reads it)."""
        try:
            item = self.client.update_item(
                TableName=self.table,
                Key={"id": {"S": item_id}},
                UpdateExpression="ADD holes :hole SET expiration = :expires",
                ExpressionAttributeValues={":hole": {"SS": [hole]}, ":expires": {"N": str(expires)}},
                ReturnValues="ALL_NEW",
            ).get("Attributes")
        except Exception as exc:  # not marked: the message is not applied nor dead-lettered (retried)
            raise StoreUnavailable(f"ordering record not marked: {type(exc).__name__}") from exc
        return _ordering(item)

    def settle(
        self, item_id: str, position: str | None, *, done: frozenset[str], message_id: str, expires: int
    ) -> None:
        """One write: `position` recorded as applied (only ever forward; None: none) and the holes `done`
        taken out of the record."""
        names = {"#holes": "holes"} if done else {}
        values: dict[str, Any] = {":done": {"SS": sorted(done)}} if done else {}
        remove = " DELETE #holes :done" if done else ""
        try:
            if position is not None:
                try:
                    self.client.update_item(
                        TableName=self.table,
                        Key={"id": {"S": item_id}},
                        UpdateExpression="SET pos = :pos, messageId = :mid, expiration = :expires" + remove,
                        ConditionExpression="attribute_not_exists(pos) OR pos < :pos",
                        ExpressionAttributeValues={
                            ":pos": {"S": position},
                            ":mid": {"S": message_id},
                            ":expires": {"N": str(expires)},
                            **values,
                        },
                        **({"ExpressionAttributeNames": names} if names else {}),
                    )
                    return
                except Exception as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise
                    # this position, or a newer one, is recorded already: only the holes to take out
            if done:
                self.client.update_item(
                    TableName=self.table,
                    Key={"id": {"S": item_id}},
                    UpdateExpression=remove.strip(),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except Exception as exc:
            # Talon.One has it; the message is retried, its idempotency record answers without a second
            # call, and this record is written then.
            raise StoreUnavailable(f"could not settle the ordering record: {type(exc).__name__}") from exc


def _ordering(item: dict[str, Any] | None) -> tuple[str, frozenset[str]]:
    item = item or {}
    return str(item.get("pos", {}).get("S") or ""), frozenset(item.get("holes", {}).get("SS") or ())


def store(container: Container) -> Store | None:
    """The container's store, or None when no table is configured (library use, the bench)."""
    cfg = container.settings()
    table = cfg.idempotency_table_name
    if not table:
        return None
    return container.once(f"store:{table}", lambda: Store(container, table, owner=cfg.function_name))
