"""What the dashboards read from the other apps, through those apps' own selectors.

Deployments (DORA) have no selector yet in the incidents app; for those the functions return
``None`` until one exists, and the panel says plainly that the data is not available instead of
showing an invented number. Slow statements come from the Postgres probes' last results
(``pg_stat_statements``, collected by ``collectors.probes.postgres``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts import selectors as alert_selectors
from collectors import selectors_services as service_selectors
from incidents import selectors as incident_selectors
from reputation import selectors as reputation_selectors


def _selector(module: str, name: str) -> Callable[..., Any] | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, name, None)


def incident_stats(*, start: datetime, end: datetime) -> dict | None:
    return incident_selectors.incident_stats(start=start, end=end)


def incidents_in_range(*, start: datetime, end: datetime) -> list | None:
    return list(incident_selectors.incidents_in_range(start=start, end=end))


def deployments_in_range(*, start: datetime, end: datetime) -> list | None:
    fn = _selector("incidents.selectors", "deployments_in_range")
    return None if fn is None else list(fn(start=start, end=end))


def dora_stats(*, start: datetime, end: datetime) -> dict | None:
    fn = _selector("incidents.selectors", "dora_stats")
    return None if fn is None else fn(start=start, end=end)


def active_alerts() -> list | None:
    return alert_selectors.active_alerts()


def alerts_feed(*, since: datetime) -> list | None:
    return alert_selectors.alerts_feed(since=since)


def maintenance_windows(*, start: datetime, end: datetime) -> list | None:
    """Every silence window overlapping [start, end), weekly ones expanded to occurrences."""
    return alert_selectors.silences_between(start=start, end=end)


def ip_reputation_table() -> list[dict] | None:
    return reputation_selectors.ip_reputation_table()


@dataclass
class SlowQueries:
    rows: list[dict]  # service, probe, query, calls, mean_ms, total_ms; slowest mean first
    notes: list[str]  # why a Postgres probe reported no statements


def slowest_queries(*, limit: int = 10) -> SlowQueries:
    """The slowest statements every enabled Postgres probe saw in its last run."""
    rows, notes = [], []
    for probe in service_selectors.probes_list(kind="postgres", enabled=True):
        found = (probe.last_details or {}).get("slowest_statements")
        where = f"{probe.service.name}/{probe.name}"
        if isinstance(found, list):
            rows += [{"service": probe.service.name, "probe": probe.name, **q} for q in found]
        elif found:
            notes.append(f"{where}: {found}")
        elif probe.last_run_at is None:
            notes.append(f"{where}: has not run yet")
    rows.sort(key=lambda q: -(q.get("mean_ms") or 0))
    return SlowQueries(rows[:limit], notes)
