"""Real servers on 127.0.0.1 for the probe tests: a port with nothing listening, a socket that
accepts and never answers, an HTTPS server with a certificate from a throwaway CA, and
pytest-httpserver handlers answering like Elasticsearch and ClickHouse."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Self

from tests.support.net import free_port

# A port on 127.0.0.1 with nothing listening: a free one (bound, then released).
closed_port = free_port


class SilentServer:
    """Accepts TCP connections and never sends a byte (a hung service)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)  # the kernel completes handshakes; nobody ever reads or answers
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


class _Trickler:
    """Accepts one connection, does what the subclass does at once (``_begin``), then sends
    the bytes it returned one per ``every`` seconds. ``sent_all`` is set once all are out."""

    def __init__(self, *, every: float) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.every = every
        self.stop = threading.Event()
        self.sent_all = threading.Event()

    def _begin(self, conn: socket.socket) -> bytes:
        return b""

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return  # closed before anyone connected
        with conn:
            data = self._begin(conn)
            for i in range(len(data)):
                if self.stop.wait(self.every):
                    return
                try:
                    conn.sendall(data[i : i + 1])
                except OSError:
                    return  # the client gave up
            self.sent_all.set()

    def __enter__(self) -> Self:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sock.close()


class TricklingServer(_Trickler):
    """Answers HTTP 200 with its headers at once, then sends the body one byte per ``every``
    seconds: each read succeeds, so only a deadline on the whole exchange stops a client."""

    def __init__(self, *, length: int = 50, every: float = 0.1) -> None:
        super().__init__(every=every)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.length = length

    def _begin(self, conn: socket.socket) -> bytes:
        conn.recv(65536)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {self.length}\r\n\r\n".encode())
        return b"x" * self.length


class TricklingBannerServer(_Trickler):
    """An SMTP-like server that sends its "220 ..." banner one byte per ``every`` seconds:
    every read succeeds, so only a deadline on the whole conversation stops a client.
    ``sent_all`` is set once the whole banner has gone out."""

    def __init__(self, *, banner: bytes = b"220 " + b"m" * 60 + b" ESMTP\r\n", every: float = 0.1):
        super().__init__(every=every)
        self.banner = banner

    def _begin(self, conn: socket.socket) -> bytes:
        return self.banner


def make_certificate(directory: Path, *, days: int) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 valid ``days`` days; returns (ca, cert, key)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "srv.key", directory / "srv.csr", directory / "srv.pem"
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)  # noqa: E731
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "30",
        "-subj",
        "/CN=PenguinMon test CA",
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        str(days),
        "-extfile",
        str(ext),
    )
    return ca, cert, key


class HttpsServer:
    """http.server over TLS answering 200 "ok" to every GET."""

    def __init__(self, cert: Path, key: Path) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> HttpsServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
