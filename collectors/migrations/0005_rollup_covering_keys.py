"""Rollup primary keys carry the aggregate columns (INCLUDE), so a chart's rows come from an
index-only scan of a few pages instead of one heap page per row: a series' minutes are spread
over the whole partition because every rollup run writes all series together."""

from django.db import migrations

COLUMNS = "count, sum, min, max, last"


def _swap(table: str, include: bool) -> str:
    extra = f" INCLUDE ({COLUMNS})" if include else ""
    return (
        f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey;"
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (series_id, bucket){extra};"
    )


class Migration(migrations.Migration):
    dependencies = [("collectors", "0004_probe_locations")]

    operations = [
        migrations.RunSQL(
            _swap("collectors_rollup_1m", True) + _swap("collectors_rollup_1h", True),
            _swap("collectors_rollup_1m", False) + _swap("collectors_rollup_1h", False),
        )
    ]
