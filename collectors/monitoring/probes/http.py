"""HTTP(S) probe: status, latency, expected status / keyword, TLS certificate days left.

config: url (required), method ("GET"), expected_status (int or list; default any 2xx/3xx),
keyword (text the body must contain), headers ({}), verify_tls (true), ca_file (a CA bundle
to trust besides the system's, for internal CAs),
tls_warn_days (14: fewer days left marks the probe degraded), max_body_bytes (1 MiB).
"""

from __future__ import annotations

import http.client
import ssl
import time
from urllib.parse import urlsplit

from collectors.monitoring.probes.base import ProbeConfigError, ProbeResult, Stopwatch, need


def _expected(config: dict) -> set[int] | None:
    value = config.get("expected_status")
    if value in (None, "", []):
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return {int(v) for v in values}
    except (TypeError, ValueError) as exc:
        raise ProbeConfigError("expected_status must be a status code or a list of them") from exc


def cert_days_left(cert: dict | None) -> float | None:
    if not cert or "notAfter" not in cert:
        return None
    expires = ssl.cert_time_to_seconds(cert["notAfter"])
    return round((expires - time.time()) / 86400, 2)


def _read_body(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """Read up to ``limit`` bytes by ``deadline`` (perf_counter). The socket timeout applies
    to each read, so a server trickling its body a byte at a time would never trip it and
    would hold the probe's thread for as long as it likes."""
    chunks, size = [], 0
    while size < limit:
        if time.perf_counter() > deadline:
            raise TimeoutError("the body did not arrive within the timeout")
        chunk = response.read1(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    url = str(need(config, "url"))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeConfigError(f"url must be http:// or https://, got {url!r}")
    expected = _expected(config)
    method = str(config.get("method", "GET")).upper()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": "PenguinMon-probe/1", **config.get("headers", {})}
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if config.get("ca_file"):
            context.load_verify_locations(cafile=str(config["ca_file"]))
        if not config.get("verify_tls", True):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    watch = Stopwatch()
    cert = None
    try:
        conn.connect()
        if parts.scheme == "https" and config.get("verify_tls", True):
            # Read the certificate now: http.client drops the socket once a response ends.
            cert = conn.sock.getpeercert()
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        body = _read_body(
            response, int(config.get("max_body_bytes", 1 << 20)), watch.start + timeout
        )
        latency = watch.ms
    finally:
        conn.close()

    result = ProbeResult(ok=True, latency_ms=latency, details={"status": response.status})
    days = cert_days_left(cert)
    if days is not None:
        result.add("tls_cert_days_left", days)
        result.details["tls_cert_days_left"] = days
        if days < float(config.get("tls_warn_days", 14)):
            result.degraded = True
            result.message = f"TLS certificate expires in {days:.0f} days"
    status_ok = response.status in expected if expected else 200 <= response.status < 400
    if not status_ok:
        want = sorted(expected) if expected else "2xx/3xx"
        return ProbeResult.failure(
            f"HTTP {response.status}, expected {want}", latency_ms=latency, status=response.status
        )
    keyword = config.get("keyword")
    if keyword and keyword.encode() not in body:
        return ProbeResult.failure(
            f"HTTP {response.status} but body lacks {keyword!r}",
            latency_ms=latency,
            status=response.status,
        )
    if not result.message:
        result.message = f"HTTP {response.status} in {latency:.0f} ms"
    return result
