"""The database backend's health check: a quiet persistent connection is trusted without a
round trip, one the server closed is found and replaced (penguinmon/postgres/base.py)."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.db import connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrapper():
    """A second Django connection to the test database, as a worker holds one between
    requests (persistent, health checks on)."""
    w = connections.create_connection("default")
    w.ensure_connection()
    assert w.health_check_enabled
    yield w
    w.close()


def _counting_is_usable(w) -> list[int]:
    calls: list[int] = []
    real = w.is_usable

    def is_usable() -> bool:
        calls.append(1)
        return real()

    w.is_usable = is_usable
    return calls


def test_a_quiet_connection_is_kept_without_a_round_trip(wrapper):
    calls = _counting_is_usable(wrapper)
    conn = wrapper.connection
    for _ in range(3):  # what close_old_connections does at each request's start and end
        wrapper.close_if_unusable_or_obsolete()
        wrapper.close_if_health_check_failed()
    assert calls == []  # no SELECT 1
    assert wrapper.connection is conn
    with wrapper.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_a_connection_the_server_closed_is_replaced_before_the_next_query(wrapper):
    calls = _counting_is_usable(wrapper)
    old = wrapper.connection
    pid = old.info.backend_pid
    dsn = old.info.dsn
    password = wrapper.get_connection_params().get("password")
    with psycopg.connect(dsn, password=password, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    deadline = time.monotonic() + 10
    while not select.select([old.pgconn.socket], [], [], 0.1)[0]:
        assert time.monotonic() < deadline, "the server never closed the connection"
    wrapper.close_if_unusable_or_obsolete()
    wrapper.close_if_health_check_failed()
    assert calls == [1]  # something to read: Django's SELECT 1, which failed
    assert wrapper.connection is None
    with wrapper.cursor() as cur:  # a new connection, no error for the caller
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] != pid
