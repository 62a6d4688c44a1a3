"""SLO pages: the overview and one SLO's page (charts, incidents with their budget share,
deployments), the error-budget tiles on the executive and development dashboards, the freeze
on the deployments page, and who may see them."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from collectors.models import Service, Status, StatusChange
from incidents.models import Deployment, Incident
from incidents.slo.services import slo_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_slo():
    """The shop was down 2 of the last 24 hours: its 99.9% availability budget is spent."""
    shop = Service.objects.create(name="shop", display_name="Shop", kind="api")
    now = timezone.now()
    for at, old, new in [
        (now - timedelta(days=40), Status.UNKNOWN, Status.HEALTHY),
        (now - timedelta(hours=3), Status.HEALTHY, Status.DOWN),
        (now - timedelta(hours=1), Status.DOWN, Status.HEALTHY),
    ]:
        StatusChange.objects.create(service=shop, at=at, old_status=old, new_status=new)
    deploy = Deployment.objects.create(
        service="shop", version="7.1", started_at=now - timedelta(hours=3, minutes=10)
    )
    Incident.objects.create(
        title="Shop down after 7.1",
        service="shop",
        started_at=now - timedelta(hours=3),
        resolved_at=now - timedelta(hours=1),
        status="resolved",
        caused_by_deployment=deploy,
    )
    return slo_create(
        name="Shop availability", service="shop", sli_kind="availability", objective_pct=99.9
    )


def _figure(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, element_id
    return json.loads(match.group(1))


def test_the_overview_lists_every_slo_with_its_budget_and_the_freeze(
    login_client, make_user, frozen_slo
):
    html = login_client(make_user("development")).get("/dashboard/slos/").content.decode()
    assert "API availability" in html and "Login success" in html  # the seeds' defaults
    row = re.search(rf'<tr data-slo="{frozen_slo.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "99.9%" in row
    # 120 minutes down against a 43.2-minute budget: -177.8% left, -76.8 of 43.2 minutes.
    assert "-177.8%" in row and "-76.8 of 43.2 min" in row
    assert "exhausted" in row
    assert "reliability freeze" in html and "<strong>shop</strong>" in html
    bars = _figure(html, "fig-budgets")["data"][0]
    assert dict(zip(bars["y"], bars["x"], strict=True))["Shop availability"] == pytest.approx(
        -177.78, abs=0.01
    )


def test_an_slo_page_marks_incidents_and_deployments_on_its_charts(
    login_client, make_user, frozen_slo
):
    resp = login_client(make_user("executive")).get(f"/dashboard/slos/{frozen_slo.pk}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "Shop down after 7.1" in html
    assert "277.8%" in html  # the incident's share: 120 of 43.2 minutes
    burn_down = _figure(html, "fig-burn-down")
    names = [t["name"] for t in burn_down["data"]]
    assert names == ["budget line (even spending)", "budget remaining", "deployments"]
    assert burn_down["data"][1]["y"][-1] == pytest.approx(-177.78, abs=0.5)
    assert any("277.8%" in a["text"] for a in burn_down["layout"]["annotations"])
    # 7.1 is charged with the hour after it, deployed 10 minutes before the outage: 50 minutes
    # down of a 43.2-minute budget, 115.7%.
    assert burn_down["data"][2]["text"] == ["115.7%"]
    table = re.search(r'<table class="dash-table deployment-shares">(.*?)</table>', html, re.S)
    assert "7.1" in table.group(1) and "50.0 min" in table.group(1)
    assert "115.7%" in table.group(1)
    burn_rate = _figure(html, "fig-burn-rate")
    labels = [a["text"] for a in burn_rate["layout"]["annotations"]]
    assert labels == [
        "page 14.4× (1h/5m)",
        "page 6× (6h/30m)",
        "ticket 3× (1d/2h)",
        "ticket 1× (3d/6h)",
    ]
    assert "reliability freeze" in html


def test_executive_and_development_dashboards_show_error_budgets(
    login_client, make_user, frozen_slo
):
    html = login_client(make_user("executive")).get("/dashboard/executive/").content.decode()
    assert "Error budgets" in html
    assert f'data-slo="{frozen_slo.pk}"' in html
    html = login_client(make_user("development")).get("/dashboard/development/").content.decode()
    assert "Error budgets and reliability freeze" in html
    assert "reliability freeze</span> <strong>shop</strong>" in html


def test_the_deployments_page_says_a_service_is_frozen(login_client, make_user, frozen_slo):
    html = login_client(make_user("operations")).get("/incidents/deployments/").content.decode()
    assert "reliability freeze</span> <strong>shop</strong>" in html


def test_slo_pages_need_a_login(client, frozen_slo):
    assert client.get("/dashboard/slos/").status_code == 302
    assert client.get(f"/dashboard/slos/{frozen_slo.pk}/").status_code == 302


def test_a_user_without_a_role_may_not_see_slos(login_client, make_user):
    assert login_client(make_user()).get("/dashboard/slos/").status_code == 403


def test_the_sla_download_and_reports_page_carry_the_slo_table(login_client, make_user, frozen_slo):
    import io

    from openpyxl import load_workbook

    client = login_client(make_user("operations"))
    wb = load_workbook(io.BytesIO(client.get("/dashboard/reports/sla.xlsx").content))
    assert wb.sheetnames == ["SLA", "SLOs"]
    rows = [[c.value for c in r] for r in wb["SLOs"].iter_rows()]
    shop = next(r for r in rows if r[0] == "Shop availability")
    assert shop[1:4] == ["shop", 99.9, "30 days, rolling"]
    assert shop[5] == pytest.approx(-177.78, abs=0.01)
    assert shop[8] == "exhausted"
    assert "Shop down after 7.1 (277.8%)" in shop[9]
    html = client.get("/dashboard/reports/").content.decode()
    assert "SLOs and error budgets" in html and "Shop down after 7.1 (277.8%)" in html


@pytest.fixture
def seeded_requests():
    """Three days of seeded shop requests (some 5xx, lognormal latencies), none within five
    minutes of a burn span's edge, so the API and the pages, rendered moments apart, read the
    same requests."""
    from collectors.store import write_request_timings
    from collectors.store.rollups import run_rollups

    Service.objects.create(name="shop", display_name="Shop", kind="api")
    rng = np.random.default_rng(1414)
    now = timezone.now()
    edges = [now - timedelta(hours=h) for h in (1, 6, 24, 72)]
    items = []
    for age in rng.uniform(120, 3 * 86400 - 600, 4000):
        ts = now - timedelta(seconds=float(age))
        if any(abs((ts - e).total_seconds()) < 300 for e in edges):
            continue
        items.append(
            {
                "service": "shop",
                "route": str(rng.choice(["/v1/cart", "/v1/pay"])),
                "method": "GET",
                "status": int(
                    rng.choice([200, 200, 200, 404, 500], p=[0.5, 0.3, 0.15, 0.04, 0.01])
                ),
                "duration_ms": float(rng.lognormal(np.log(120), 0.7)),
                "ts": ts.isoformat(),
            }
        )
    write_request_timings(items)
    run_rollups()
    return items


def test_the_overview_the_api_and_the_slo_page_show_the_same_figures(
    login_client, make_user, make_token, seeded_requests
):
    from django.template.defaultfilters import floatformat

    ok = slo_create(name="Shop ok", service="shop", sli_kind="success_ratio", objective_pct=99.5)
    fast = slo_create(
        name="Shop fast", service="shop", sli_kind="latency", threshold_ms=200, objective_pct=90
    )
    token = make_token("read")
    client = login_client(make_user("development"))
    overview = client.get("/dashboard/slos/").content.decode()
    for slo in (ok, fast):
        b = client.get(
            f"/api/v1/slos/{slo.pk}", headers={"Authorization": f"Bearer {token}"}
        ).json()["budget"]
        page = client.get(f"/dashboard/slos/{slo.pk}/").content.decode()
        row = re.search(rf'<tr data-slo="{slo.pk}">(.*?)</tr>', overview, re.S).group(1)
        shown = [
            f"{floatformat(b['sli_pct'], 3)}%",
            f"{floatformat(b['budget_remaining_pct'], 1)}%",
            *(f"{floatformat(b['burn_rates'][s], 2)}×" for s in ("1h", "6h", "1d", "3d")),
        ]
        for text in shown:
            assert text in row, (slo.name, text)
            assert text in page, (slo.name, text)
    # The success ratio against the seeded requests themselves: non-5xx over all.
    b = client.get(f"/api/v1/slos/{ok.pk}", headers={"Authorization": f"Bearer {token}"}).json()
    statuses = np.array([i["status"] for i in seeded_requests])
    assert b["budget"]["events_total"] == len(statuses)
    assert b["budget"]["events_bad"] == int((statuses >= 500).sum())
    assert b["budget"]["sli_pct"] == pytest.approx(100 * (statuses < 500).mean())
