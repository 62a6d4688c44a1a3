"""Partition layout of the metric store: days for raw samples, weeks for the 1-minute tables
(fewer partitions for a generic plan to lock), months for the hourly and daily ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from collectors.store import partitions
from collectors.store.partitions import drop_expired, ensure_partitions, partition_for

pytestmark = pytest.mark.django_db


def _children(table: str) -> dict[str, str]:
    """name -> bound expression of every partition of ``table``."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        return dict(cur.fetchall())


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _write_minute(table: str, at: datetime) -> None:
    with connection.cursor() as cur:
        if table == "collectors_rollup_1m":
            cur.execute(
                "INSERT INTO collectors_rollup_1m (series_id, bucket, count, sum, min, max, last)"
                " VALUES (1, %s, 1, 1, 1, 1, 1)",
                [at],
            )
        else:
            cur.execute(
                "INSERT INTO collectors_histogram_1m (series_id, bucket, count, sum, counts)"
                " VALUES (1, %s, 1, 1, '{1}')",
                [at],
            )


@pytest.mark.parametrize("table", ["collectors_rollup_1m", "collectors_histogram_1m"])
def test_one_minute_tables_get_one_partition_per_week(table):
    wednesday = _monday(date.today() + timedelta(days=200)) + timedelta(days=2)
    ensure_partitions(table, {wednesday, wednesday + timedelta(days=1)})
    monday = _monday(wednesday)
    name = f"{table}_w{monday:%Y%m%d}"
    assert partition_for(table, wednesday)[0] == name
    bound = _children(table)[name]
    assert f"FROM ('{monday:%Y-%m-%d} 00:00:00+00') TO ('{monday + timedelta(days=7):%Y-%m-%d}" in (
        bound
    )
    # Every minute of the week has its place, Monday 00:00 to Sunday 23:59.
    first = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    _write_minute(table, first)
    _write_minute(table, first + timedelta(days=7, minutes=-1))
    assert not any(n.endswith(f"_p{wednesday:%Y%m%d}") for n in _children(table))


def test_raw_samples_stay_in_day_partitions():
    day = date.today() + timedelta(days=201)
    ensure_partitions("collectors_sample", {day})
    assert f"collectors_sample_p{day:%Y%m%d}" in _children("collectors_sample")


def test_a_week_begun_with_day_partitions_keeps_getting_day_partitions(
    django_capture_on_commit_callbacks,
):
    """An install upgraded mid-week has day partitions for part of it: a week partition would
    overlap them, so the rest of that week gets day partitions too."""
    table = "collectors_rollup_1m"
    monday = _monday(date.today() + timedelta(days=214))
    with connection.cursor() as cur:  # as the day-partition layout created it
        cur.execute(
            f"CREATE TABLE {table}_p{monday:%Y%m%d} PARTITION OF {table}"
            " FOR VALUES FROM (%s) TO (%s)",
            [monday, monday + timedelta(days=1)],
        )
    thursday = monday + timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        ensure_partitions(table, {thursday})
    names = _children(table)
    assert f"{table}_p{thursday:%Y%m%d}" in names
    assert f"{table}_w{monday:%Y%m%d}" not in names
    # Remembered: the next day of that week is a day partition too, without asking again.
    friday = thursday + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        ensure_partitions(table, {friday})
    assert f"{table}_p{friday:%Y%m%d}" in _children(table)
    _write_minute(table, datetime(friday.year, friday.month, friday.day, 12, tzinfo=UTC))
    # The week after is a week partition again.
    next_week = monday + timedelta(days=7)
    ensure_partitions(table, {next_week})
    assert f"{table}_w{next_week:%Y%m%d}" in _children(table)
    assert f"{table}_w{monday:%Y%m%d}" in partitions._day_weeks


def test_retention_drops_a_week_only_once_all_of_it_has_expired(settings):
    table = "collectors_histogram_1m"
    settings.RETENTION_1M_DAYS = 90
    day = date.today() + timedelta(days=230)
    ensure_partitions(table, {day})
    name = partition_for(table, day)[0]
    sunday_end = _monday(day) + timedelta(days=7)
    last_day = datetime(sunday_end.year, sunday_end.month, sunday_end.day, tzinfo=UTC)
    # Still holding a minute inside retention: kept.
    assert name not in drop_expired(now=last_day + timedelta(days=90) - timedelta(minutes=1))
    assert name in drop_expired(now=last_day + timedelta(days=90))
    assert name not in _children(table)
