"""Dashboard pages, the per-panel refresh partials and the per-panel exports.

Each view only parses the range, checks the page's capability, renders panels and returns.
"""

from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.now import on_call_now
from collectors.labels import label_values
from dashboards import exports, memo, reports
from dashboards.models import ScheduledReport
from dashboards.pages import PAGES, Page, page_by_slug
from dashboards.panels.base import render as render_panel
from dashboards.panels.base import start_rendering
from dashboards.panels.slo import SLO_REPORT_PANEL
from dashboards.timerange import DEFAULT_RANGE, PRESETS, RangeError, parse_range
from penguinmon.roles import user_can
from penguinmon.views import home as first_page

REFRESH_SECONDS = 60


def _page_for(request: HttpRequest, slug: str) -> Page:
    page = page_by_slug(slug)
    if page is None:
        raise Http404("no such dashboard")
    if not user_can(request.user, page.capability):
        raise PermissionDenied(f"Your role does not allow the {page.title.lower()} dashboard.")
    return page


def dashboard_page(request: HttpRequest, slug: str) -> HttpResponse:
    page = _page_for(request, slug)
    status = 200
    range_error = None
    try:
        tr = parse_range(request.GET)
    except RangeError as exc:
        # Show the page for the default range with the error beside the picker.
        range_error, status = exc, 400
        tr = parse_range({"range": DEFAULT_RANGE})
    started = time.perf_counter()
    with memo.scope():  # panels of one page share their reads
        rendered = start_rendering(page.panels, tr)
        # The page's own reads run while the panels are read on their threads.
        now = on_call_now() if page.now_strip and user_can(request.user, "view_alerts") else None
        pickers = [
            {"label": label, "value": tr.filter(label), "values": label_values(label)}
            for label in page.pickers
        ]
        panels = rendered()
    context = {
        "page": page,
        "pages": [p for p in PAGES if user_can(request.user, p.capability)],
        "panels": panels,
        "tr": tr,
        "presets": list(PRESETS),
        "range_error": range_error,
        "form": {
            "range": request.GET.get("range", tr.key) if range_error else tr.key,
            "start": request.GET.get("start", tr.params().get("start", "")),
            "end": request.GET.get("end", tr.params().get("end", "")),
        },
        "refresh_seconds": REFRESH_SECONDS,
        "rendered_at": timezone.now(),
        "query_ms": round((time.perf_counter() - started) * 1000),
        "now": now,
        "pickers": pickers,
    }
    return render(request, "dashboards/page.html", context, status=status)


def home(request: HttpRequest) -> HttpResponse:
    """On call (operations, on-call, staff): what is wrong right now, first thing. Other
    roles go to the first page they may see."""
    if not (user_can(request.user, "view_operations") and user_can(request.user, "view_alerts")):
        return first_page(request)
    return render(request, "dashboards/home.html", {"now": on_call_now()})


def _panel_and_range(request: HttpRequest, slug: str, key: str):
    page = _page_for(request, slug)
    panel = page.panel(key)
    if panel is None:
        raise Http404("no such panel on this dashboard")
    try:
        tr = parse_range(request.GET)
    except RangeError as exc:
        return (
            page,
            panel,
            None,
            HttpResponse(f"{exc.field}: {exc.message}", status=400, content_type="text/plain"),
        )
    return page, panel, tr, None


def panel_partial(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """The inside of one panel, fetched by dashboards.js every refresh interval."""
    page, panel, tr, error = _panel_and_range(request, slug, key)
    if error:
        return error
    rendered = render_panel(panel, tr)
    html = render_to_string(
        "dashboards/panel_body.html", {"p": rendered, "page": page, "tr": tr}, request=request
    )
    response = HttpResponse(html)
    response["Cache-Control"] = "no-store"
    return response


def panel_export(request: HttpRequest, slug: str, key: str, fmt: str) -> HttpResponse:
    page, panel, tr, error = _panel_and_range(request, slug, key)
    if error:
        return error
    rendered = render_panel(panel, tr)
    filename = f"penguinmon-{page.slug}-{panel.key}-{timezone.now():%Y%m%d-%H%M}"
    if fmt == "csv":
        body, content_type = exports.to_csv(rendered.table), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body = exports.to_xlsx(
            rendered.table, title=panel.title, subtitle=f"{page.title} · {tr.label}"
        )
        content_type = exports.XLSX_CONTENT_TYPE
    else:
        raise Http404("exports are csv or xlsx")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


# ---------------------------------------------------------------------------------------------
# Reports: the scheduled reports a user may see, their files on demand, and the SLA table.

SLA_CAPABILITIES = ("view_operations", "view_executive", "view_infrastructure")


def _can_see_sla(user) -> bool:
    return any(user_can(user, cap) for cap in SLA_CAPABILITIES)


def _report_range(request: HttpRequest, *, default: str = "30d"):
    """(TimeRange, None) for ``?range=`` (24h, 7d, 30d, previous-month), or (None, message)."""
    key = (request.GET.get("range") or default).strip()
    try:
        return reports.report_range(key, now=timezone.now()), None
    except reports.ReportError as exc:
        return None, str(exc)


def reports_page(request: HttpRequest) -> HttpResponse:
    visible = [p.slug for p in PAGES if user_can(request.user, p.capability)]
    show_sla = _can_see_sla(request.user)
    if not visible:
        raise PermissionDenied("Your role does not allow any dashboard.")
    tr, range_error = _report_range(request)
    sla_rendered = slo_rendered = None
    if show_sla and tr is not None:
        sla_rendered = render_panel(reports.SLA_PANEL, tr)
        slo_rendered = render_panel(SLO_REPORT_PANEL, tr)
    now = timezone.now()
    rows = [
        {"report": r, "next": r.next_occurrence(now) if r.enabled else None}
        for r in ScheduledReport.objects.filter(page__in=visible)
    ]
    context = {
        "rows": rows,
        "range_choices": ScheduledReport.Range.choices,
        "range_key": request.GET.get("range") or "30d",
        "range_error": range_error,
        "tr": tr,
        "sla": sla_rendered,
        "slos": slo_rendered,
        "sla_target": reports.SLA_TARGET_PCT,
        "show_sla": show_sla,
        "can_admin": request.user.has_perm("dashboards.change_scheduledreport"),
    }
    return render(request, "dashboards/reports.html", context, status=400 if range_error else 200)


def sla_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if not _can_see_sla(request.user):
        raise PermissionDenied("Your role does not allow the SLA report.")
    tr, range_error = _report_range(request)
    if tr is None:
        return HttpResponse(f"range: {range_error}", status=400, content_type="text/plain")
    table = render_panel(reports.SLA_PANEL, tr).table
    if fmt == "csv":
        body, content_type = exports.to_csv(table), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        # The workbook carries the SLO table beside the SLA one (the CSV stays one table).
        slos = render_panel(SLO_REPORT_PANEL, tr).table
        body = reports.workbook(
            [
                reports.Sheet(reports.SLA_SHEET, reports.SLA_PANEL.title, table),
                reports.Sheet(reports.SLO_SHEET, SLO_REPORT_PANEL.title, slos),
            ],
            subtitle=tr.label,
        )
        content_type = exports.XLSX_CONTENT_TYPE
    else:
        raise Http404("exports are csv or xlsx")
    response = HttpResponse(body, content_type=content_type)
    name = f"penguinmon-sla-{tr.start:%Y%m%d}-{tr.end:%Y%m%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def report_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The file a scheduled report would attach if it were sent now (nothing is sent)."""
    report = ScheduledReport.objects.filter(pk=pk).first()
    if report is None:
        raise Http404("no such report")
    if report.dashboard is None:
        raise Http404("the report's dashboard no longer exists")
    _page_for(request, report.page)  # the page's capability (or staff) opens its report
    built = reports.build_report(report, now=timezone.now())
    response = HttpResponse(built.content, content_type=built.content_type)
    response["Content-Disposition"] = f'attachment; filename="{built.filename}"'
    return response
