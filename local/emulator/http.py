"""The emulator's HTTP plumbing: a stdlib threaded HTTP/1.1 server on loopback, and its replies.

The handler reads the request (Content-Length or chunked, at most MAX_BODY bytes), splits the raw
target into path and query without decoding, and hands it to the application: `/_emulator/...` to
`serve_admin`, everything else to `serve_api`. Bodies are sent as given, with a Content-Length.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import urlsplit

from local.emulator.errors import ApiError
from local.emulator.jsonio import dump_bytes
from local.httpserver import ClosableHTTPServer

logger = logging.getLogger("local.emulator")

#: Request bodies larger than this are refused (413).
MAX_BODY = 10 * 1024 * 1024


@dataclass
class Reply:
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer (never NaN or Infinity: a payload holding one raises ValueError)."""
    return Reply(status, dump_bytes(payload), {"Content-Type": "application/json", **(headers or {})})


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), error.headers)


class Application(Protocol):
    def serve_admin(self, method: str, raw_path: str, body: bytes) -> Reply: ...

    def serve_api(self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply: ...


def loopback_address(host: str) -> str:
    """The address to bind for a loopback host; ValueError for anything else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"host must be a loopback address, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the emulator listens on loopback only, got {host!r}")
    return str(address)


class EmulatorHTTPServer(ClosableHTTPServer):
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: Application) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, _Handler, thread_name="talon-emulator-conn")

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TalonOneEmulator/1.0"
    sys_version = ""
    #: idle keep-alive connections are closed after this many seconds
    timeout = 30
    #: one buffered write per response (flushed by handle_one_request), and no Nagle delay
    wbufsize = -1
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr lines: the emulator logs one line per request itself."""

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        app = self.server.app
        try:
            body = self._read_body()
        except _BadRequest as error:
            self.close_connection = True
            self._send(error_reply(ApiError(error.status, error.message, title="Bad request")))
            return
        target = self.path
        if not target.startswith("/"):
            parts = urlsplit(target)  # absolute-form; urlsplit does not decode the path
            raw_path, query = parts.path or "/", parts.query
        else:
            raw_path, _, query = target.partition("?")
        headers = {key: value for key, value in self.headers.items()}
        if raw_path == "/_emulator" or raw_path.startswith("/_emulator/"):
            reply = app.serve_admin(self.command, raw_path, body)
        else:
            reply = app.serve_api(self.command, raw_path, query, headers, body)
        if reply.drop:
            self.close_connection = True
            return
        self._send(reply)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _BadRequest(400, "Content-Length is not a number") from None
        if length < 0:
            raise _BadRequest(400, "Content-Length is negative")
        if length > MAX_BODY:
            raise _BadRequest(413, f"Request body larger than {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "Malformed chunked body") from None
            if size < 0:
                raise _BadRequest(400, "Malformed chunked body")
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _BadRequest(413, f"Request body larger than {MAX_BODY} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.status != 204 and not 100 <= reply.status < 200:
            self.send_header("Content-Length", str(len(reply.body or b"")))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.body and reply.status != 204:
            self.wfile.write(reply.body)
