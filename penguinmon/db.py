"""Reading rows faster than the ORM where a hot path reads many of them."""

from __future__ import annotations

from datetime import UTC

from django.db import connection
from psycopg.types.datetime import TimestamptzLoader


def compiled_timestamps(cursor) -> None:
    """Make ``cursor`` (Django's, on the default connection) read timestamptz columns with
    psycopg's own loader, which is compiled, instead of Django's Python subclass of it, which
    exists only to give each datetime the connection's zone: with the session in UTC, as
    Django keeps it under USE_TZ, both give the same datetimes (tzinfo
    ``datetime.timezone.utc``); psycopg's at an eighth of the cost (1.0 -> 0.13 ms for the 68
    alerts of the feed benchmark, 4 timestamps each)."""
    if connection.timezone == UTC:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
