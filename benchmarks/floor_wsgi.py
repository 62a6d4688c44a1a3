"""The query benchmark's floor: the 24-hour answer's statement served with as little as can
serve it on PenguinMon's stack (gunicorn as the Procfile runs it, psycopg, Postgres), and no
Django.

It is not a server anyone runs: ``benchmarks/bench_query.py`` starts it beside the real one
to measure what the stack costs before any of PenguinMon's own request handling (the token
look-up, parameter checks, read plan, role check, signals). Each request carries the
statement's parameters, which the benchmark takes from PenguinMon's own query path
(``series_query``) for that request's window, so the floor sends Postgres exactly the
statement PenguinMon sends, prepared the same way (generic plan). What it skips is the
product's work; what it keeps is the HTTP server, one token hash, one round trip and writing
the body.

A request names its statement by index (``?s=``) and carries the parameters as JSON in the
``X-Statement-Params`` header (in the query string they cost the client and the server
quoting and unquoting ~450 characters more than PenguinMon's request; a header costs
neither). Configured by the environment: ``FLOOR_DSN`` (libpq URL), ``FLOOR_TOKEN_SHA256``
(the hex SHA-256 of the one token it accepts) and ``FLOOR_STATEMENTS`` (a JSON file: the list
of statement texts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

import psycopg

_local = threading.local()


@cache
def _statements() -> list[str]:
    return json.loads(Path(os.environ["FLOOR_STATEMENTS"]).read_text())


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        # As settings.py configures Django's connection: generic plans for prepared statements.
        conn = _local.conn = psycopg.connect(
            os.environ["FLOOR_DSN"],
            autocommit=True,
            options="-c plan_cache_mode=force_generic_plan",
        )
    return conn


PARAMS_HEADER = "X-Statement-Params"


def encode_params(params: list) -> str:
    """The statement's parameters for ``PARAMS_HEADER`` (datetimes tagged: JSON has none)."""
    return json.dumps(
        [["d", v.isoformat()] if isinstance(v, datetime) else ["v", v] for v in params]
    )


def _decode_params(text: str) -> list:
    return [datetime.fromisoformat(v) if kind == "d" else v for kind, v in json.loads(text)]


def _answer(start_response, status: str, body: bytes):
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/ready":  # for the benchmark's wait until it serves
        return _answer(start_response, "200 OK", b"{}")
    auth = environ.get("HTTP_AUTHORIZATION", "")
    digest = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()
    if not auth.startswith("Bearer ") or not hmac.compare_digest(
        digest, os.environ["FLOOR_TOKEN_SHA256"]
    ):
        return _answer(start_response, "401 Unauthorized", b'{"detail":"unauthorized"}')
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    rows = (
        _connection()
        .execute(
            _statements()[int(query["s"])],
            _decode_params(environ["HTTP_X_STATEMENT_PARAMS"]),
            prepare=True,
        )
        .fetchall()
    )
    # The statement's rows (collectors.store.query._matching_and_pending): the series found,
    # ranges not rolled up yet (id NULL, kind set), and one row holding the line's text.
    # PenguinMon reads again when such a range changes the line's plan; the benchmark checks
    # that every floor answer has PenguinMon's points.
    found = [r for r in rows if r[0] is not None]
    line = next(r[7] for r in rows if r[0] is None and r[4] is None)
    if len(found) != 1 or line is None:
        return _answer(start_response, "409 Conflict", b'{"detail":"not a one-series line"}')
    _id, name, labels, unit, _kind = found[0][:5]
    body = b'{"metric":%s,"series":[{"labels":%s,"unit":%s,"points":%s}]}' % (
        json.dumps(name).encode(),
        labels.encode(),
        json.dumps(unit).encode(),
        line.encode(),
    )
    return _answer(start_response, "200 OK", body)
