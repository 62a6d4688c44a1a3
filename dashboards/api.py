"""Dashboard panels as JSON: the same figure and rows the page shows, for scripts and reports."""

from __future__ import annotations

from django.utils import timezone
from ninja import Router
from ninja.errors import HttpError

from dashboards.pages import PAGES, page_by_slug
from dashboards.panels.base import render
from dashboards.timerange import RangeError, parse_range
from penguinmon.api_auth import api_auth
from penguinmon.roles import user_can

router = Router(tags=["dashboards"])


@router.get("/dashboards", auth=api_auth("read"))
def list_dashboards(request):
    """The dashboards (and their panels) the caller's role may open."""
    return {
        "dashboards": [
            {
                "page": p.slug,
                "title": p.title,
                "url": p.path,
                "panels": [{"panel": panel.key, "title": panel.title} for panel in p.panels],
            }
            for p in PAGES
            if user_can(request.user, p.capability)
        ]
    }


def _cell(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@router.get("/dashboards/{page}/panels/{panel}", auth=api_auth("read"))
def panel_data(request, page: str, panel: str, range: str = "24h", start: str = "", end: str = ""):  # noqa: A002
    """One panel for a range (1h, 24h, 7d, 30d, 90d, or custom with start/end): its Plotly
    figure (null for table panels) and its rows, as the CSV export has them."""
    found = page_by_slug(page)
    if found is None:
        raise HttpError(404, f"no dashboard {page!r}; see GET /api/v1/dashboards")
    if not user_can(request.user, found.capability):
        raise HttpError(403, f"your role may not open the {found.title.lower()} dashboard")
    target = found.panel(panel)
    if target is None:
        raise HttpError(404, f"no panel {panel!r} on the {found.slug} dashboard")
    try:
        tr = parse_range({"range": range, "start": start, "end": end})
    except RangeError as exc:
        raise HttpError(422, f"{exc.field}: {exc.message}") from exc
    rendered = render(target, tr)
    return {
        "page": found.slug,
        "panel": target.key,
        "title": target.title,
        "range": {"key": tr.key, "start": tr.start, "end": tr.end, "step_seconds": tr.step},
        "generated_at": timezone.now(),
        "figure": rendered.figure,
        "table": {
            "columns": rendered.table.columns,
            "rows": [[_cell(v) for v in row] for row in rendered.table.rows],
        },
    }
