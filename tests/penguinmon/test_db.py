"""A cursor reading timestamps with psycopg's compiled loader (penguinmon.db) gets exactly the
datetimes Django's own loader gives: same instant, tzinfo datetime.timezone.utc, microseconds
kept, NULL as None."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from penguinmon.db import compiled_timestamps

SQL = "SELECT %s::timestamptz, %s::timestamptz + interval '1 microsecond', NULL::timestamptz"


@pytest.mark.django_db
def test_compiled_timestamps_are_the_datetimes_djangos_loader_gives():
    written = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)  # a DST change in Europe
    rows = []
    for compiled in (False, True):
        with connection.cursor() as cur:
            if compiled:
                compiled_timestamps(cur)
            cur.execute(SQL, [written, written])
            rows.append(cur.fetchone())
    django_row, compiled_row = rows
    assert compiled_row == django_row == (written, datetime(2026, 3, 29, 1, tzinfo=UTC), None)
    assert [v.tzinfo for v in compiled_row[:2]] == [UTC, UTC]
    assert [v.isoformat() for v in compiled_row[:2]] == [v.isoformat() for v in django_row[:2]]
