"""The service health grid and the slowest-queries panel read the collectors app: probes run
for real (a closed TCP port, an HTTP server on 127.0.0.1, the test Postgres itself)."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from collectors.models import Probe, Service, Status
from collectors.monitoring.probes.postgres import app_conninfo
from collectors.monitoring.probing import run_due_probes
from dashboards.pages import page_by_slug
from dashboards.panels.base import render
from incidents.slo.models import SLO
from tests.collectors.servers import closed_port
from tests.dashboards.conftest import Store, write_known_world

pytestmark = pytest.mark.django_db(transaction=True)


def run_probes(times: int = 1) -> None:
    for _ in range(times):
        Probe.objects.update(next_run_at=None)
        run_due_probes()


@pytest.fixture
def services(httpserver):
    SLO.objects.all().delete()  # the default SLOs protect their services
    Service.objects.all().delete()
    httpserver.expect_request("/health").respond_with_data("ok")
    api = Service.objects.create(name="api", display_name="API", kind="http")
    Probe.objects.create(
        service=api, name="health", kind="http", config={"url": httpserver.url_for("/health")}
    )
    smtp = Service.objects.create(name="smtp", display_name="SMTP", kind="smtp")
    Probe.objects.create(
        service=smtp, name="port", kind="tcp", config={"host": "127.0.0.1", "port": closed_port()}
    )
    run_probes(times=3)


def cards(tr):
    return {c.name: c for c in render(page_by_slug("operations").panel("service-health"), tr).data}


def test_health_cards_show_the_collectors_status_and_reason(services, day):
    got = cards(day)
    assert got["api"].status == Status.HEALTHY
    assert got["smtp"].status == Status.DOWN
    assert "3 failures in a row" in got["smtp"].reason
    assert got["smtp"].probes_total == 1 and got["smtp"].probes_up == 0
    # down first, as on the services page
    assert [c.name for c in got.values()][0] == "smtp"


def test_the_service_picker_narrows_the_health_grid(services, day):
    picked = replace(day, filters=(("service", "smtp"),))
    assert list(cards(picked)) == ["smtp"]
    assert list(cards(replace(day, filters=(("service", "nosuch"),)))) == []


def test_health_cards_add_request_figures_from_the_store(services, day, now):
    write_known_world(Store(), now)
    api = cards(day)["api"]
    assert api.requests_per_min == pytest.approx(110 / (24 * 60))
    assert api.error_rate_pct == pytest.approx(100 * 5 / 110)
    assert 50 < api.p95_ms < 175 and api.avg_ms is not None
    assert api.warnings == []  # 4.5% 5xx is under the 5% alert threshold


def test_health_card_for_traffic_without_a_probe_says_so(services, day, now):
    write_known_world(Store(), now)
    Service.objects.filter(name="api").delete()
    api = cards(day)["api"]
    assert api.status == "unmonitored" and not api.registered
    assert api.status_label == "Not monitored"
    assert api.reason == "not monitored: no probe watches this service"


def test_health_panel_renders_cards_in_the_page(services, make_user, login_client):
    client = login_client(make_user("operations"))
    body = client.get("/dashboard/operations/").content.decode()
    assert 'data-service="smtp"' in body and "status-down" in body


def test_slowest_queries_come_from_the_postgres_probe(day):
    Service.objects.all().delete()
    db = Service.objects.create(name="oltp-db", display_name="OLTP", kind="postgres")
    Probe.objects.create(
        service=db, name="pg", kind="postgres", config={"create_extension": True, "statements": 200}
    )
    with psycopg.connect(app_conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(0.05)")
    run_probes()
    rendered = render(page_by_slug("development").panel("slow-queries"), day)
    assert rendered.data.available
    rows = rendered.table.rows
    assert 0 < len(rows) <= 10 and all(r[0] == "oltp-db" for r in rows)
    means = [r[3] for r in rows]
    assert means == sorted(means, reverse=True)


def test_slowest_queries_say_why_when_a_probe_reports_none(day):
    Service.objects.all().delete()
    db = Service.objects.create(name="oltp-db", display_name="OLTP", kind="postgres")
    Probe.objects.create(service=db, name="pg", kind="postgres", config={"statements": 5})
    rendered = render(page_by_slug("development").panel("slow-queries"), day)
    assert not rendered.data.available
    assert "oltp-db/pg: has not run yet" in rendered.data.unavailable_reason
