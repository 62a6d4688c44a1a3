"""`make bench`: run every benchmarks/bench_*.py, print one table, write var/bench/results.json.

Benchmarks run against their own database (penguinmon_bench on the same server) so they never
touch the data of a running system. `python -m benchmarks.run ingest query` runs a subset.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

# PENGUINMON_BENCH_DB names another database, e.g. to bench a branch whose migrations the
# shared bench database must not get yet.
BENCH_DB = os.environ.get("PENGUINMON_BENCH_DB", "penguinmon_bench")


def _prepare_database() -> None:
    from penguinmon import embedded

    base = os.environ.get("DATABASE_URL") or embedded.ensure_postgres()
    import psycopg

    root, _, _ = base.rpartition("/")
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
    os.environ["DATABASE_URL"] = f"{root}/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penguinmon.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def main(argv: list[str]) -> int:
    _prepare_database()
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    results, failures = [], []
    for name in names:
        started = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            rows = importlib.import_module(f"benchmarks.{name}").run()
        except Exception:
            traceback.print_exc()
            failures.append(name)
            continue
        for row in rows:
            row.setdefault("benchmark", name)
            results.append(row)
            print(
                f"   {row['name']}: {_fmt(row['value'])} {row['unit']}  (ref {row.get('reference', '-')}: "
                f"{_fmt(row.get('reference_value'))}, ratio {_fmt(row.get('ratio'))}, target {row.get('target', '-')})",
                flush=True,
            )
        print(f"   ({time.monotonic() - started:.0f} s)")
    header = f"{'figure':<58} {'PenguinMon':>14} {'reference':>14} {'ratio':>8}  target"
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        value = f"{_fmt(r['value'])} {r['unit']}"
        print(
            f"{r['name']:<58} {value:>14} {_fmt(r.get('reference_value')):>14} {_fmt(r.get('ratio')):>8}  {r.get('target', '')}"
        )
    out = Path(os.environ.get("PENGUINMON_VAR_DIR", here.parent / "var")) / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"results": results, "failed": failures, "at": time.time()}, indent=2, default=str
        )
    )
    print(f"\nwritten to {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
