"""The ports of `make run` are free again as soon as a stack stopped: the port check binds as the
servers bind (SO_REUSEADDR), so the TIME_WAIT sockets a stopped server leaves do not count as "in
use", while a listening socket still does; and the servers close their listening sockets when they
stop. (tests/e2e/test_make_run.py restarts the whole `make run`.)"""

from __future__ import annotations

import socket

import pytest
import urllib3

from local.__main__ import PortError, _port
from local.aws import LocalAws, start_moto
from local.emulator import Emulator
from tests.support import free_port


def binds_without_reuse(port: int) -> bool:
    """Whether a plain bind (no SO_REUSEADDR: the port check of old) takes the port."""
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def test_a_port_left_with_time_wait_sockets_is_free_for_the_next_start() -> None:
    # Given an emulator on a fixed port that served a real request over a kept-alive connection
    port = free_port()
    pool = urllib3.PoolManager()
    first = Emulator()
    first.start(port=port)
    try:
        assert pool.request("GET", f"http://127.0.0.1:{port}/_emulator/health", timeout=10).status == 200
    finally:
        first.stop()
    # When it has stopped (closing that connection first) and the client let go
    pool.clear()
    # Then a socket of the old connection remains on the port: a plain bind, the check of old, fails
    assert not binds_without_reuse(port), "no socket lingered on the port: the test proves nothing"
    # And yet `make run`'s port check takes the port, and a new emulator starts there and answers
    assert _port(str(port), 3100, "EMULATOR_PORT") == port
    second = Emulator()
    second.start(port=port)
    try:
        assert urllib3.request("GET", f"http://127.0.0.1:{port}/_emulator/health", timeout=10).status == 200
    finally:
        second.stop()


def test_a_listening_port_is_still_in_use() -> None:
    # Given a socket listening on a port with SO_REUSEADDR (as every HTTP server of the stack)
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # When `make run` checks that port / Then it is in use
        with pytest.raises(PortError, match=f"port {port} \\(AWS_PORT\\) is already in use"):
            _port(str(port), 3200, "AWS_PORT")


def test_local_aws_frees_its_port_when_it_stops() -> None:
    # Given local AWS (moto) on a fixed port that served a real request
    port = free_port()
    server, endpoint = start_moto(port)
    aws = LocalAws(endpoint=endpoint, server=server)
    assert urllib3.request("GET", f"{endpoint}/moto-api/", timeout=10).status < 500
    # When it stops
    aws.stop()
    # Then the port takes a new moto server at once (werkzeug closes its socket when serving ends)
    again, endpoint_again = start_moto(port)
    try:
        assert endpoint_again == endpoint
        assert urllib3.request("GET", f"{endpoint}/moto-api/", timeout=10).status < 500
    finally:
        LocalAws(endpoint=endpoint_again, server=again).stop()
