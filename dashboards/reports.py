"""Building and sending scheduled reports, and the SLA table they carry.

A report is one dashboard page rendered for the report's range: every panel's table (the same
rows the page's CSV/Excel exports hold) as one sheet of a workbook, or one CSV in a zip, plus
the SLA sheet on the operations / executive / infrastructure pages. The e-mail body lists the
page's KPI values and links back to the page.

Sending is claimed with compare-and-set on ``last_sent_at`` (as healthchecks claims checks):
only the worker whose UPDATE matched the value it read sends; no lock is held across SMTP. A
failed send puts the old value back and records ``last_error``, so the next tick retries.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from copy import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from collectors.monitoring.health import uptime_figures
from collectors.monitoring.selectors import services_list
from dashboards import exports, kpis, memo
from dashboards.models import ScheduledReport, add_months, quarter_start
from dashboards.pages import Page, page_by_slug
from dashboards.panels.base import Panel, Table
from dashboards.panels.base import render as render_panel
from dashboards.panels.feeds import ACTION_COLUMNS, action_rows
from dashboards.panels.slo import SLO_REPORT_PANEL, SloReportRow
from dashboards.timerange import CUSTOM, PRESETS, TimeRange
from incidents import postmortem_services
from incidents.selectors import incident_stats, incidents_in_range
from penguinmon.redact import header_value, mask_secrets

log = logging.getLogger(__name__)

SLA_TARGET_PCT = 99.9
SLA_PAGES = frozenset({"operations", "executive", "infrastructure"})
SLA_SHEET = "SLA"
SLO_SHEET = "SLOs"
PREVIOUS_MONTH = ScheduledReport.Range.PREVIOUS_MONTH.value
PREVIOUS_QUARTER = ScheduledReport.Range.PREVIOUS_QUARTER.value
RANGE_CHOICES = [c.value for c in ScheduledReport.Range]

# What the e-mail body lists for each page: the KPIs (dashboards.kpis) that page is about.
_KPIS_BY_KEY = {d.key: d for d in kpis.EXECUTIVE_KPIS}
PAGE_KPIS: dict[str, tuple[str, ...]] = {
    "executive": tuple(_KPIS_BY_KEY),
    "operations": ("uptime", "api_p95", "error_rate", "incidents", "mttr"),
    "development": ("api_p95", "error_rate", "incidents", "mttr"),
    "customer-success": ("deliverability", "nps", "churn", "mau", "dau"),
    "infrastructure": ("uptime", "api_p95", "error_rate", "incidents", "mttr"),
}


class ReportError(Exception):
    """The report cannot be built (e.g. its page no longer exists); the message says why."""


def report_range(key: str, *, now: datetime) -> TimeRange:
    """The period a report covers: a preset ending now, or the previous calendar month (UTC)."""
    if key == PREVIOUS_QUARTER:
        end = quarter_start(now.astimezone(UTC))
        return TimeRange(CUSTOM, add_months(end, -3), end)
    if key == PREVIOUS_MONTH:
        end = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = (end - timedelta(days=1)).replace(day=1)
        return TimeRange(CUSTOM, start, end)
    if key not in PRESETS:
        raise ReportError(f"range {key!r} is not one of {', '.join(RANGE_CHOICES)}")
    return TimeRange(key, now - PRESETS[key], now)


# ---------------------------------------------------------------------------------------------
# SLA


@dataclass
class SlaRow:
    service: str
    display_name: str
    uptime_pct: float | None
    downtime_min: float | None
    incidents: int
    mttr_hours: float | None

    @property
    def met(self) -> bool | None:
        return None if self.uptime_pct is None else self.uptime_pct >= SLA_TARGET_PCT


def sla_rows(tr: TimeRange) -> list[SlaRow]:
    """Per service over ``tr``: uptime % with maintenance excluded (collectors.monitoring.health), the
    down minutes that uptime means over the range, incidents started and MTTR
    (incidents.selectors)."""
    services = services_list()
    figures = uptime_figures(services, tr.start, tr.end)
    rows = []
    for service in services:
        stats = incident_stats(start=tr.start, end=tr.end, service=service.name)
        rows.append(
            SlaRow(
                service=service.name,
                display_name=str(service),
                uptime_pct=figures[service.pk].uptime_pct,
                # The minutes actually spent down (outside maintenance), not the range's share.
                downtime_min=figures[service.pk].downtime_min,
                incidents=stats["count"],
                mttr_hours=stats["mttr_hours"],
            )
        )
    return rows


class SlaPanel(Panel):
    """The SLA table as a panel, so its exports are the dashboards' own CSV/Excel files."""

    key = "sla"
    title = "SLA by service"
    description = (
        f"Uptime against the {SLA_TARGET_PCT}% target, planned maintenance excluded; "
        "incidents started in the range and their mean time to resolve."
    )
    template = "dashboards/panels/_table.html"

    def query(self, tr: TimeRange) -> list[SlaRow]:
        return sla_rows(tr)

    def table(self, data: list[SlaRow], tr: TimeRange) -> Table:
        allowed = round(tr.length.total_seconds() / 60 * (100 - SLA_TARGET_PCT) / 100, 1)
        rows = [
            [
                r.service,
                r.uptime_pct,
                SLA_TARGET_PCT,
                {True: "met", False: "breached", None: "no data"}[r.met],
                r.downtime_min,
                allowed,
                r.incidents,
                r.mttr_hours,
            ]
            for r in data
        ]
        return Table(
            [
                "service",
                "uptime %",
                "target %",
                "SLA",
                "downtime min",
                "allowed downtime min",
                "incidents",
                "MTTR h",
            ],
            rows,
        )


SLA_PANEL = SlaPanel()


# ---------------------------------------------------------------------------------------------
# Incident follow-up: overdue actions in weekly reports; the review pack (incidents,
# postmortems, open actions) in monthly and quarterly ones.

COMPARISON = {
    PREVIOUS_MONTH: "previous month",
    PREVIOUS_QUARTER: "previous quarter",
}


def previous_start(range_key: str, tr: TimeRange) -> datetime:
    """Start of the period the KPIs are compared with: the calendar month or quarter before
    for those ranges (they differ in length), else the same length before."""
    if range_key == PREVIOUS_QUARTER:
        return add_months(tr.start, -3)
    if range_key == PREVIOUS_MONTH:
        return add_months(tr.start, -1)
    return tr.previous().start


@dataclass
class Followup:
    overdue: list | None = None  # weekly: overdue corrective actions
    incidents: list | None = None  # review pack: incidents of the period …
    incident_stats: dict | None = None
    postmortems: list | None = None  # … their postmortems …
    open_actions: list | None = None  # … and every open corrective action
    missing_postmortems: int = 0

    def sheets(self) -> list[tuple[str, Table]]:
        out = []
        if self.overdue is not None:
            out.append(
                ("Overdue corrective actions", Table(ACTION_COLUMNS, action_rows(self.overdue)))
            )
        if self.postmortems is not None:
            out.append(
                (
                    "Postmortems",
                    Table(
                        [
                            "incident",
                            "severity",
                            "started",
                            "review meeting",
                            "actions",
                            "open",
                            "overdue",
                        ],
                        [
                            [
                                f"#{p.incident_id} {p.incident.title}",
                                p.incident.severity,
                                p.incident.started_at,
                                p.review_meeting_on,
                                p.actions_total,
                                p.actions_open,
                                p.actions_overdue,
                            ]
                            for p in self.postmortems
                        ],
                    ),
                )
            )
        if self.open_actions is not None:
            out.append(
                ("Open corrective actions", Table(ACTION_COLUMNS, action_rows(self.open_actions)))
            )
        return out


def incident_followup(report: ScheduledReport, tr: TimeRange) -> Followup:
    F = ScheduledReport.Frequency
    if report.frequency == F.WEEKLY:
        return Followup(overdue=postmortem_services.overdue_actions())
    if report.frequency in (F.MONTHLY, F.QUARTERLY):
        incidents = list(incidents_in_range(start=tr.start, end=tr.end))
        postmortems = postmortem_services.review_period_postmortems(start=tr.start, end=tr.end)
        with_pm = {p.incident_id for p in postmortems}
        return Followup(
            overdue=postmortem_services.overdue_actions(),
            incidents=incidents,
            incident_stats=incident_stats(start=tr.start, end=tr.end),
            postmortems=postmortems,
            open_actions=postmortem_services.open_actions(),
            missing_postmortems=sum(
                1
                for i in incidents
                if i.severity == "critical" and i.status == "resolved" and i.pk not in with_pm
            ),
        )
    return Followup()


# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class Sheet:
    name: str  # unique within the file, ≤ 31 characters (Excel's limit)
    title: str
    table: Table


@dataclass
class BuiltReport:
    report: ScheduledReport
    page: Page
    tr: TimeRange
    sheets: list[Sheet]
    kpis: list[kpis.Kpi]
    sla: list[SlaRow] | None
    slos: list[SloReportRow] | None
    followup: Followup
    page_url: str
    filename: str
    content: bytes
    content_type: str

    @property
    def subject(self) -> str:
        kind = {
            ScheduledReport.Frequency.QUARTERLY: "quarterly summary, ",
            ScheduledReport.Frequency.MONTHLY: "monthly review, ",
        }.get(self.report.frequency, "")
        return header_value(
            f"[PenguinMon] {self.report.name}: {self.page.title}, {kind}{self.tr.label}"
        )


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_names(titles: list[str]) -> list[str]:
    names: list[str] = []
    for title in titles:
        base = _SHEET_FORBIDDEN.sub("-", title).strip("' ")[:31] or "sheet"
        name, n = base, 2
        while name.lower() in (x.lower() for x in names):
            suffix = f" ({n})"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        names.append(name)
    return names


def base_url() -> str:
    return settings.PENGUINMON_BASE_URL.rstrip("/")


def page_url(page: Page, tr: TimeRange) -> str:
    return f"{base_url()}{page.path}?{tr.querystring()}"


def workbook(sheets: list[Sheet], *, subtitle: str) -> bytes:
    """One workbook, one sheet per table, each laid out by ``exports.to_xlsx`` (title, subtitle,
    bold header, widths, date formats, frozen header) and copied in."""
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        src = load_workbook(
            io.BytesIO(exports.to_xlsx(sheet.table, title=sheet.title, subtitle=subtitle))
        ).active
        dst = wb.create_sheet(sheet.name)
        for row in src.iter_rows():
            for cell in row:
                if cell.value is None and not cell.has_style:
                    continue
                target = dst.cell(row=cell.row, column=cell.column, value=cell.value)
                if cell.has_style:
                    target.font = copy(cell.font)
                    target.number_format = cell.number_format
        for letter, dim in src.column_dimensions.items():
            dst.column_dimensions[letter].width = dim.width
        dst.freeze_panes = src.freeze_panes
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_zip(sheets: list[Sheet]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for sheet in sheets:
            name = re.sub(r"[^A-Za-z0-9._-]+", "-", sheet.name).strip("-").lower() or "sheet"
            zf.writestr(f"{name}.csv", exports.to_csv(sheet.table))
    return out.getvalue()


def build_report(report: ScheduledReport, *, now: datetime) -> BuiltReport:
    page = page_by_slug(report.page)
    if page is None:
        raise ReportError(f"the dashboard page {report.page!r} no longer exists")
    tr = report_range(report.range, now=now)
    defs = [_KPIS_BY_KEY[k] for k in PAGE_KPIS.get(page.slug, ())]
    with memo.scope():  # the panels and the KPI list share their reads, as on the page
        rendered = [render_panel(panel, tr) for panel in page.panels]
        kpi_values = (
            kpis.compute(defs, tr.start, tr.end, previous_start(report.range, tr)) if defs else []
        )
        sla = sla_rows(tr) if page.slug in SLA_PAGES else None
        slos = SLO_REPORT_PANEL.query(tr) if page.slug in SLA_PAGES else None
    titles = [r.panel.title for r in rendered]
    tables = [r.table for r in rendered]
    if sla is not None:
        titles.append(SLA_SHEET)
        tables.append(SLA_PANEL.table(sla, tr))
    if slos is not None:
        titles.append(SLO_SHEET)
        tables.append(SLO_REPORT_PANEL.table(slos, tr))
    followup = incident_followup(report, tr)
    for title, table in followup.sheets():
        if title not in titles:  # the operations page already has the overdue panel
            titles.append(title)
            tables.append(table)
    names = _sheet_names(titles)
    sheets = [Sheet(n, t, tab) for n, t, tab in zip(names, titles, tables, strict=True)]
    stamp = f"{tr.end.astimezone(UTC):%Y%m%d}"
    if report.format == ScheduledReport.Format.CSV_ZIP:
        content, content_type, ext = csv_zip(sheets), "application/zip", "zip"
    else:
        content = workbook(sheets, subtitle=f"{page.title} · {tr.label}")
        content_type, ext = exports.XLSX_CONTENT_TYPE, "xlsx"
    return BuiltReport(
        report=report,
        page=page,
        tr=tr,
        sheets=sheets,
        kpis=kpi_values,
        sla=sla,
        slos=slos,
        followup=followup,
        page_url=page_url(page, tr),
        filename=f"penguinmon-{page.slug}-{stamp}.{ext}",
        content=content,
        content_type=content_type,
    )


def email_message(built: BuiltReport) -> EmailMultiAlternatives:
    context = {
        "report": built.report,
        "page": built.page,
        "tr": built.tr,
        "kpis": built.kpis,
        "sla": built.sla,
        "sla_target": SLA_TARGET_PCT,
        "slos": built.slos,
        "followup": built.followup,
        "comparison": COMPARISON.get(built.report.range, "previous period"),
        "sheets": built.sheets,
        "page_url": built.page_url,
        "reports_url": f"{base_url()}/dashboard/reports/",
        "filename": built.filename,
    }
    message = EmailMultiAlternatives(
        subject=built.subject,
        body=render_to_string("dashboards/report_email.txt", context),
        to=built.report.recipient_list,
    )
    message.attach_alternative(
        render_to_string("dashboards/report_email.html", context), "text/html"
    )
    message.attach(built.filename, built.content, built.content_type)
    return message


def deliver(report: ScheduledReport, *, now: datetime) -> BuiltReport:
    """Build the report for ``now`` and send it through Django's EMAIL_BACKEND (raises on
    failure; the caller records it)."""
    built = build_report(report, now=now)
    email_message(built).send(fail_silently=False)
    return built


# ---------------------------------------------------------------------------------------------
# Sending


def _error_text(exc: BaseException) -> str:
    return mask_secrets(f"{type(exc).__name__}: {exc}")[:2000]


def claim(report: ScheduledReport, *, now: datetime) -> bool:
    """Mark ``report`` as being sent at ``now`` if nobody did since it was read: True for the
    one caller whose UPDATE matched, False for every other worker or tick."""
    return bool(
        ScheduledReport.objects.filter(
            pk=report.pk, enabled=True, last_sent_at=report.last_sent_at
        ).update(last_sent_at=now, last_attempt_at=now)
    )


def send_due_reports(*, now: datetime | None = None) -> dict:
    """Send every enabled report whose latest occurrence has not been sent. One report's
    failure is recorded on it and does not stop the others."""
    now = now or timezone.now()
    summary: dict[str, list[int]] = {"sent": [], "failed": [], "claimed_elsewhere": []}
    candidates = ScheduledReport.objects.filter(enabled=True).filter(
        Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=now)
    )
    for report in candidates:
        if not report.is_due(now):
            continue
        previous = report.last_sent_at
        if not claim(report, now=now):
            summary["claimed_elsewhere"].append(report.pk)
            continue
        try:
            deliver(report, now=now)
        except Exception as exc:  # any failure: record it, put the claim back, go on
            log.warning("scheduled report %s failed: %s", report.pk, exc, exc_info=True)
            ScheduledReport.objects.filter(pk=report.pk, last_sent_at=now).update(
                last_sent_at=previous, last_error=_error_text(exc)
            )
            summary["failed"].append(report.pk)
        else:
            ScheduledReport.objects.filter(pk=report.pk).update(last_error="")
            summary["sent"].append(report.pk)
    return summary


def send_now(report: ScheduledReport, *, now: datetime | None = None) -> str:
    """Send ``report`` at once, whether due or not (the admin's "send now"). Returns "" when
    sent, else the error, which is also recorded on the report."""
    now = now or timezone.now()
    try:
        deliver(report, now=now)
    except Exception as exc:  # reported back to the admin user and stored on the report
        error = _error_text(exc)
        ScheduledReport.objects.filter(pk=report.pk).update(last_attempt_at=now, last_error=error)
        return error
    ScheduledReport.objects.filter(pk=report.pk).update(
        last_sent_at=now, last_attempt_at=now, last_error=""
    )
    return ""
