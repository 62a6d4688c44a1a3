"""The readiness check behind GET /api/health: one SELECT 1 on the database and one Redis
PING, run for every probe (nothing cached). Shared by the API view and the WSGI fast path
(penguinmon.health_wsgi), so both answer the same body from the same checks."""

from __future__ import annotations

from django.db import connection

from penguinmon.queues import redis_client


def _select_one() -> str:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # report, don't raise: health must always answer
        return f"error: {exc.__class__.__name__}"


def database_check() -> str:
    """SELECT 1 on this thread's connection. That query is itself the check Django runs
    first on a reused connection (CONN_HEALTH_CHECKS), so that one is skipped; as it would,
    a reused connection that fails is closed and the query tried on a new one (after a
    database restart the first probe answers ok, not a stale error)."""
    reused = connection.connection is not None
    connection.health_check_done = True
    result = _select_one()
    if result != "ok" and reused:
        connection.close()
        result = _select_one()
    return result


def redis_check() -> str:
    try:
        redis_client().ping()
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


def readiness() -> tuple[dict[str, str], int]:
    """The health body and its HTTP status: 200 when both answer, else 503."""
    checks = {"database": database_check(), "redis": redis_check()}
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "degraded", **checks}, 200 if ok else 503
