"""Day partitions (raw samples), week partitions (1-minute rollups and histograms) and month
partitions (1-hour and 1-day tables): created ahead of time by a beat task and on demand by
ingest, dropped whole by retention so expiring data never costs a DELETE.

The 1-minute tables are kept 90 days by default. In day partitions that is 92 partitions each,
and a prepared statement's generic plan (the query API's) locks every partition of every table
it reads before pruning them: with 92 instead of 33, the 24-hour query's statement took
0.2-0.45 ms longer (p50, caches cold; bench dataset). Week partitions keep them at 14. Raw
samples stay daily: their retention is short (14 days, 16 partitions), and a week partition
would keep up to 6 days of raw data past it.

A week that already has day partitions of a 1-minute table (created before week partitions
were) keeps getting day partitions, so they never overlap; such weeks age out with retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

DAILY = ("collectors_sample",)
WEEKLY = ("collectors_rollup_1m", "collectors_histogram_1m")
MONTHLY = (
    "collectors_rollup_1h",
    "collectors_histogram_1h",
    "collectors_rollup_1d",
    "collectors_histogram_1d",
)
# Every SQL table of the store (they have no Django model, so Django's flush leaves them).
PARTITIONED = (*DAILY, *WEEKLY, *MONTHLY)
STORE_TABLES = (*PARTITIONED, "collectors_dirty_range")

# Partition names known to exist (committed). Filled after commit only, so a rolled-back
# CREATE never leaves a stale entry behind. Week partitions that are never created because
# their week had day partitions first are known too: the days' partitions are used instead.
_known: set[str] = set()
_day_weeks: set[str] = set()
DAY = timedelta(days=1)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


Partition = tuple[str, datetime, datetime]  # name, lower bound, upper bound (exclusive)


def _bounds(name: str, start: date, end: date) -> Partition:
    return (
        name,
        datetime(start.year, start.month, start.day, tzinfo=UTC),
        datetime(end.year, end.month, end.day, tzinfo=UTC),
    )


def day_partition(table: str, day: date) -> Partition:
    return _bounds(f"{table}_p{day:%Y%m%d}", day, day + timedelta(days=1))


def partition_for(table: str, day: date) -> Partition:
    if table in MONTHLY:
        start = _month_start(day)
        return _bounds(f"{table}_p{start:%Y%m}", start, _next_month(start))
    if table in WEEKLY:
        monday = day - timedelta(days=day.weekday())
        return _bounds(f"{table}_w{monday:%Y%m%d}", monday, monday + timedelta(days=7))
    return day_partition(table, day)


def ensure_partitions(table: str, days: set[date]) -> None:
    wanted: dict[Partition, set[date]] = {}
    for day in days:
        part = partition_for(table, day)
        if part[0] in _day_weeks:
            part = day_partition(table, day)
        if part[0] not in _known:
            wanted.setdefault(part, set()).add(day)
    if not wanted:
        return
    created: list[str] = []
    day_weeks: list[str] = []
    with connection.cursor() as cur:
        for (name, start, end), its_days in sorted(wanted.items()):
            cur.execute("SELECT to_regclass(%s)", [name])
            if cur.fetchone()[0] is not None:
                created.append(name)
                continue
            # Two writers creating the same new partition at once: the second would fail on
            # the catalog's unique index. The lock (held to commit) makes it wait and then
            # find the table, so CREATE ... IF NOT EXISTS does nothing.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
            if table in WEEKLY and end - start > DAY and _has_day_partitions(table, start):
                # Begun with day partitions: a week partition would overlap them.
                day_weeks.append(name)
                parts = [day_partition(table, day) for day in sorted(its_days)]
            else:
                parts = [(name, start, end)]
            for part_name, part_start, part_end in parts:
                if part_name != name:  # a writer that knew the week had days locks the day
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [part_name])
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {part_name} PARTITION OF {table} "
                    "FOR VALUES FROM (%s) TO (%s)",
                    [part_start, part_end],
                )
                created.append(part_name)

    def remember() -> None:
        _known.update(created)
        _day_weeks.update(day_weeks)

    transaction.on_commit(remember)


def _has_day_partitions(table: str, monday: datetime) -> bool:
    """Whether ``table`` has a day partition in the week beginning ``monday``."""
    days = {day_partition(table, monday.date() + timedelta(days=i))[0] for i in range(7)}
    return any(name in days for name, _upper in _partitions(table))


def ensure_all_tables(days: set[date]) -> None:
    for table in PARTITIONED:
        ensure_partitions(table, days)


def create_ahead(*, days_ahead: int = 3, now: datetime | None = None) -> int:
    """Create partitions for today and the next few days (beat task)."""
    today = (now or datetime.now(UTC)).date()
    with transaction.atomic():
        ensure_all_tables({today + timedelta(days=i) for i in range(days_ahead + 1)})
    return days_ahead + 1


def _partitions(table: str) -> list[tuple[str, datetime]]:
    """(name, upper bound) of every partition of ``table``."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s
            """,
            [table],
        )
        rows = cur.fetchall()
    out = []
    for name, bound in rows:
        # bound looks like: FOR VALUES FROM ('2026-11-25 00:00:00+00') TO ('2026-11-26 00:00:00+00')
        upper = bound.rsplit("TO ('", 1)[1].split("'")[0]
        out.append((name, datetime.fromisoformat(upper.replace("+00", "+00:00"))))
    return out


def retention_days() -> dict[str, int]:
    return {
        "collectors_sample": settings.RETENTION_RAW_DAYS,
        "collectors_rollup_1m": settings.RETENTION_1M_DAYS,
        "collectors_histogram_1m": settings.RETENTION_1M_DAYS,
        "collectors_rollup_1h": settings.RETENTION_1H_DAYS,
        "collectors_histogram_1h": settings.RETENTION_1H_DAYS,
        # Day rows only stand for hours: kept exactly as long.
        "collectors_rollup_1d": settings.RETENTION_1H_DAYS,
        "collectors_histogram_1d": settings.RETENTION_1H_DAYS,
    }


def drop_expired(*, now: datetime | None = None) -> list[str]:
    """Drop every partition whose whole range is older than its table's retention."""
    now = now or datetime.now(UTC)
    dropped = []
    for table, days in retention_days().items():
        cutoff = now - timedelta(days=days)
        for name, upper in _partitions(table):
            if upper <= cutoff:
                with connection.cursor() as cur:
                    cur.execute(f"DROP TABLE IF EXISTS {name}")
                _known.discard(name)
                dropped.append(name)
    return dropped


def truncate_store() -> None:
    """Empty all samples, rollups, histograms and pending rollup ranges (demo reset, tests)."""
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(STORE_TABLES)}")
