"""The relay's DynamoDB calls without boto3: DynamoDB's JSON API, SigV4-signed, over urllib3.

A signed API request writes its signature to the table (`callers.access`). Through boto3 that write
imports boto3 and botocore and builds a client first: about 100 ms and 20 MB of a cold start, three
times the rest of the request (docs/performance.md). DynamoDB's API is one JSON POST per call, so
here it is one: the body is the call's parameters as boto3 takes them (binary values base64, as
DynamoDB's JSON carries them), signed with Signature Version 4 (hashlib and hmac: nothing imported
that the relay does not already have), on the container's kept-alive pool.

Credentials are the function's, from its environment, as Lambda gives them (and as boto3 reads them
first). An environment without them (restored from a SnapStart snapshot: its credentials come from a
container endpoint) gets boto3's client instead (`client`), which SnapStart imports before the
snapshot anyway. Errors look like boto3's to the callers: `TableError.response["Error"]["Code"]`,
the class named as DynamoDB names the error (a `ConditionalCheckFailedException` is one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talon_relay.container import Container

SERVICE = "dynamodb"
TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
#: Seconds to connect and to wait for an answer (boto3's defaults are 60: a Lambda has less).
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 10.0
#: Calls made again after a throttle, a 5xx or a dropped connection (boto3's standard mode tries 3 times).
ATTEMPTS = 3


class TableError(Exception):
    """A DynamoDB error answer, shaped like botocore's ClientError (`response["Error"]["Code"]`)."""

    def __init__(self, code: str, message: str, response: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.response = {**response, "Error": {"Code": code, "Message": message}}


class ConditionalCheckFailedException(TableError):
    """The write's condition did not hold (the one error the relay expects)."""


_RETRYABLE = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}


def _binary(value: Any) -> str:
    """json.dumps' `default`: bytes (attribute type B) as DynamoDB's JSON carries them, base64.

    json's C encoder walks the parameters; only a value it cannot write comes here (no walk in Python).
    """
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB JSON value")


#: made once (json.dumps with options makes an encoder each call); without the circular check (a dict of
#: every object's id, half the encoding's time): the parameters are the relay's own, never circular
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_binary, check_circular=False)


def _encode(params: dict[str, Any]) -> bytes:
    """boto3's parameters as DynamoDB's JSON body: bytes (attribute type B) as base64."""
    return _ENCODER.encode(params).encode()


def _binary_attribute(item: dict[str, Any]) -> dict[str, Any]:
    """json.loads' `object_hook`: a B attribute's base64 as bytes, as boto3 answers it."""
    value = item.get("B")
    if isinstance(value, str):
        item["B"] = base64.b64decode(value)
    return item


def _decode(text: bytes) -> Any:
    """DynamoDB's JSON as boto3 answers it (a B attribute's base64 as bytes), read in one pass; the hook
    (a Python call per object) only where a B attribute can be: its key in the text, or an escape."""
    if text == b"{}":  # what a write without ReturnValues, and a read of no item, answer: nothing to read
        return {}
    decoded = text.decode()  # DynamoDB answers in UTF-8 (json.loads of bytes would detect it in Python first)
    if '"B"' not in decoded and "\\u" not in decoded:
        return json.loads(decoded)
    return json.loads(decoded, object_hook=_binary_attribute)


def _hmac(key: bytes, text: str) -> bytes:
    """HMAC-SHA256 in one C call (`hmac.digest`; `hmac.new` builds a Python object first)."""
    return hmac.digest(key, text.encode(), "sha256")


def _keyed(key: bytes) -> Any:
    """HMAC-SHA256 with `key`, set up once and copied per signature (`_sign`): OpenSSL's one-shot HMAC
    (`hmac.digest`) sets a MAC up anew on every call, 2.7 us against 1.2 (python3.13; the signature is
    checked against botocore's in tests/unit/test_table_client.py)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def _sign(keyed: Any, text: str) -> str:
    """HMAC-SHA256 of `text` with a key set up by `_keyed`, as hex."""
    mac = keyed.copy()
    mac.update(text.encode())
    return str(mac.hexdigest())


class TableClient:
    """put_item, get_item, update_item, delete_item, query, transact_write_items and batch_write_item as boto3's
    low-level client takes them."""

    def __init__(self, container: Container, *, url: str, region: str, key_id: str, secret: str, token: str | None):
        self._container = container
        self._url = url.rstrip("/") + "/"
        self._host = self._url.split("://", 1)[1].split("/", 1)[0]
        self._region = region
        self._key_id = key_id
        self._secret = secret
        self._token = token
        import urllib3

        self._timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
        self._path = urllib3.util.parse_url(self._url).request_uri
        #: the container's DynamoDB pool manager and its pool of this one host (`_host_pool`)
        self._pools: tuple[Any, Any] = (None, None)
        #: the SigV4 signing key of one day (it depends only on the day, region, service and secret), set up
        self._signing_key: tuple[str, Any] = ("", None)
        #: the x-amz-date of one second, and its second
        self._stamp: tuple[int, str] = (-1, "")
        #: what a call's signature shares with every other: the signed headers' names, the canonical
        #: request's lines of the host and the token, the credential's tail (made once, not per call)
        self._token_line = f"x-amz-security-token:{token}\n" if token else ""
        self._names = "content-type;host;x-amz-date" + (";x-amz-security-token" if token else "") + ";x-amz-target"
        self._tail = f"/{region}/{SERVICE}/aws4_request"

    def _key_of(self, day: str) -> Any:
        """The day's signing key, derived once a day (four HMACs a call less) and set up for `_sign`."""
        if self._signing_key[0] != day:
            secret = ("AWS4" + self._secret).encode()
            key = _hmac(_hmac(_hmac(_hmac(secret, day), self._region), SERVICE), "aws4_request")
            self._signing_key = (day, _keyed(key))
        return self._signing_key[1]

    def _host_pool(self) -> Any:
        """The connection pool of DynamoDB's host in the container's "dynamodb" pool manager, looked up
        once: each call then skips the manager's URL parsing and pool lookup. A container reset makes a
        new manager (its old pools closed): the host's pool is looked up again in that one."""
        manager = self._container.http("dynamodb")
        if self._pools[0] is not manager:
            self._pools = (manager, manager.connection_from_url(self._url))
        return self._pools[1]

    def _headers(self, target: str, body: bytes, now: float) -> dict[str, str]:
        """SigV4 headers (botocore's, tests/unit/test_table_client.py): the canonical request's headers
        in sorted order, written as one string; host is signed, and sent by urllib3 from the URL."""
        second = int(now)
        if self._stamp[0] != second:  # formatted once a second
            self._stamp = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
        stamp = self._stamp[1]
        day = stamp[:8]
        full_target = TARGET_PREFIX + target
        canonical = (
            f"POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{self._host}\nx-amz-date:{stamp}\n{self._token_line}"
            f"x-amz-target:{full_target}\n\n{self._names}\n{hashlib.sha256(body).hexdigest()}"
        )
        scope = day + self._tail
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = _sign(self._key_of(day), to_sign)
        headers = {"content-type": CONTENT_TYPE, "x-amz-date": stamp, "x-amz-target": full_target}
        if self._token:
            headers["x-amz-security-token"] = self._token
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._key_id}/{scope}, SignedHeaders={self._names}, Signature={signature}"
        )
        return headers

    def call(self, target: str, params: dict[str, Any]) -> dict[str, Any]:
        """One DynamoDB call (`target`: PutItem, GetItem...); its answer, or TableError."""
        import urllib3

        body = _encode(params)
        pool = self._host_pool()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                answer = pool.urlopen(
                    "POST",
                    self._path,
                    body=body,
                    headers=self._headers(target, body, time.time()),
                    timeout=self._timeout,
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=True,
                )
            except urllib3.exceptions.HTTPError:
                if attempt == ATTEMPTS:
                    raise
                continue
            try:
                data = _decode(answer.data or b"{}")
            except ValueError:
                data = {}
            if answer.status == 200:
                return data  # type: ignore[no-any-return]
            code = str(data.get("__type", "")).rpartition("#")[2] or f"HTTP{answer.status}"
            if attempt < ATTEMPTS and (answer.status >= 500 or code in _RETRYABLE):
                time.sleep(0.025 * 2**attempt)  # a short backoff, as boto3's
                continue
            kind = ConditionalCheckFailedException if code == "ConditionalCheckFailedException" else TableError
            raise kind(code, str(data.get("message") or data.get("Message") or ""), data)
        raise AssertionError("unreachable")  # pragma: no cover

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.call("PutItem", params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self.call("UpdateItem", params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self.call("DeleteItem", params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self.call("Query", params)

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        """Up to 100 writes, all or none (a TransactionCanceledException's CancellationReasons say why)."""
        return self.call("TransactWriteItems", params)

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        """Up to 25 puts and deletes, each on its own (those not done come back as UnprocessedItems)."""
        return self.call("BatchWriteItem", params)


def client(container: Container) -> Any:
    """The container's DynamoDB client: this light one when the environment holds the function's
    credentials (as Lambda's does), else boto3's (`container.aws`)."""

    def make() -> Any:
        env = container.environ
        key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not (key_id and secret and region):
            return container.aws(SERVICE)
        url = (
            env.get("AWS_ENDPOINT_URL_DYNAMODB")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://dynamodb.{region}.amazonaws.com"
        )
        return TableClient(
            container, url=url, region=region, key_id=key_id, secret=secret, token=env.get("AWS_SESSION_TOKEN")
        )

    return container.once("table-client", make)
