"""Reputation settings: a Django setting of the same name wins, then the environment, then a
safe default. Read at call time so tests can change them with pytest-django's ``settings``."""

from __future__ import annotations

import os

from django.conf import settings


def _get(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value)


def _number(name: str, default: float) -> float:
    raw = _get(name, "")
    try:
        return float(raw) if raw != "" else default
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def resolver() -> tuple[str, int]:
    """(address, port) of the recursive resolver used for DNSBL and sender-DNS look-ups.

    REPUTATION_RESOLVER is "host", "host:port", "[v6]:port" or a bare IPv6 address. Unset, the
    first nameserver of /etc/resolv.conf on port 53. Spamhaus answers 127.255.255.254 to
    queries coming through public resolvers: production should run its own resolver or set
    SPAMHAUS_DQS_KEY.
    """
    from reputation.dnsbl import parse_resolver

    raw = _get("REPUTATION_RESOLVER", "").strip()
    if raw:
        return parse_resolver(raw)
    import dns.resolver

    try:
        return dns.resolver.Resolver().nameservers[0], 53
    except (dns.resolver.NoResolverConfiguration, IndexError, OSError):
        return "127.0.0.1", 53


def dns_timeout() -> float:
    """Seconds one query may take (retransmitted once halfway) before it counts as unknown."""
    return _number("REPUTATION_DNS_TIMEOUT", 3.0)


def dns_concurrency() -> int:
    return max(1, int(_number("REPUTATION_DNS_CONCURRENCY", 256)))


def spamhaus_dqs_key() -> str:
    return _get("SPAMHAUS_DQS_KEY", "").strip()


def history_days() -> int:
    return int(_number("REPUTATION_HISTORY_DAYS", 90))


def rotation_webhook_url() -> str:
    return _get("REPUTATION_ROTATION_WEBHOOK_URL", "").strip()


def rotation_webhook_secret() -> str:
    return _get("REPUTATION_ROTATION_WEBHOOK_SECRET", "")


def rotation_webhook_timeout() -> float:
    return _number("REPUTATION_ROTATION_WEBHOOK_TIMEOUT", 5.0)
