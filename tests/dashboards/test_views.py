"""The dashboard pages, refresh partials, exports and panel API as a user or script meets them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils.html import escape
from openpyxl import load_workbook

from dashboards.pages import PAGES

ROLE_FOR = {
    "executive": "executive",
    "operations": "operations",
    "development": "development",
    "customer-success": "customer-success",
    "infrastructure": "operations",
    "table-traffic": "operations",
}


def test_pages_need_login(client, db):
    for page in PAGES:
        resp = client.get(page.path)
        assert resp.status_code == 302 and "/accounts/login/" in resp["Location"], page.path


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.slug)
def test_each_role_opens_its_page(page, demo_metrics, make_user, login_client):
    client = login_client(make_user(ROLE_FOR[page.slug]))
    resp = client.get(page.path)
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "plotly/plotly.min.js" in body
    # Works offline: every script and stylesheet comes from this server. (Not a search for
    # "cdn" in the whole page: a random CSRF token contains those letters now and then.)
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', body)
    for panel in page.panels:
        assert f'id="panel-{panel.key}"' in body
        assert (
            f"panels/{panel.key}/export.csv" in body and f"panels/{panel.key}/export.xlsx" in body
        )


def test_other_roles_get_403(demo_metrics, make_user, login_client):
    client = login_client(make_user("customer-success"))
    assert client.get("/dashboard/operations/").status_code == 403
    assert client.get("/dashboard/development/").status_code == 403
    assert client.get("/dashboard/system/infrastructure/").status_code == 403
    assert client.get("/dashboard/operations/panels/capacity/export.csv").status_code == 403
    assert client.get("/dashboard/customer-success/").status_code == 200


def test_staff_see_every_page(demo_metrics, make_user, login_client):
    client = login_client(make_user(staff=True))
    for page in PAGES:
        resp = client.get(page.path)
        assert resp.status_code == 200, page.path
        body = resp.content.decode()
        assert f"<h1>{page.title}</h1>" in body, page.path
        for panel in page.panels:
            assert f'id="panel-{panel.key}"' in body, (page.path, panel.key)
            assert f"<h2>{escape(panel.title)}</h2>" in body, (page.path, panel.key)
    # The numbers are the store's: the executive page shows this period's MRR.
    executive = client.get("/dashboard/executive/", {"range": "24h"}).content.decode()
    assert "$200,000" in executive and "$150,000" in executive  # this period and the last


def test_range_picker_changes_the_numbers(demo_metrics, make_user, login_client):
    client = login_client(make_user("executive"))
    day = client.get("/dashboard/executive/", {"range": "24h"}).context["panels"][0].data
    hour = client.get("/dashboard/executive/", {"range": "1h"}).context["panels"][0].data
    mrr_day = next(k for k in day if k.key == "mrr")
    mrr_hour = next(k for k in hour if k.key == "mrr")
    assert mrr_day.value == 200_000 and mrr_day.previous == 150_000
    assert mrr_hour.value is None  # the last MRR sample is 2 hours old


def test_custom_range_and_bad_range(demo_metrics, make_user, login_client):
    client = login_client(make_user("executive"))
    end = demo_metrics
    start = end - timedelta(hours=3)
    resp = client.get(
        "/dashboard/executive/",
        {
            "range": "custom",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": end.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert resp.status_code == 200
    assert resp.context["tr"].key == "custom"
    bad = client.get(
        "/dashboard/executive/", {"range": "custom", "start": "yesterday", "end": "2025-01-01"}
    )
    assert bad.status_code == 400
    assert "is not a date" in bad.content.decode()
    backwards = client.get(
        "/dashboard/executive/", {"range": "custom", "start": "2025-01-02", "end": "2025-01-01"}
    )
    assert "end must be after start" in backwards.content.decode()
    ancient = {"range": "custom", "start": "0001-01-01", "end": "0001-06-01"}
    resp = client.get("/dashboard/executive/", ancient)
    assert resp.status_code == 400 and "before 1970" in resp.content.decode()
    assert client.get("/dashboard/executive/panels/kpis/export.xlsx", ancient).status_code == 400


def test_csv_export_opens_with_the_panel_rows(demo_metrics, make_user, login_client):
    client = login_client(make_user("executive"))
    resp = client.get("/dashboard/executive/panels/kpis/export.csv", {"range": "24h"})
    assert resp.status_code == 200
    assert resp["Content-Disposition"].startswith(
        'attachment; filename="penguinmon-executive-kpis-'
    )
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["kpi", "value", "previous period"]
    mrr = next(r for r in rows if r[0] == "MRR")
    assert float(mrr[1]) == 200_000 and float(mrr[2]) == 150_000


def test_xlsx_export_opens_in_openpyxl(demo_metrics, make_user, login_client):
    client = login_client(make_user("operations"))
    resp = client.get(
        "/dashboard/operations/table-traffic/panels/table-traffic/export.xlsx", {"range": "24h"}
    )
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.content))
    ws = wb.active
    values = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    assert values[0][0] == "Table traffic (operations/hour)"
    header = values[3]
    assert header[0] == "table" and "avg ops/h" in header
    tables = {r[0]: r for r in values[4:]}
    assert tables["email_messages"][2] == "very high"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.slug)
def test_every_panel_exports_csv_and_xlsx(page, demo_metrics, make_user, login_client):
    client = login_client(make_user(staff=True))
    for panel in page.panels:
        base = f"{page.path}panels/{panel.key}/"
        csv_resp = client.get(base + "export.csv")
        assert csv_resp.status_code == 200, panel.key
        assert list(csv.reader(io.StringIO(csv_resp.content.decode("utf-8-sig"))))[0], panel.key
        xlsx = client.get(base + "export.xlsx")
        assert xlsx.status_code == 200, panel.key
        load_workbook(io.BytesIO(xlsx.content))


def test_unknown_export_format_and_panel_are_404(demo_metrics, make_user, login_client):
    client = login_client(make_user(staff=True))
    assert client.get("/dashboard/executive/panels/kpis/export.pdf").status_code == 404
    assert client.get("/dashboard/executive/panels/nope/").status_code == 404


def test_refresh_partial_returns_the_panel_body(demo_metrics, make_user, login_client):
    client = login_client(make_user("executive"))
    resp = client.get("/dashboard/executive/panels/revenue/", {"range": "24h"})
    assert resp.status_code == 200
    assert resp["Cache-Control"] == "no-store"
    body = resp.content.decode()
    assert 'data-figure="fig-revenue"' in body and '<script id="fig-revenue"' in body
    assert "<html" not in body
    assert client.get("/dashboard/executive/panels/revenue/", {"range": "2w"}).status_code == 400


def test_panel_api_json(demo_metrics, api, make_token, client):
    resp = api.get("/api/v1/dashboards/executive/panels/kpis", range="24h")
    assert resp.status_code == 200
    body = resp.json()
    assert body["range"]["key"] == "24h"
    mrr = next(r for r in body["table"]["rows"] if r[0] == "MRR")
    assert mrr[1] == 200_000
    fig = api.get("/api/v1/dashboards/executive/panels/revenue").json()["figure"]
    assert fig["data"][0]["type"] == "scatter"
    assert api.get("/api/v1/dashboards/executive/panels/nope").status_code == 404
    assert api.get("/api/v1/dashboards/executive/panels/kpis", range="2w").status_code == 422
    listing = api.get("/api/v1/dashboards").json()
    assert {d["page"] for d in listing["dashboards"]} == {p.slug for p in PAGES}
    assert client.get("/api/v1/dashboards/executive/panels/kpis").status_code == 401


def test_panel_api_checks_the_role(demo_metrics, make_user, make_token, client):
    token = make_token("read", user=make_user("development"))
    resp = client.get(
        "/api/v1/dashboards/executive/panels/kpis", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 403
    assert "error" in resp.json() or "detail" in resp.json()
