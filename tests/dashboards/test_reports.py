"""Scheduled reports: when they are due, what arrives at a real SMTP server (aiosmtpd on
127.0.0.1), sending once under repeated ticks, failures recorded and retried, the SLA table
and the reports page."""

from __future__ import annotations

import email
import email.policy
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from alerts import services as alert_services
from collectors.models import Service, Status, StatusChange
from dashboards import reports
from dashboards.models import ScheduledReport
from dashboards.pages import EXECUTIVE, OPERATIONS
from incidents.models import Incident
from penguinmon.models import AuditLog
from tests.support.net import free_port
from tests.support.smtp import smtp_server_for

BASE_URL = "https://mon.example.test"


class _Inbox:
    """Accepts mail for everyone except addresses starting with "bounce" (550 at RCPT)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def inbox(db, settings):
    handler = _Inbox()
    settings.PENGUINMON_BASE_URL = BASE_URL
    with smtp_server_for(handler, settings):
        yield handler


@pytest.fixture
def sla_world(db, now):
    """One service down 2 h (90 min of it planned maintenance) and 30 min more, with two
    resolved incidents: uptime 24 h = 1 - 60/1440 unplanned, MTTR (120 + 30) / 2 min."""
    service = Service.objects.create(name="report-mta", display_name="Report MTA", kind="smtp")

    def flip(ago, old, new):
        StatusChange.objects.create(service=service, at=now - ago, old_status=old, new_status=new)

    flip(timedelta(days=2), Status.UNKNOWN, Status.HEALTHY)
    flip(timedelta(hours=6), Status.HEALTHY, Status.DOWN)
    flip(timedelta(hours=4), Status.DOWN, Status.HEALTHY)
    flip(timedelta(hours=1), Status.HEALTHY, Status.DOWN)
    flip(timedelta(minutes=30), Status.DOWN, Status.HEALTHY)
    alert_services.silence_create(
        matchers={"service": "report-mta"},
        starts_at=now - timedelta(hours=6, minutes=30),
        ends_at=now - timedelta(hours=4, minutes=30),
        comment="planned MTA upgrade",
        user=None,
    )
    for started, resolved in ((6 * 60, 4 * 60), (60, 30)):
        Incident.objects.create(
            title="MTA down",
            service="report-mta",
            severity="critical",
            status="resolved",
            started_at=now - timedelta(minutes=started),
            resolved_at=now - timedelta(minutes=resolved),
        )
    return service


def make_report(now, **kw) -> ScheduledReport:
    """A daily report whose send hour passed an hour ago, created two days before ``now``."""
    fields = {
        "name": "Morning executive report",
        "page": "executive",
        "range": "24h",
        "frequency": "daily",
        "hour_utc": (now - timedelta(hours=1)).astimezone(UTC).hour,
        "recipients": "ceo@example.test, cfo@example.test",
        "created_at": now - timedelta(days=2),
    }
    fields.update(kw)
    report = ScheduledReport(**fields)
    report.full_clean()
    report.save()
    return report


def attachment(message) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    return part.get_filename(), part.get_content()


def sheet_rows(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def row_starting(rows: list[list], first) -> list:
    return next(r for r in rows if r and r[0] == first)


# --- when a report is due -------------------------------------------------------------------


def test_the_latest_occurrence_follows_the_frequency():
    now = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)  # a Wednesday
    daily = ScheduledReport(frequency="daily", hour_utc=8)
    assert daily.latest_occurrence(now) == datetime(2025, 3, 12, 8, tzinfo=UTC)
    assert daily.next_occurrence(now) == datetime(2025, 3, 13, 8, tzinfo=UTC)
    assert ScheduledReport(frequency="daily", hour_utc=10).latest_occurrence(now) == datetime(
        2025, 3, 11, 10, tzinfo=UTC
    )
    monday = ScheduledReport(frequency="weekly", weekday=0, hour_utc=7)
    assert monday.latest_occurrence(now) == datetime(2025, 3, 10, 7, tzinfo=UTC)
    assert monday.next_occurrence(now) == datetime(2025, 3, 17, 7, tzinfo=UTC)
    wednesday_late = ScheduledReport(frequency="weekly", weekday=2, hour_utc=12)
    assert wednesday_late.latest_occurrence(now) == datetime(2025, 3, 5, 12, tzinfo=UTC)
    monthly = ScheduledReport(frequency="monthly", hour_utc=6)
    assert monthly.latest_occurrence(now) == datetime(2025, 3, 1, 6, tzinfo=UTC)
    assert monthly.next_occurrence(now) == datetime(2025, 4, 1, 6, tzinfo=UTC)
    first_morning = datetime(2025, 3, 1, 5, tzinfo=UTC)  # day 1, before the hour
    assert monthly.latest_occurrence(first_morning) == datetime(2025, 2, 1, 6, tzinfo=UTC)


def test_previous_calendar_month_is_the_whole_month_before():
    tr = reports.report_range("previous-month", now=datetime(2025, 3, 1, 6, 5, tzinfo=UTC))
    assert (tr.start, tr.end) == (
        datetime(2025, 2, 1, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
    )


def test_recipients_must_be_email_addresses(db):
    report = ScheduledReport(name="r", page="operations", recipients="ops@example.test, nope")
    with pytest.raises(ValidationError) as exc:
        report.full_clean()
    assert "nope" in str(exc.value.message_dict["recipients"])
    report.recipients = " , "
    with pytest.raises(ValidationError):
        report.full_clean()


def test_a_weekly_report_needs_its_weekday(db):
    report = ScheduledReport(
        name="r", page="operations", frequency="weekly", recipients="ops@example.test"
    )
    with pytest.raises(ValidationError) as exc:
        report.full_clean()
    assert "weekday" in exc.value.message_dict


# --- sending --------------------------------------------------------------------------------


def test_a_due_report_arrives_with_every_panel_and_the_sla_sheet(
    inbox, demo_metrics, sla_world, now
):
    report = make_report(now)

    summary = reports.send_due_reports(now=now)

    assert summary["sent"] == [report.pk]
    (message,) = inbox.messages
    assert sorted(a.strip() for a in message["To"].split(",")) == [
        "ceo@example.test",
        "cfo@example.test",
    ]
    assert "Morning executive report" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "- MRR: $200,000 ($150,000)" in text
    assert f"{BASE_URL}/dashboard/executive/?range=24h" in text
    assert "Report MTA: 95.833% (breached), 60.0 min down, 2 incidents, MTTR 1.25 h" in text
    html = message.get_body(("html",)).get_content()
    assert f'href="{BASE_URL}/dashboard/executive/?range=24h"' in html
    assert "$200,000" in html

    filename, content = attachment(message)
    assert filename.startswith("penguinmon-executive-") and filename.endswith(".xlsx")
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == [p.title for p in EXECUTIVE.panels] + ["SLA", "SLOs"]
    slos = sheet_rows(wb["SLOs"])
    assert slos[3][:3] == ["SLO", "service", "objective %"]
    assert row_starting(slos, "API availability")[1:4] == ["api", 99.9, "30 days, rolling"]
    assert "SLOs and error budgets (each over its own window)" in text
    kpi_rows = sheet_rows(wb["Key performance indicators"])
    assert row_starting(kpi_rows, "MRR")[1:3] == [200_000, 150_000]
    sla = sheet_rows(wb["SLA"])
    assert sla[3] == [
        "service",
        "uptime %",
        "target %",
        "SLA",
        "downtime min",
        "allowed downtime min",
        "incidents",
        "MTTR h",
    ]
    assert row_starting(sla, "report-mta") == [
        "report-mta",
        pytest.approx(100 * (1 - 60 / 1440), abs=0.001),
        99.9,
        "breached",
        60.0,
        1.4,
        2,
        1.25,
    ]
    report.refresh_from_db()
    assert report.last_sent_at == now
    assert report.last_error == ""


def test_a_report_not_yet_due_is_not_sent(inbox, now):
    # Sent yesterday at its hour; today's hour is still an hour away.
    later_today = make_report(
        now,
        hour_utc=(now + timedelta(hours=1)).astimezone(UTC).hour,
        last_sent_at=now - timedelta(hours=23),
    )
    # Made after today's send hour: its first send is tomorrow.
    made_after = make_report(now, created_at=now - timedelta(minutes=5))
    disabled = make_report(now, enabled=False)

    assert reports.send_due_reports(now=now)["sent"] == []

    assert inbox.messages == []
    for report in (made_after, disabled):
        report.refresh_from_db()
        assert report.last_sent_at is None
    later_today.refresh_from_db()
    assert later_today.last_sent_at == now - timedelta(hours=23)


def test_running_the_task_twice_sends_once(inbox, now):
    report = make_report(now, page="development")

    first = reports.send_due_reports(now=now)
    second = reports.send_due_reports(now=now + timedelta(minutes=5))

    assert first["sent"] == [report.pk]
    assert second["sent"] == []
    assert len(inbox.messages) == 1


def test_a_worker_holding_a_stale_copy_cannot_claim_a_report_already_claimed(db, now):
    report = make_report(now)
    first_worker = ScheduledReport.objects.get(pk=report.pk)
    second_worker = ScheduledReport.objects.get(pk=report.pk)  # read before the first claimed

    assert reports.claim(first_worker, now=now) is True
    assert reports.claim(second_worker, now=now + timedelta(seconds=1)) is False


def test_a_failing_send_records_the_error_and_is_retried_without_blocking_others(inbox, now):
    failing = make_report(
        now, name="A bounces", recipients="bounce@example.test", page="development"
    )
    working = make_report(now, name="B works", recipients="dev@example.test", page="development")

    summary = reports.send_due_reports(now=now)

    assert summary["failed"] == [failing.pk]
    assert summary["sent"] == [working.pk]
    assert [m["To"] for m in inbox.messages] == ["dev@example.test"]
    failing.refresh_from_db()
    assert "550" in failing.last_error and "no such mailbox" in failing.last_error
    assert failing.last_sent_at is None
    assert failing.last_attempt_at == now

    # The address is fixed; the next tick retries and clears the error.
    ScheduledReport.objects.filter(pk=failing.pk).update(recipients="dev-lead@example.test")
    retry = reports.send_due_reports(now=now + timedelta(minutes=5))
    assert retry["sent"] == [failing.pk]
    failing.refresh_from_db()
    assert failing.last_error == ""
    assert [m["To"] for m in inbox.messages][-1] == "dev-lead@example.test"


def test_an_unreachable_smtp_server_records_last_error(settings, db, now):
    closed = free_port()  # nothing listens there
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed, 3
    report = make_report(now, page="development")

    assert reports.send_due_reports(now=now)["failed"] == [report.pk]

    report.refresh_from_db()
    assert report.last_error.startswith("ConnectionRefusedError")
    assert report.last_sent_at is None


def test_a_zip_report_holds_one_csv_per_panel(inbox, now):
    make_report(now, page="operations", format="csv-zip")

    reports.send_due_reports(now=now)

    filename, content = attachment(inbox.messages[0])
    assert filename.endswith(".zip")
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert len(names) == len(OPERATIONS.panels) + 2
    assert "sla.csv" in names and "slos.csv" in names
    sla_csv = zipfile.ZipFile(io.BytesIO(content)).read("sla.csv").decode("utf-8-sig")
    assert sla_csv.splitlines()[0].startswith("service,uptime %,target %,SLA")


# --- admin ----------------------------------------------------------------------------------


def test_admin_edits_and_send_now_are_audited(inbox, admin_user, login_client, now):
    client = login_client(admin_user)
    response = client.post(
        "/admin/dashboards/scheduledreport/add/",
        {
            "name": "Ops weekly",
            "page": "operations",
            "range": "7d",
            "format": "xlsx",
            "recipients": "ops@example.test",
            "enabled": "on",
            "frequency": "weekly",
            "weekday": "0",
            "hour_utc": "7",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    report = ScheduledReport.objects.get(name="Ops weekly")
    assert AuditLog.objects.filter(action="admin.add", target_id=str(report.pk)).exists()

    response = client.post(
        "/admin/dashboards/scheduledreport/",
        {"action": "send_now", "_selected_action": [report.pk]},
    )
    assert response.status_code == 302
    assert [m["To"] for m in inbox.messages] == ["ops@example.test"]
    assert AuditLog.objects.filter(action="report.send_now", target_id=str(report.pk)).exists()
    report.refresh_from_db()
    assert report.last_sent_at is not None


def test_admin_rejects_a_bad_recipient_list(admin_user, login_client):
    response = login_client(admin_user).post(
        "/admin/dashboards/scheduledreport/add/",
        {
            "name": "Bad",
            "page": "operations",
            "range": "7d",
            "format": "xlsx",
            "recipients": "ops@example.test; not an address",
            "frequency": "daily",
            "hour_utc": "7",
        },
    )
    assert response.status_code == 200
    assert "Not e-mail addresses: not an address" in response.content.decode()
    assert not ScheduledReport.objects.exists()


# --- reports page and SLA downloads ---------------------------------------------------------


def test_reports_page_lists_reports_and_the_sla_table(make_user, login_client, sla_world, now):
    make_report(now, name="Ops daily", page="operations")
    make_report(now, name="CS daily", page="customer-success")
    response = login_client(make_user("operations")).get("/dashboard/reports/?range=24h")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ops daily" in body and "CS daily" not in body  # only the dashboards the role sees
    assert "Report MTA" in body and "95.833%" in body


def test_sla_downloads_as_csv_and_excel(make_user, login_client, sla_world):
    client = login_client(make_user("executive"))
    csv_text = client.get("/dashboard/reports/sla.csv?range=24h").content.decode("utf-8-sig")
    assert "report-mta,95.833,99.9,breached,60.0,1.4,2,1.25" in csv_text.splitlines()
    response = client.get("/dashboard/reports/sla.xlsx?range=previous-month")
    assert response.status_code == 200
    rows = sheet_rows(load_workbook(io.BytesIO(response.content)).active)
    # The service's history starts two days ago: nothing is known about last month.
    assert row_starting(rows, "report-mta")[1:4] == [None, 99.9, "no data"]


def test_sla_download_needs_a_role_that_sees_it_and_a_known_range(make_user, login_client):
    # Customer success sees none of the operations, executive and infrastructure dashboards.
    cs = login_client(make_user("customer-success"))
    assert cs.get("/dashboard/reports/sla.csv").status_code == 403
    ops = login_client(make_user("operations"))
    response = ops.get("/dashboard/reports/sla.csv?range=fortnight")
    assert response.status_code == 400
    assert "fortnight" in response.content.decode()


def test_a_report_file_downloads_only_for_its_page_role(make_user, login_client, now):
    report = make_report(now, page="operations")
    cs = login_client(make_user("customer-success"))
    assert cs.get(f"/dashboard/reports/{report.pk}/download").status_code == 403
    ops = login_client(make_user("operations"))
    response = ops.get(f"/dashboard/reports/{report.pk}/download")
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).sheetnames[-2:] == ["SLA", "SLOs"]
