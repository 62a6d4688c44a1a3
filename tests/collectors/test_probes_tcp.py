"""The tcp probe: a listening port, a refused port, a silent server."""

from __future__ import annotations

import socket
import threading

from collectors.monitoring.probes import run_check
from tests.collectors.servers import SilentServer, closed_port


def test_it_connects_to_a_listening_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        result = run_check(
            "tcp", {"host": "127.0.0.1", "port": listener.getsockname()[1]}, timeout=2
        )
    assert result.ok
    assert result.latency_ms < 2000


def test_it_checks_the_banner():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        conn, _ = listener.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    config = {"host": "127.0.0.1", "port": listener.getsockname()[1], "expect": "SSH-2.0"}
    result = run_check("tcp", config, timeout=2)
    listener.close()
    assert result.ok, result.message


def test_a_refused_port_fails():
    result = run_check("tcp", {"host": "127.0.0.1", "port": closed_port()}, timeout=2)
    assert not result.ok
    assert result.message == "connection refused"


def test_a_server_that_never_answers_times_out():
    with SilentServer() as silent:
        config = {"host": "127.0.0.1", "port": silent.port, "expect": "220"}
        result = run_check("tcp", config, timeout=0.3)
    assert not result.ok
    assert result.message == "timed out after 0.3 s"


def test_a_missing_port_is_a_config_error():
    result = run_check("tcp", {"host": "127.0.0.1"}, timeout=1)
    assert not result.ok
    assert result.message == "bad config: config needs 'port'"
