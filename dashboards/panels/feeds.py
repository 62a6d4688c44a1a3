"""Panels that list rows from the other apps: alerts, maintenance windows, incidents, IP
reputation. Each reads the owning app's selectors (imported at the top: dashboards sit above
every app) and turns what it gets into plain rows, so the template and the exports see the
same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from alerts import selectors as alert_selectors
from dashboards.panels.base import Panel, Table
from dashboards.timerange import TimeRange
from incidents import postmortem_services
from incidents import selectors as incident_selectors
from reputation import selectors as reputation_selectors


@dataclass
class Rows:
    """Table rows plus what to say when there are none or the source is missing."""

    table: Table
    available: bool = True
    unavailable_reason: str = ""
    badges: dict[int, str] = field(default_factory=dict)  # column index -> css class prefix
    summary: list[tuple[str, str]] = field(default_factory=list)  # (label, value) above the rows


def _get(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


class RowsPanel(Panel):
    template = "dashboards/panels/rows.html"
    empty_text = "Nothing to show for this range."

    def table(self, data: Rows, tr: TimeRange) -> Table:
        return data.table

    def context(self, data: Rows, tr: TimeRange) -> dict:
        return {"rows": data, "empty_text": self.empty_text}


ALERT_COLUMNS = ["time", "severity", "state", "service", "message", "value", "acknowledged by"]


def _alert_rows(alerts: list) -> list[list]:
    rows = []
    for a in alerts:
        acked = _get(a, "acknowledged_by")
        rows.append(
            [
                _get(a, "fired_at") or _get(a, "started_at"),
                _get(a, "severity_label") or str(_get(a, "severity", "")).upper(),
                _get(a, "state", ""),
                _get(a, "service", ""),
                _get(a, "message", ""),
                _get(a, "last_value"),
                acked.get_username() if hasattr(acked, "get_username") else (acked or ""),
            ]
        )
    return rows


class ActiveAlertsPanel(RowsPanel):
    key = "active-alerts"
    title = "Active alerts"
    description = "Firing or acknowledged now, most severe first."
    empty_text = "No alert is firing."

    def query(self, tr: TimeRange) -> Rows:
        alerts = alert_selectors.active_alerts()
        return Rows(Table(ALERT_COLUMNS, _alert_rows(alerts)), badges={1: "sev"})


class AlertsFeedPanel(RowsPanel):
    key = "alerts-feed"
    title = "Infrastructure alerts (last 24 h)"
    description = "Alerts that started or resolved in the last 24 hours, and every one still open."
    empty_text = "No alerts in the last 24 hours."
    wide = True

    def query(self, tr: TimeRange) -> Rows:
        alerts = alert_selectors.alerts_feed(since=timezone.now() - timedelta(hours=24))
        return Rows(Table(ALERT_COLUMNS, _alert_rows(alerts)), badges={1: "sev"})


class MaintenancePanel(RowsPanel):
    key = "maintenance"
    title = "Maintenance windows"
    description = (
        "Silences and maintenance windows in the range and the next 7 days, recurring ones "
        "by occurrence (alerts still change state but do not notify)."
    )
    empty_text = "No maintenance window or silence in this range or the next 7 days."
    UPCOMING = timedelta(days=7)

    def query(self, tr: TimeRange) -> Rows:
        columns = ["starts", "ends", "matches", "comment", "created by", "when"]
        now = timezone.now()
        # Every silence window overlapping the range, weekly ones expanded to occurrences.
        windows = alert_selectors.silences_between(
            start=tr.start, end=max(tr.end, now) + self.UPCOMING
        )
        rows = []
        for w in windows:
            matchers = _get(w, "matchers") or {}
            by = _get(w, "created_by")
            starts, ends = _get(w, "starts_at"), _get(w, "ends_at")
            state = "in force" if starts <= now < ends else ("ended" if ends <= now else "upcoming")
            rows.append(
                [
                    starts,
                    ends,
                    "everything"
                    if _get(w, "everything")
                    else ", ".join(f"{k}={v}" for k, v in sorted(matchers.items())),
                    _get(w, "comment", ""),
                    by.get_username() if hasattr(by, "get_username") else (by or ""),
                    state + (" · " + _get(w, "schedule") if _get(w, "recurring") else ""),
                ]
            )
        return Rows(Table(columns, rows))


class IncidentsPanel(RowsPanel):
    key = "incidents"
    title = "Incidents"
    description = "Incidents open in the range, with MTTR and MTBF over the range."
    empty_text = "No incidents in this range."

    def query(self, tr: TimeRange) -> Rows:
        columns = ["opened", "severity", "status", "title", "resolved", "hours to resolve"]
        incidents = incident_selectors.incidents_in_range(start=tr.start, end=tr.end)
        stats = incident_selectors.incident_stats(start=tr.start, end=tr.end)
        rows = []
        for inc in incidents:
            opened = _get(inc, "started_at") or _get(inc, "opened_at") or _get(inc, "created_at")
            resolved = _get(inc, "resolved_at")
            hours = (
                round((resolved - opened).total_seconds() / 3600, 2)
                if opened and resolved
                else None
            )
            rows.append(
                [
                    opened,
                    _get(inc, "severity", ""),
                    _get(inc, "status", ""),
                    _get(inc, "title", ""),
                    resolved,
                    hours,
                ]
            )

        def num(key: str, unit: str) -> str:
            v = stats.get(key)
            return "—" if v is None else f"{v:,.1f} {unit}".strip()

        summary = [
            ("incidents", f"{stats.get('count', 0)}"),
            ("open", f"{stats.get('open', 0)}"),
            ("MTTR", num("mttr_hours", "h")),
            ("MTBF", num("mtbf_hours", "h")),
        ]
        return Rows(Table(columns, rows), summary=summary, badges={1: "sev"})


def action_rows(actions: list) -> list[list]:
    return [
        [
            a.due_on,
            a.title,
            a.owner,
            a.get_status_display(),
            f"#{a.postmortem.incident_id} {a.postmortem.incident.title}",
            a.link,
        ]
        for a in actions
    ]


ACTION_COLUMNS = ["due", "action", "owner", "status", "incident", "link"]


class OverdueActionsPanel(RowsPanel):
    key = "overdue-actions"
    title = "Overdue corrective actions"
    description = "Postmortem actions still open past their due date (as of now), oldest first."
    empty_text = "No corrective action is overdue."

    def query(self, tr: TimeRange) -> Rows:
        actions = postmortem_services.overdue_actions()
        return Rows(
            Table(ACTION_COLUMNS, action_rows(actions)),
            summary=[("overdue", str(len(actions)))],
        )


class IpReputationPanel(RowsPanel):
    key = "ip-reputation"
    title = "IP reputation monitor"
    description = "Critical: on a major blocklist (Spamhaus, Barracuda). Warning: score below 70."
    empty_text = "No sending IPs are registered."
    wide = True

    def query(self, tr: TimeRange) -> Rows:
        columns = [
            "ip",
            "provider",
            "pool",
            "score",
            "blocklists",
            "daily volume",
            "status",
            "active",
            "last checked",
        ]
        table = reputation_selectors.ip_reputation_table()
        rows = [
            [
                r.get("ip"),
                r.get("provider", ""),
                r.get("pool", ""),
                r.get("score"),
                ", ".join(r.get("blocklists") or []) or "none",
                r.get("daily_volume"),
                r.get("status", ""),
                "yes" if r.get("active") else "no",
                r.get("last_checked"),
            ]
            for r in table
        ]
        return Rows(Table(columns, rows), badges={6: "status"})
