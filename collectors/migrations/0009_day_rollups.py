"""Day rollups (``collectors_rollup_1d``, ``collectors_histogram_1d``): a 30-day window reads
~30 rows per series instead of ~720 hourly ones; an SLO page reads every SLO's window and burn
spans at once and spent most of its time summing hourly histogram rows.

Existing history is rolled up here for every complete UTC day; today is marked pending (a
``day`` dirty range), so the rollup job writes it once the day is over."""

from datetime import UTC, datetime, timedelta

from django.db import migrations

TABLES_SQL = """
CREATE TABLE collectors_rollup_1d (LIKE collectors_rollup_1h INCLUDING ALL) PARTITION BY RANGE (bucket);
CREATE TABLE collectors_histogram_1d (LIKE collectors_histogram_1h INCLUDING ALL) PARTITION BY RANGE (bucket);
"""
DROP_SQL = "DROP TABLE IF EXISTS collectors_rollup_1d, collectors_histogram_1d CASCADE;"


def roll_existing(apps, schema_editor) -> None:
    from collectors.store import rollups

    with schema_editor.connection.cursor() as cur:
        cur.execute(
            "SELECT least((SELECT min(bucket) FROM collectors_rollup_1h), "
            "(SELECT min(bucket) FROM collectors_histogram_1h))"
        )
        first = cur.fetchone()[0]
        now = datetime.now(UTC)
        days = set()
        if first is not None:
            d = first.astimezone(UTC).date()
            while d <= now.date():
                days.add(d)
                d += timedelta(days=1)
        days.add(now.date())
        rollups.roll_days(cur, days, now=now)


class Migration(migrations.Migration):
    dependencies = [("collectors", "0008_series_last_seen")]

    operations = [
        migrations.RunSQL(TABLES_SQL, DROP_SQL),
        migrations.RunPython(roll_existing, migrations.RunPython.noop),
    ]
