"""API authentication: ``Authorization: Bearer <token>`` with a scope, or the browser session.

Endpoints declare the scope they need: ``auth=api_auth("read")``. A token without the scope gets
403; no credentials get 401. The session path serves the web UI's own fetches (CSRF-checked
for unsafe methods); role checks for writes happen in the endpoint via ``user_can``.
"""

from __future__ import annotations

import time
import weakref
from datetime import timedelta
from functools import cache

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.dispatch import Signal
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from penguinmon.db import compiled_timestamps, prepared_cursor
from penguinmon.models import ApiToken, hash_token
from penguinmon.roles import user_can

LAST_USED_GRANULARITY = timedelta(minutes=1)


# Sent on every authenticated token use with the client's address (security monitoring
# counts uses from new addresses; see collectors.security).
token_used = Signal()


def client_address(request) -> str:
    """The client's address: behind the trusted TLS proxy, the one it appended to
    X-Forwarded-For (the last entry); otherwise the peer's."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")


@cache
def _active_token_sql() -> tuple[str, list[str], list[str]]:
    """The look-up of an active token and its user by hash, as SQL built once: it runs on every
    API request, and building the same ORM query each time cost more than running it."""
    user_model = get_user_model()
    t, u = ApiToken._meta, user_model._meta
    t_fields = [f.attname for f in t.concrete_fields]
    u_fields = [f.attname for f in u.concrete_fields]
    columns = [f"t.{f.column}" for f in t.concrete_fields] + [
        f"u.{f.column}" for f in u.concrete_fields
    ]
    sql = (
        f"SELECT {', '.join(columns)} FROM {t.db_table} t "
        f"JOIN {u.db_table} u ON u.{u.pk.column} = t.{t.get_field('user').column} "
        "WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.is_active "
        "AND (t.expires_at IS NULL OR t.expires_at > %s)"
    )
    return sql, t_fields, u_fields


def _read_token(token_hash: str) -> ApiToken | None:
    sql, t_fields, u_fields = _active_token_sql()
    with prepared_cursor() as cur:  # planning the join cost as much as running it
        compiled_timestamps(cur)
        cur.execute(sql, [token_hash, timezone.now()])
        row = cur.fetchone()
    if row is None:
        return None
    api_token = ApiToken.from_db(connection.alias, t_fields, row[: len(t_fields)])
    api_token.user = get_user_model().from_db(connection.alias, u_fields, row[len(t_fields) :])
    return api_token


# Active tokens by hash, with their users, as last read, and when: a check of a known token
# costs no round trip (a third of the query API's statements). Emptied as soon as Postgres
# notifies a change a check reads (migration penguinmon 0002), read on the socket of the
# connection each check runs on; emptied too by a new connection, which cannot have seen the
# changes made before it listened. Unknown and refused tokens are never kept.
_tokens: dict[str, tuple[ApiToken, float]] = {}
TOKEN_MEMORY_SECONDS = 60  # and re-read at least this often, whatever happens
TOKEN_MEMORY_MAX = 10_000
AUTH_CHANNEL = "penguinmon_auth"
_listening: weakref.WeakSet = weakref.WeakSet()  # psycopg connections that LISTEN


def forget_tokens(*_args) -> None:
    _tokens.clear()


def _changes_read() -> bool:
    """Reads the change notifications already on this thread's connection (no round trip),
    forgetting the tokens if there are any. False when the memory cannot be trusted on this
    connection (a broken one)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw not in _listening:
        with connection.cursor() as cur:
            cur.execute(f"LISTEN {AUTH_CHANNEL}")
        # Notifications read while another statement runs on this connection come here.
        raw.add_notify_handler(forget_tokens)
        _listening.add(raw)
        forget_tokens()
        return True
    try:
        raw.pgconn.consume_input()
    except psycopg.Error:
        return False
    while raw.pgconn.notifies() is not None:
        forget_tokens()
    return True


def active_token(token_hash: str) -> ApiToken | None:
    """The active token (``ApiToken.objects.active()``) with this hash, its user loaded. Inside
    a transaction it is read from the database, which shows the transaction's own changes;
    behind a transaction-mode pooler, where LISTEN cannot work, always."""
    if connection.in_atomic_block or settings.DB_TRANSACTION_POOLER:
        return _read_token(token_hash)
    if _changes_read():
        known = _tokens.get(token_hash)
        if known is not None:
            api_token, read_at = known
            fresh = time.monotonic() - read_at < TOKEN_MEMORY_SECONDS
            if fresh and (api_token.expires_at is None or api_token.expires_at > timezone.now()):
                return api_token
    api_token = _read_token(token_hash)
    if api_token is not None:
        if len(_tokens) >= TOKEN_MEMORY_MAX:
            forget_tokens()
        _tokens[token_hash] = (api_token, time.monotonic())
    return api_token


def token_for(raw: str, scope: str, request=None) -> ApiToken | None:
    """The active token ``raw`` if it has ``scope``; marks it used. None when unknown."""
    api_token = active_token(hash_token(raw))
    if api_token is None:
        return None
    if request is not None:
        request.api_token = api_token  # so a refusal below is counted against this token
    if not api_token.has_scope(scope):
        raise HttpError(403, f"this token lacks the '{scope}' scope")
    if request is not None:
        token_used.send(sender=ApiToken, token=api_token, address=client_address(request))
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        api_token.last_used_at = now  # the remembered token too
    return api_token


class BearerToken(HttpBearer):
    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def authenticate(self, request, token: str):
        api_token = token_for(token, self.scope, request)
        if api_token is None:
            return None
        request.user = api_token.user
        request.api_token = api_token
        return api_token


class SessionScope(SessionAuth):
    def __init__(self, scope: str):
        super().__init__(csrf=True)
        self.scope = scope

    def authenticate(self, request, key):
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return None
        if self.scope == "ingest" and not user.is_staff:
            raise HttpError(
                403, "ingest from a browser session needs a staff account; use an API token"
            )
        request.api_token = None
        return user


def api_auth(scope: str) -> list:
    return [BearerToken(scope), SessionScope(scope)]


def actor_label(request) -> str:
    token = getattr(request, "api_token", None)
    name = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return f"{name} (token {token.prefix}…)" if token else name


def require_capability(request, capability: str) -> None:
    """403 unless the caller's role grants ``capability`` (see penguinmon.roles)."""
    if not user_can(request.user, capability):
        raise HttpError(403, f"this user's role does not allow {capability.replace('_', ' ')}")
