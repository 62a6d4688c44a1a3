"""Probe kinds: one module per kind, each with ``check(config, *, timeout, state) -> ProbeResult``.

Adding a kind is a new module plus one line in ``PROBES``. ``run_check`` is what the runner
calls: it turns any exception into a failed result carrying the reason, so a broken target or
a bug in one probe never takes down the worker or the other probes.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass

from collectors.monitoring.probes import (
    clickhouse,
    dns,
    elasticsearch,
    http,
    lag,
    postgres,
    prometheus,
    redis,
    smtp,
    tcp,
)
from collectors.monitoring.probes.base import Metric, ProbeConfigError, ProbeResult, Stopwatch

CheckFn = Callable[..., ProbeResult]


@dataclass(frozen=True)
class ProbeKind:
    check: CheckFn
    label: str
    required: tuple[str, ...]  # config keys that must be present (checked in admin / API)


PROBES: dict[str, ProbeKind] = {
    "http": ProbeKind(http.check, "HTTP(S)", ("url",)),
    "tcp": ProbeKind(tcp.check, "TCP connect", ("host", "port")),
    "dns": ProbeKind(dns.check, "DNS resolution", ("name",)),
    "smtp": ProbeKind(smtp.check, "SMTP", ("host",)),
    "postgres": ProbeKind(postgres.check, "PostgreSQL", ()),
    "redis": ProbeKind(redis.check, "Redis", ()),
    "elasticsearch": ProbeKind(elasticsearch.check, "Elasticsearch", ("url",)),
    "clickhouse": ProbeKind(clickhouse.check, "ClickHouse (OLAP, HTTP)", ("url",)),
    "prometheus": ProbeKind(prometheus.check, "Prometheus /metrics scrape", ("url",)),
    "lag": ProbeKind(lag.check, "Collector lag", ()),
}

KIND_CHOICES = [(name, kind.label) for name, kind in PROBES.items()]


def config_errors(kind: str, config: object) -> list[str]:
    """Problems with a probe's configuration, as sentences for a form or a 4xx answer."""
    if kind not in PROBES:
        return [f"unknown probe kind {kind!r}; known: {', '.join(PROBES)}"]
    if not isinstance(config, dict):
        return ["config must be a JSON object"]
    return [
        f"config needs '{key}' for a {kind} probe"
        for key in PROBES[kind].required
        if config.get(key) in (None, "")
    ]


def describe_error(exc: BaseException, timeout: float) -> str:
    # Libraries wrap socket errors (smtplib turns a timeout into SMTPServerDisconnected):
    # name the root cause the user can act on.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.timeout | TimeoutError):
            return f"timed out after {timeout:g} s"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {cause.verify_message}"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host: {cause.strerror or cause}"
        if isinstance(cause, urllib.error.URLError) and isinstance(cause.reason, BaseException):
            cause = cause.reason  # urllib keeps the socket error here, not in __cause__
            continue
        cause = cause.__cause__ or cause.__context__
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, ProbeConfigError):
        return f"bad config: {text}"
    return f"{exc.__class__.__name__}: {text}"


def run_check(kind: str, config: dict, *, timeout: float, state: dict | None = None) -> ProbeResult:
    """Run one probe; never raises."""
    watch = Stopwatch()
    try:
        probe = PROBES[kind]
    except KeyError:
        return ProbeResult.failure(f"unknown probe kind {kind!r}")
    try:
        result = probe.check(config or {}, timeout=timeout, state=dict(state or {}))
    except Exception as exc:  # any failure of the target (or the probe) is a result, not a crash
        return ProbeResult.failure(describe_error(exc, timeout), latency_ms=watch.ms)
    if not result.ok and not result.state:
        result.state = dict(state or {})  # keep counters for the next successful run
    return result


__all__ = [
    "PROBES",
    "KIND_CHOICES",
    "Metric",
    "ProbeKind",
    "ProbeResult",
    "ProbeConfigError",
    "config_errors",
    "run_check",
]
