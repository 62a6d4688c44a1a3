"""What the dashboards read from the other apps, through those apps' own selectors.

Deployments and DORA figures come from ``incidents.selectors``. Slow statements come from the Postgres probes' last results
(``pg_stat_statements``, collected by ``collectors.monitoring.probes.postgres``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerts import selectors as alert_selectors
from collectors.monitoring import selectors as service_selectors
from incidents import postmortem_services
from incidents import selectors as incident_selectors
from reputation import selectors as reputation_selectors


def incident_stats(*, start: datetime, end: datetime) -> dict | None:
    return incident_selectors.incident_stats(start=start, end=end)


def incidents_in_range(*, start: datetime, end: datetime) -> list | None:
    return list(incident_selectors.incidents_in_range(start=start, end=end))


def deployments_in_range(*, start: datetime, end: datetime) -> list:
    return list(incident_selectors.deployments_in_range(start=start, end=end))


def dora_stats(*, start: datetime, end: datetime) -> dict:
    return incident_selectors.dora_stats(start=start, end=end)


def overdue_actions() -> list:
    """Open corrective actions of postmortems past their due date, most overdue first."""
    return postmortem_services.overdue_actions()


def open_actions() -> list:
    return postmortem_services.open_actions()


def postmortems_in_range(*, start: datetime, end: datetime) -> list:
    return postmortem_services.review_period_postmortems(start=start, end=end)


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
