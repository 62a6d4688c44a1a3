"""PenguinMon watching its own doors (seed 000 §11): logins, lockouts, refused requests, token
use from new addresses and audit activity become metrics in the store, so the operations page
charts them and the default rules alert on bursts.

Events are counted in a Redis hash on the request path (one HINCRBY; an attack's burst never
turns into a burst of database writes) and ``flush_counts`` (beat, every 15 s) writes one
sample per series with the count since the last flush. Counting never fails a request: with
Redis unreachable the event is logged and dropped.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

import orjson
import redis
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from collectors.store import write_samples
from penguinmon.api_auth import token_used
from penguinmon.models import AuditLog
from penguinmon.queues import redis_client

log = logging.getLogger(__name__)

COUNTS_KEY = "penguinmon:security-counts"
ADDRESSES_KEY = "penguinmon:token-addresses:{}"
ADDRESS_MEMORY_S = 30 * 86400  # a token's addresses are forgotten 30 days after its last use
# Token/address pairs this process saw lately: most API calls then cost no Redis round trip.
_recent: dict[tuple[str, str], float] = {}
_RECENT_S = 600
_RECENT_MAX = 10_000


def count(metric: str, labels: dict[str, str] | None = None, n: int = 1) -> None:
    field = orjson.dumps([metric, labels or {}], option=orjson.OPT_SORT_KEYS)
    try:
        redis_client().hincrby(COUNTS_KEY, field, n)
    except redis.RedisError as exc:
        log.warning("security event %s not counted: %s", metric, exc)


def flush_counts(*, now: datetime | None = None) -> int:
    """Write the counts gathered since the last flush as one sample per series; returns the
    number of series written. The hash is renamed first, so events counted meanwhile go to
    the next flush instead of being lost between the read and the delete."""
    client = redis_client()
    taken = f"{COUNTS_KEY}:flushing:{uuid.uuid4().hex}"
    try:
        client.rename(COUNTS_KEY, taken)
    except redis.ResponseError:  # no such key: nothing happened since the last flush
        return 0
    counts = client.hgetall(taken)
    ts = now or timezone.now()
    samples = []
    for field, value in counts.items():
        metric, labels = orjson.loads(field)
        samples.append({"metric": metric, "labels": labels, "value": int(value), "ts": ts})
    try:
        write_samples(samples, source="security")
    except Exception:
        # The store is unreachable: put the counts back for the next flush.
        pipe = client.pipeline()
        for field, value in counts.items():
            pipe.hincrby(COUNTS_KEY, field, int(value))
        pipe.delete(taken)
        pipe.execute()
        raise
    client.delete(taken)
    return len(samples)


def _actor(request) -> str:
    token = getattr(request, "api_token", None)
    if token is not None:
        return f"token {token.prefix}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.get_username()[:100]
    return "anonymous"


class ForbiddenMetricsMiddleware:
    """Counts every 403 answer, in total and by route pattern and who was refused."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            match = getattr(request, "resolver_match", None)
            route = "/" + match.route if match is not None and match.route else "unmatched"
            count("security_forbidden")
            count("security_forbidden_by_route", {"route": route[:200], "actor": _actor(request)})
        return response


@receiver(user_logged_in, dispatch_uid="security-login")
def _logged_in(sender, request=None, user=None, **kwargs) -> None:
    count("security_logins", {"result": "success"})


@receiver(user_login_failed, dispatch_uid="security-login-failed")
def _login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    # No username label: whoever attacks chooses the names, and with them the series count.
    count("security_logins", {"result": "failure"})


@receiver(user_locked_out, dispatch_uid="security-lockout")
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    count("security_lockouts")


@receiver(post_save, sender=AuditLog, dispatch_uid="security-audit")
def _audited(sender, instance: AuditLog, created: bool = False, **kwargs) -> None:
    if created:
        count("security_audit_events", {"action": instance.action[:64]})


@receiver(token_used, dispatch_uid="security-token-address")
def _token_used(sender, token, address: str = "", **kwargs) -> None:
    if not address:
        return
    # Keyed by the token's hash, not its id: ids come back after a database is recreated.
    ident = token.token_hash[:32]
    key, now = (ident, address), time.monotonic()
    if now - _recent.get(key, -_RECENT_S) < _RECENT_S:
        return
    if len(_recent) > _RECENT_MAX:
        _recent.clear()
    try:
        pipe = redis_client().pipeline()
        pipe.sadd(ADDRESSES_KEY.format(ident), address)
        pipe.expire(ADDRESSES_KEY.format(ident), ADDRESS_MEMORY_S)
        added, _ = pipe.execute()
    except redis.RedisError as exc:
        log.warning("token address not checked: %s", exc)
        return
    _recent[key] = now
    if added:
        count("security_token_new_address", {"token": token.prefix})
