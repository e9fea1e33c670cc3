"""A local stand-in for Shopify's Admin GraphQL API: `metafieldsSet`, answered and throttled as Shopify does.

POST /admin/api/<version>/graphql.json with `X-Shopify-Access-Token`: the token must be the stand-in's
(401 otherwise, as Shopify); the body a `metafieldsSet` mutation with `variables.metafields`. Each call
costs 10 points from a leaky bucket (maximumAvailable 1000, restoreRate 50 a second: Shopify's standard
plan); every answer has `extensions.cost.throttleStatus`, and a call the bucket cannot pay for is answered
200 with `errors[].extensions.code == "THROTTLED"`, as Shopify answers it.

For tests and `make run`:
- GET /_shopify/requests: every request received (path, headers but the token, parsed body, answer status);
- GET /_shopify/metafields: the metafields as set, by owner, namespace and key;
- POST /_shopify/outage {"seconds": n} (0 ends it): 503 for every Admin call until then.
Time is the stand-in's `clock` (time.time by default): a test injects its own to live through an outage
or a refill without sleeping.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from local.httpserver import ClosableHTTPServer

#: The local shop: the write-back's ShopifyShopDomain and the shop of the demo's Shopify webhooks.
SHOP_DOMAIN = "relay-demo.myshopify.com"
ADMIN_TOKEN = "shpat_local_admin_token_0f3a9c"  # noqa: S105 - the stand-in's own, not a real token
MAX_AVAILABLE = 1000.0
RESTORE_RATE = 50.0
MUTATION_COST = 10.0


class ShopifyAdmin:
    """The stand-in's state: the bucket, the metafields, the requests, the outage; thread-safe."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, maximum: float = MAX_AVAILABLE, restore: float = RESTORE_RATE
    ) -> None:
        self.clock = clock
        self.maximum, self.restore = maximum, restore
        self._available, self._at = maximum, clock()
        self.down_until = 0.0
        self.requests: list[dict[str, Any]] = []
        self.metafields: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def outage(self, seconds: float) -> None:
        with self._lock:
            self.down_until = self.clock() + seconds if seconds > 0 else 0.0

    def drain(self, points: float) -> None:
        """Spend `points` of the bucket now (a test's other app using the shop's API)."""
        with self._lock:
            self._refill()
            self._available = max(self._available - points, 0.0)

    def _refill(self) -> None:
        now = self.clock()
        self._available = min(self.maximum, self._available + self.restore * max(now - self._at, 0.0))
        self._at = now

    def _status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self._available, 3),
            "restoreRate": self.restore,
        }

    def answer(self, path: str, token: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            status, body = self._answer(path, token, raw)
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            self.requests.append({"path": path, "body": parsed, "status": status, "at": self.clock()})
            return status, body

    def _answer(self, path: str, token: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        if not (path.startswith("/admin/api/") and path.endswith("/graphql.json")):
            return 404, {"errors": "Not Found"}
        if self.clock() < self.down_until:
            return 503, {"errors": "Service Unavailable"}
        if token != ADMIN_TOKEN:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        try:
            request = json.loads(raw)
            query, variables = str(request["query"]), request.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}
        if "metafieldsSet" not in query:
            return 200, {"errors": [{"message": "The stand-in answers metafieldsSet only"}]}
        self._refill()
        cost = {"requestedQueryCost": MUTATION_COST, "actualQueryCost": None, "throttleStatus": self._status()}
        if self._available < MUTATION_COST:
            throttled = {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "rate-limits"}}
            return 200, {"errors": [throttled], "extensions": {"cost": cost}}
        self._available -= MUTATION_COST
        cost["actualQueryCost"] = MUTATION_COST
        cost["throttleStatus"] = self._status()
        set_now = []
        errors = []
        for index, field in enumerate(variables.get("metafields") or []):
            missing = [name for name in ("ownerId", "namespace", "key", "type", "value") if not field.get(name)]
            if missing:
                errors.append({"field": ["metafields", str(index), missing[0]], "message": "can't be blank"})
                continue
            kept = {**{k: field[k] for k in ("namespace", "key", "type", "value")}, "updatedAt": _iso(self.clock())}
            self.metafields.setdefault(field["ownerId"], {})[f"{field['namespace']}.{field['key']}"] = kept
            set_now.append(kept)
        data = {"metafieldsSet": {"metafields": [] if errors else set_now, "userErrors": errors}}
        return 200, {"data": data, "extensions": {"cost": cost}}


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _handler(admin: ShopifyAdmin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_shopify/requests":
                with admin._lock:
                    self._send(200, list(admin.requests))
            elif self.path == "/_shopify/metafields":
                with admin._lock:
                    self._send(200, admin.metafields)
            else:
                self._send(404, {"errors": "Not Found"})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/_shopify/outage":
                admin.outage(float(json.loads(raw or b"{}").get("seconds") or 0))
                self._send(200, {"downUntil": admin.down_until})
                return
            status, body = admin.answer(self.path, self.headers.get("X-Shopify-Access-Token"), raw)
            self._send(status, body)

    return Handler


class ShopifyAdminServer:
    """The stand-in on 127.0.0.1 (port 0: any free one)."""

    def __init__(self, admin: ShopifyAdmin | None = None, port: int = 0) -> None:
        self.admin = admin or ShopifyAdmin()
        self.server = ClosableHTTPServer(("127.0.0.1", port), _handler(self.admin), thread_name="shopify-admin")
        self._thread = threading.Thread(target=self.server.serve_forever, name="shopify-admin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def graphql_url(self, version: str = "2026-04") -> str:
        return f"{self.url}/admin/api/{version}/graphql.json"

    def start(self) -> ShopifyAdminServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.server.join_handlers(2.0)
