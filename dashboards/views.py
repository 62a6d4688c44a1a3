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

from dashboards import exports, memo
from dashboards.pages import PAGES, Page, page_by_slug
from dashboards.panels.base import render as render_panel
from dashboards.timerange import DEFAULT_RANGE, PRESETS, RangeError, parse_range
from penguinmon.roles import user_can

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
        panels = [render_panel(panel, tr) for panel in page.panels]
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
    }
    return render(request, "dashboards/page.html", context, status=status)


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
