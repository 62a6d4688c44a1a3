"""Day partitions (raw samples, 1-minute rollups and histograms) and month partitions (1-hour
and 1-day tables): created ahead of time by a beat task and on demand by ingest, dropped whole by
retention so expiring data never costs a DELETE."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

DAILY = ("collectors_sample", "collectors_rollup_1m", "collectors_histogram_1m")
MONTHLY = (
    "collectors_rollup_1h",
    "collectors_histogram_1h",
    "collectors_rollup_1d",
    "collectors_histogram_1d",
)
# Every SQL table of the store (they have no Django model, so Django's flush leaves them).
STORE_TABLES = (*DAILY, *MONTHLY, "collectors_dirty_range")

# Partition names known to exist (committed). Filled after commit only, so a rolled-back
# CREATE never leaves a stale entry behind.
_known: set[str] = set()


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_for(table: str, day: date) -> tuple[str, datetime, datetime]:
    if table in MONTHLY:
        start = _month_start(day)
        end = _next_month(start)
        name = f"{table}_p{start:%Y%m}"
    else:
        start, end = day, day + timedelta(days=1)
        name = f"{table}_p{start:%Y%m%d}"
    return (
        name,
        datetime(start.year, start.month, start.day, tzinfo=UTC),
        datetime(end.year, end.month, end.day, tzinfo=UTC),
    )


def ensure_partitions(table: str, days: set[date]) -> None:
    wanted = {partition_for(table, d) for d in days}
    missing = [p for p in wanted if p[0] not in _known]
    if not missing:
        return
    created = []
    with connection.cursor() as cur:
        for name, start, end in sorted(missing):
            cur.execute("SELECT to_regclass(%s)", [name])
            if cur.fetchone()[0] is None:
                # Two writers creating the same new day at once: the second would fail on the
                # catalog's unique index. The lock (held to commit) makes it wait and then find
                # the table, so CREATE ... IF NOT EXISTS does nothing.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                    "FOR VALUES FROM (%s) TO (%s)",
                    [start, end],
                )
            created.append(name)
    transaction.on_commit(lambda: _known.update(created))


def ensure_all_tables(days: set[date]) -> None:
    for table in DAILY + MONTHLY:
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
