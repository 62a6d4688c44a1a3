"""The /services/ pages: the health grid, a service's history, run now, and who may see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.models import Host, Probe, Service, Status, StatusChange
from collectors.monitoring.probing import run_due_probes
from incidents.slo.models import SLO

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("default_services")]


@pytest.fixture
def ops(make_user, login_client):
    return login_client(make_user("operations"))


@pytest.fixture
def api_service(httpserver):
    httpserver.expect_request("/health").respond_with_data("ok")
    service = Service.objects.get(name="api")
    Probe.objects.filter(service=service).update(
        config={"url": httpserver.url_for("/health")}, next_run_at=None
    )
    Probe.objects.exclude(service=service).update(enabled=False)
    run_due_probes()
    return service


def test_the_grid_shows_every_default_service_with_its_status(ops, api_service):
    page = ops.get("/services/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in (
        "API Server",
        "SMTP Service",
        "OLTP Database",
        "OLAP Database",
        "Redis Cache",
        "Elasticsearch",
        "Celery Queue",
        "Collector Lag",
        "Email Service Provider",
        "Payment Processor",
    ):
        assert name in html, name
    assert 'data-service="api"' in html
    card = html[html.index('data-service="api"') : html.index('data-service="smtp"')]
    assert "status-healthy" in card and "Healthy" in card
    assert "HTTP 200" in card


def test_the_grid_shows_uptime_percentages(ops):
    service = Service.objects.get(name="smtp")
    now = timezone.now()
    StatusChange.objects.create(
        service=service,
        at=now - timedelta(hours=24),
        old_status=Status.UNKNOWN,
        new_status=Status.HEALTHY,
    )
    StatusChange.objects.create(
        service=service,
        at=now - timedelta(hours=12),
        old_status=Status.HEALTHY,
        new_status=Status.DOWN,
    )
    StatusChange.objects.create(
        service=service,
        at=now - timedelta(hours=6),
        old_status=Status.DOWN,
        new_status=Status.HEALTHY,
    )
    html = ops.get("/services/").content.decode()
    card = html[html.index('data-service="smtp"') : html.index('data-service="oltp-db"')]
    assert "75.00 %" in card


def test_the_grid_shows_host_top_processes(ops):
    Host.objects.create(
        name="mx-1",
        cpu_percent=12.5,
        memory_percent=40.0,
        process_count=180,
        top_cpu=[{"pid": 42, "name": "postfix", "cpu_percent": 9.5, "memory_percent": 1.0}],
        top_memory=[{"pid": 7, "name": "postgres", "cpu_percent": 0.1, "memory_percent": 22.0}],
        disks={"/": 61.2},
        last_sample_at=timezone.now(),
    )
    html = ops.get("/services/").content.decode()
    host = html[html.index('data-host="mx-1"') :]
    assert "postfix" in host and "postgres" in host and "61.2 %" in host


def test_the_detail_page_has_history_and_a_latency_chart(ops, api_service):
    page = ops.get("/services/api/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="latency-chart"' in html and "plotly.min.js" in html
    assert 'unknown</span> → <span class="badge status-healthy">healthy' in html
    assert "Uptime 24h" in html


def test_an_unknown_range_is_explained(ops, api_service):
    page = ops.get("/services/api/", {"range": "1y"})
    assert page.status_code == 200
    assert "Unknown range" in page.content.decode()


def test_an_unknown_service_is_404(ops):
    assert ops.get("/services/no-such-thing/").status_code == 404


def test_run_now_runs_the_probe_and_says_what_happened(ops, api_service, httpserver):
    probe = api_service.probes.get()
    response = ops.post(f"/services/api/probes/{probe.pk}/run/", follow=True)
    assert response.status_code == 200
    assert "api/health: HTTP 200" in response.content.decode()


def test_roles_without_view_services_are_refused(make_user, login_client):
    client = login_client(make_user("executive"))
    assert client.get("/services/").status_code == 403
    assert client.get("/services/api/").status_code == 403


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/services/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_admin_refuses_a_probe_config_without_its_required_keys_and_audits_edits(
    admin_user, login_client
):
    from penguinmon.models import AuditLog

    client = login_client(admin_user)
    probe = Probe.objects.get(service__name="elasticsearch")
    form = {
        "service": probe.service_id,
        "name": probe.name,
        "kind": "elasticsearch",
        "config": '{"user": "x"}',
        "enabled": "on",
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "location": "default",
    }
    response = client.post(f"/admin/collectors/probe/{probe.pk}/change/", form)
    assert response.status_code == 200
    assert "config needs &#x27;url&#x27; for a elasticsearch probe" in response.content.decode()
    form["config"] = '{"url": "http://es.internal:9200"}'
    response = client.post(f"/admin/collectors/probe/{probe.pk}/change/", form)
    assert response.status_code == 302
    entry = AuditLog.objects.get(target_type="collectors.Probe", target_id=str(probe.pk))
    assert entry.changes["enabled"] == {"from": False, "to": True}


def _add_services_with_history(first: int, last: int) -> None:
    """Services svc-<first>..svc-<last-1>, each with a probe, a day of history (down for the
    6 hours until now, when it recovered) and a maintenance window over the first 3 of those
    hours. The recovery keeps the downtime at 3 h however long a loaded machine takes to read
    the page (an outage still going on grows by the seconds that pass: 87.499 %)."""
    from alerts import services as alert_services

    now = timezone.now()
    for i in range(first, last):
        service = Service.objects.create(name=f"svc-{i}", display_name=f"Service {i}", kind="api")
        Probe.objects.create(service=service, name="tcp", kind="tcp", enabled=True, config={})
        for ago, old, new in (
            (timedelta(hours=24), Status.UNKNOWN, Status.HEALTHY),
            (timedelta(hours=6), Status.HEALTHY, Status.DOWN),
            (timedelta(0), Status.DOWN, Status.HEALTHY),
        ):
            StatusChange.objects.create(
                service=service, at=now - ago, old_status=old, new_status=new
            )
        alert_services.silence_create(
            matchers={"service": service.name},
            starts_at=now - timedelta(hours=6),
            ends_at=now - timedelta(hours=3),
            comment="planned upgrade",
            user=None,
        )


def test_the_grid_and_the_api_read_the_same_number_of_queries_for_3_or_10_services(ops, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    SLO.objects.all().delete()  # the default SLOs protect their services from deletion
    Service.objects.all().delete()
    # The first call records the token's last use and the session: one-off writes.
    ops.get("/services/")
    api.get("/api/v1/services")
    counts = []
    for first, last in ((0, 3), (3, 10)):
        _add_services_with_history(first, last)
        with CaptureQueriesContext(connection) as page:
            html = ops.get("/services/").content.decode()
        with CaptureQueriesContext(connection) as listing:
            rows = api.get("/api/v1/services").json()
        counts.append((len(page), len(listing)))
        assert len(rows) == last
        # 6 h down, 3 of them in planned maintenance: 3 h of 24 count against the service.
        # The window ends at "now", which moves on between writing the history and reading it.
        assert all(r["uptime_pct"]["24h"] == pytest.approx(87.5, abs=0.01) for r in rows)
        assert html.count("87.50 %") >= last
    assert counts[0] == counts[1], counts
