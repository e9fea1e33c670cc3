"""A threaded HTTP server whose stop leaves no handler thread behind (the emulator's and the gateway's).

A client holding a kept-alive connection would otherwise keep its handler thread blocked in a read
after shutdown(), and that thread would still serve whatever the client sends next.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ClosableHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    #: SO_REUSEADDR (HTTPServer's default, said here): a stopped server's TIME_WAIT sockets do not keep
    #: the next one, on the same port, from starting
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, thread_name: str) -> None:
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._handler_ids = itertools.count(1)
        self._thread_name = thread_name
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{self._thread_name}-{next(self._handler_ids)}",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def close_connections(self) -> None:
        """Unblock handlers waiting on idle keep-alive connections."""
        with self._connections_lock:
            sockets = list(self._connections)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> None:
        """Wait (bounded) until every handler thread has ended."""
        deadline = time.monotonic() + timeout
        while True:
            with self._connections_lock:
                threads = list(self._connections.values())
            if not threads or time.monotonic() >= deadline:
                return
            for thread in threads:
                thread.join(timeout=max(deadline - time.monotonic(), 0.0))
