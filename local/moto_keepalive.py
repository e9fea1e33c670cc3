"""moto's WSGI application served with HTTP/1.1 keep-alive on loopback, as DynamoDB and SQS keep connections.

moto's own ThreadedMotoServer runs werkzeug's development server, which answers every request with
`Connection: close` (werkzeug's `WSGIRequestHandler.run_wsgi` hard-codes it, since it cannot tell where an
unread body ends) and then drains the socket: each AWS call of the relay opened a new TCP connection and
moto a new thread, which AWS does not make a client do (the relay's urllib3 pools keep connections). Neither
werkzeug nor moto has an option for it. Here the request body is read whole by its Content-Length (or
de-chunked) before moto sees it, so a body moto leaves unread cannot be taken for the next request line,
and every answer carries its Content-Length. Everything else is moto's: its application
(`DomainDispatcherApplication(create_backend_app)`, as ThreadedMotoServer builds it), its request handler's
environ (`MotoRequestHandler.make_environ`) and its backends, with local/aws.py's patches.
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import threading
import traceback
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import DechunkedInput

from local.httpserver import ClosableHTTPServer

#: Headers this server writes itself: the body's length, and whether the connection stays open.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding"})


class KeepAliveHandler(MotoRequestHandler):
    """One connection, many requests: each answered with its Content-Length, the connection kept open
    until the client closes it, asks to (`Connection: close`), or the server stops."""

    protocol_version = "HTTP/1.1"
    #: TCP_NODELAY, as urllib3 sets on its side: an answer's headers and body are two writes, and Nagle's
    #: algorithm would hold the body back for the client's delayed ACK on a kept connection
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._request_body()
        if body is None:
            return
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        status, headers, payload = self._answer(environ)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        declared = None
        for name, value in headers:
            if name.lower() == "content-length":
                declared = value
            elif name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)
        bodiless = int(code) < 200 or int(code) in (204, 304)
        if not bodiless:  # a HEAD answer says the length a GET's body would have
            self.send_header("Content-Length", declared if self.command == "HEAD" and declared else str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodiless and self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _request_body(self) -> bytes | None:
        """The whole request body, read off the connection; None (answered 400, connection closed) when its
        length cannot be known."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return DechunkedInput(self.rfile).read()  # type: ignore[arg-type]
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length else 0
            if size < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self.send_error(400, f"Content-Length is not a length: {length!r}")
            return None
        return self.rfile.read(size) if size else b""

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """moto's answer, whole: status, headers and body (a 500 when moto itself fails, as werkzeug answers)."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            self.server.log("error", f"Error on request:\n{traceback.format_exc()}")
            return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"Internal Server Error"
        return started[0], started[1], b"".join(chunks)


class _Server(ClosableHTTPServer):
    """The local servers' own (`local.httpserver`: its stop leaves no handler thread behind), with what
    werkzeug's request handler reads of a werkzeug server: the application, threads yes, processes no,
    no TLS, errors logged as werkzeug logs them."""

    multithread, multiprocess, passthrough_errors, ssl_context = True, False, False, None
    _server_version = f"Werkzeug/{importlib.metadata.version('werkzeug')}"

    def __init__(self, host: str, port: int, app: Any) -> None:
        self.app = app
        super().__init__((host, port), KeepAliveHandler, thread_name="moto")

    def log(self, type: str, message: str, *args: Any) -> None:
        """As werkzeug's server logs: to the `werkzeug` logger, at the level `type` names."""
        getattr(logging.getLogger("werkzeug"), type)(message.rstrip(), *args)


class KeepAliveMotoServer:
    """ThreadedMotoServer's interface (start, stop, get_host_and_port), serving with keep-alive. The port is
    bound when the server is made, so a port in use fails here, not on the serving thread."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server(ip_address, port, DomainDispatcherApplication(create_backend_app))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-keepalive", daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop accepting, then end the connections still open and wait (bounded) for their threads, as the
        other local servers stop."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()
        self._server.join_handlers(5.0)
