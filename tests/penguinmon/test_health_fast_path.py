"""Readiness probes answered by the WSGI wrapper (penguinmon.health_wsgi): the same status,
headers and body as the whole stack, the checks run for real on every probe, and whatever
Django refuses (a host not allowed, a bad query) is still refused by Django."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import connection

from penguinmon.queues import redis_client
from penguinmon.wsgi import application
from tests.support.wsgi import wsgi_get


def _get(path: str = "/api/health", host: str = "127.0.0.1", **extra) -> tuple[str, dict, bytes]:
    return wsgi_get(path, host, **extra)


@pytest.mark.django_db(transaction=True)
def test_repeat_probes_answer_as_the_full_stack_with_the_checks_run_again(settings):
    application.headers.clear()
    first = _get()
    assert first[0] == "200 OK"
    assert json.loads(first[2]) == {"status": "ok", "database": "ok", "redis": "ok"}
    assert first[1]["X-Content-Type-Options"] == "nosniff"  # set by middleware
    assert "frame-ancestors 'none'" in first[1]["Content-Security-Policy"]
    assert [key[0] for key in application.headers] == ["127.0.0.1"]  # replayed from now on
    assert _get() == first

    # The database connection the probes use is dropped (a restart): the next probe reconnects.
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert _get() == first

    # Redis unreachable (nothing listens on port 9): the repeat probe says so at once.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    redis_client.cache_clear()
    try:
        status, headers, body = _get()
    finally:
        redis_client.cache_clear()
    assert status == "503 Service Unavailable"
    assert json.loads(body) == {
        "status": "degraded",
        "database": "ok",
        "redis": "error: ConnectionError",
    }
    assert headers == first[1] | {"Content-Length": str(len(body))}


@pytest.mark.django_db(transaction=True)
def test_what_django_refuses_is_refused_after_a_good_probe_too():
    application.headers.clear()
    assert _get()[0] == "200 OK"
    for _ in range(2):
        assert _get(host="evil.example")[0].startswith("400")
        assert _get(QUERY_STRING="x=%00")[0].startswith("422")
    assert [key[0] for key in application.headers] == ["127.0.0.1"]
