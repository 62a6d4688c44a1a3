"""Incident follow-up in dashboards and reports: overdue corrective actions on the operations
dashboard and in weekly reports, the quarterly executive summary (compared with the previous
quarter) and the monthly review pack (incidents, postmortems, open actions)."""

from __future__ import annotations

import io  # noqa: E402
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from dashboards import reports
from dashboards.models import ScheduledReport
from dashboards.pages import OPERATIONS
from dashboards.panels.base import render as render_panel
from dashboards.timerange import TimeRange
from incidents.models import CorrectiveAction, Incident
from incidents.postmortem_services import postmortem_save
from tests.dashboards.test_reports import attachment, inbox, make_report  # noqa: F401


def test_quarterly_reports_run_on_the_first_day_of_each_quarter():
    now = datetime(2025, 5, 20, 9, tzinfo=UTC)
    quarterly = ScheduledReport(frequency="quarterly", hour_utc=6)
    assert quarterly.latest_occurrence(now) == datetime(2025, 4, 1, 6, tzinfo=UTC)
    assert quarterly.next_occurrence(now) == datetime(2025, 7, 1, 6, tzinfo=UTC)
    early = datetime(2025, 1, 1, 5, tzinfo=UTC)  # before the hour on day 1
    assert quarterly.latest_occurrence(early) == datetime(2024, 10, 1, 6, tzinfo=UTC)
    assert "every quarter" in quarterly.schedule_text


def test_previous_quarter_is_the_whole_quarter_before():
    tr = reports.report_range("previous-quarter", now=datetime(2025, 4, 1, 6, tzinfo=UTC))
    assert (tr.start, tr.end) == (
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 4, 1, tzinfo=UTC),
    )
    assert reports.previous_start("previous-quarter", tr) == datetime(2024, 10, 1, tzinfo=UTC)


@pytest.fixture
def overdue(db, make_user):
    user = make_user("on-call")
    incident = Incident.objects.create(
        title="smtp queue stuck",
        severity="critical",
        status="resolved",
        started_at=timezone.now() - timedelta(days=3),
        resolved_at=timezone.now() - timedelta(days=3) + timedelta(hours=1),
    )
    pm = postmortem_save(
        incident=incident,
        user=user,
        summary="queue worker deadlock",
        actions=[
            {
                "title": "Add a queue age alert",
                "owner": "sam",
                "due_on": timezone.localdate() + timedelta(days=5),
            },
            {
                "title": "Upgrade the worker",
                "owner": "kim",
                "due_on": timezone.localdate() + timedelta(days=5),
            },
        ],
    )
    late = pm.actions.get(title="Add a queue age alert")
    CorrectiveAction.objects.filter(pk=late.pk).update(due_on=date(2020, 1, 1))
    return incident


def test_operations_dashboard_shows_overdue_actions(overdue):
    panel = OPERATIONS.panel("overdue-actions")
    now = timezone.now()
    rendered = render_panel(panel, TimeRange("24h", now - timedelta(days=1), now))
    assert [row[1] for row in rendered.table.rows] == ["Add a queue age alert"]


def test_weekly_report_lists_overdue_actions(inbox, overdue):  # noqa: F811
    now = timezone.now()
    report = make_report(
        now,
        frequency="weekly",
        weekday=(now - timedelta(hours=1)).astimezone(UTC).weekday(),
        range="7d",
        created_at=now - timedelta(days=10),
    )
    reports.send_now(report, now=now)
    [message] = inbox.messages
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Overdue corrective actions" in body and "Add a queue age alert" in body
    assert "Upgrade the worker" not in body
    name, content = attachment(message)
    assert "Overdue corrective actions" in load_workbook(io.BytesIO(content)).sheetnames


def test_quarterly_executive_summary_is_a_review_pack(inbox, overdue):  # noqa: F811
    now = timezone.now()
    Incident.objects.filter(pk=overdue.pk).update(started_at=now - timedelta(days=40))
    report = make_report(
        now,
        name="Quarterly executive summary",
        frequency="quarterly",
        range="previous-quarter",
        created_at=now - timedelta(days=400),
    )
    quarter_end = reports.report_range("previous-quarter", now=now).end
    Incident.objects.filter(pk=overdue.pk).update(
        started_at=quarter_end - timedelta(days=10), resolved_at=quarter_end - timedelta(days=9)
    )
    reports.send_now(report, now=now)
    [message] = inbox.messages
    assert "quarterly summary" in message["Subject"]
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Key figures (previous quarter in brackets)" in body
    assert "Postmortems\n- #" in body and "smtp queue stuck" in body
    assert "Open corrective actions" in body and "Upgrade the worker" in body
    assert "Add a queue age alert (sam) OVERDUE" in body
    _, content = attachment(message)
    names = load_workbook(io.BytesIO(content)).sheetnames
    assert {"Postmortems", "Open corrective actions"} <= set(names)
