"""A local stand-in of the AWS Parameters and Secrets Lambda Extension's Secrets Manager endpoint.

In Lambda the extension (an AWS layer) listens on localhost:2773 (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT)
and answers `GET /secretsmanager/get?secretId=<id>` with GetSecretValue's JSON, to callers that send
the function's session token in `X-Aws-Parameters-Secrets-Token`; it caches each secret for
SECRETS_MANAGER_TTL seconds. This serves the same interface on 127.0.0.1 from local AWS (moto), so
`make run`, the tests and the bench exercise the relay's extension path; it counts the reads it
serves and the ones it had to pass to Secrets Manager.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.httpserver import ClosableHTTPServer

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name
#: The fields of GetSecretValue's answer the extension passes on.
_FIELDS = ("ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate")


@dataclass
class ExtensionStats:
    requests: int = 0
    #: reads that went to Secrets Manager (cache misses)
    fetches: int = 0
    refused: int = 0


@dataclass
class SecretsExtension:
    """The extension's endpoint, backed by the Secrets Manager at `aws_endpoint` (moto).

    `token` is the session token callers must send; `ttl` the extension's cache lifetime in seconds
    (0: every read goes to Secrets Manager).
    """

    aws_endpoint: str
    token: str
    ttl: float = 0.0
    region: str = "us-east-1"
    stats: ExtensionStats = field(default_factory=ExtensionStats)
    _server: ClosableHTTPServer | None = None
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: Any = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def start(self, port: int = 0) -> int:
        import boto3

        self._client = boto3.client(
            "secretsmanager",
            endpoint_url=self.aws_endpoint,
            region_name=self.region,
            aws_access_key_id="local",  # moto's fake credentials
            aws_secret_access_key="local",  # noqa: S106
        )
        handler = type("ExtensionHandler", (_Handler,), {"extension": self})
        self._server = ClosableHTTPServer(("127.0.0.1", port), handler, thread_name="secrets-extension")
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="secrets-extension", daemon=True
        ).start()
        return self.port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
            server.join_handlers(5.0)
        if self._client is not None:
            self._client.close()
            self._client = None

    def clear(self) -> None:
        """Forget the cached secrets (as a new execution environment's extension starts empty)."""
        with self._lock:
            self._cache.clear()

    def read(self, secret_id: str) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer) for one secret, from the cache while it is fresh."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(secret_id)
        if hit is not None and now - hit[0] < self.ttl:
            return 200, hit[1]
        client = self._client
        if client is None:
            return 503, {"message": "extension stopped"}
        try:
            answer = client.get_secret_value(SecretId=secret_id)
        except client.exceptions.ResourceNotFoundException:
            return 400, {"message": f"ResourceNotFoundException: secret {secret_id} not found"}
        except Exception as exc:
            return 500, {"message": type(exc).__name__}
        body = {key: answer[key] for key in _FIELDS if key in answer}
        if "CreatedDate" in body:
            body["CreatedDate"] = str(body["CreatedDate"])
        with self._lock:
            self.stats.fetches += 1
            if self.ttl > 0:
                self._cache[secret_id] = (now, body)
        return 200, body


class _Handler(BaseHTTPRequestHandler):
    extension: SecretsExtension  # set on the subclass made per server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        extension = self.extension
        with extension._lock:
            extension.stats.requests += 1
        if self.headers.get(TOKEN_HEADER) != extension.token:
            with extension._lock:
                extension.stats.refused += 1
            self._send(401, {"message": f"missing or wrong {TOKEN_HEADER}"})
            return
        secret_id = (parse_qs(url.query).get("secretId") or [""])[0]
        if url.path.rstrip("/") != "/secretsmanager/get" or not secret_id:
            self._send(400, {"message": "expected GET /secretsmanager/get?secretId=<id>"})
            return
        self._send(*extension.read(secret_id))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
