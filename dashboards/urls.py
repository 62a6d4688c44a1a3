"""Dashboard routes (mounted at the site root): each page, its panels' refresh partials and exports."""

from django.urls import path

from dashboards import slo_views, views
from dashboards.pages import PAGES

app_name = "dashboards"

urlpatterns = []
for _page in PAGES:
    base = _page.path.strip("/") + "/"
    urlpatterns += [
        path(base, views.dashboard_page, {"slug": _page.slug}, name=_page.slug),
        path(
            base + "panels/<slug:key>/",
            views.panel_partial,
            {"slug": _page.slug},
            name=f"{_page.slug}-panel",
        ),
        path(
            base + "panels/<slug:key>/export.<str:fmt>",
            views.panel_export,
            {"slug": _page.slug},
            name=f"{_page.slug}-export",
        ),
    ]

urlpatterns += [
    path("dashboard/slos/", slo_views.slo_overview, name="slos"),
    path("dashboard/slos/<int:slo_id>/", slo_views.slo_detail, name="slo"),
    path("dashboard/reports/", views.reports_page, name="reports"),
    path("dashboard/reports/sla.<str:fmt>", views.sla_export, name="sla-export"),
    path("dashboard/reports/<int:pk>/download", views.report_download, name="report-download"),
]
