"""The probe runner: concurrency, timeouts, failures recorded as results, metrics in the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.models import Probe, Service
from collectors.monitoring.probing import run_due_probes, run_probe
from collectors.store.query import latest_values
from tests.collectors.servers import SilentServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service():
    Service.objects.all().delete()  # start without the default services
    return Service.objects.create(name="edge", display_name="Edge", kind="api")


def http_probe(service, name, url, timeout=1.0, **extra):
    return Probe.objects.create(
        service=service,
        name=name,
        kind="http",
        config={"url": url, **extra},
        timeout_seconds=timeout,
        interval_seconds=30,
    )


def test_a_hanging_target_does_not_delay_the_others(service, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    with SilentServer() as silent:
        http_probe(service, "hung", silent.url, timeout=2)
        for i in range(6):
            http_probe(service, f"fast{i}", httpserver.url_for("/"))
        summary = run_due_probes()
    by_name = {o.probe.name: o for o in summary.outcomes}
    assert not by_name["hung"].result.ok
    assert by_name["hung"].result.message.startswith("timed out after 2 s")
    hung = by_name["hung"]
    # Ordering, not stopwatch limits: every fast probe was done before the hung one gave up,
    # and the hung one gave up at its own timeout.
    for i in range(6):
        fast = by_name[f"fast{i}"]
        assert fast.result.ok
        assert fast.finished_at < hung.finished_at
    assert hung.result.latency_ms >= 2000


def test_a_probe_that_raises_records_the_reason(service):
    broken = Probe.objects.create(
        service=service, name="db", kind="postgres", config={"dsn": "not a dsn"}
    )
    summary = run_due_probes()
    assert summary.failed == 1
    broken.refresh_from_db()
    assert broken.last_ok is False
    assert "ProgrammingError" in broken.last_message or "invalid" in broken.last_message
    assert broken.consecutive_failures == 1


def test_results_go_to_the_metric_store(service, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    http_probe(service, "home", httpserver.url_for("/"))
    run_due_probes()
    up = latest_values(metric="probe_up", labels={"service": "edge", "probe": "home"})
    latency = latest_values(metric="probe_latency_ms", labels={"service": "edge", "probe": "home"})
    assert [v.value for v in up] == [1.0]
    assert latency[0].value > 0


def test_probes_run_on_their_interval(service, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    probe = http_probe(service, "home", httpserver.url_for("/"))
    assert len(run_due_probes().outcomes) == 1
    assert len(run_due_probes().outcomes) == 0  # not due again for 30 s
    probe.refresh_from_db()
    assert timedelta(seconds=25) < probe.next_run_at - timezone.now() <= timedelta(seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    assert len(run_due_probes(now=later).outcomes) == 1


def test_disabled_probes_do_not_run(service, httpserver):
    probe = http_probe(service, "off", httpserver.url_for("/"))
    probe.enabled = False
    probe.save()
    assert run_due_probes().outcomes == []


def test_run_now_ignores_the_schedule(service, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    probe = http_probe(service, "home", httpserver.url_for("/"))
    probe.next_run_at = timezone.now() + timedelta(hours=1)
    probe.save()
    outcome = run_probe(probe=probe)
    assert outcome.result.ok
    probe.refresh_from_db()
    assert probe.last_ok is True
    assert probe.next_run_at > timezone.now() + timedelta(minutes=59)  # schedule left alone


def test_the_collector_lag_probe_reports_overdue_probes(service, httpserver):
    overdue = http_probe(service, "late", httpserver.url_for("/"))
    overdue.next_run_at = timezone.now() - timedelta(minutes=10)
    overdue.save()
    lag = Probe.objects.create(
        service=service, name="lag", kind="lag", config={"down_seconds": 300}
    )
    outcome = run_probe(probe=lag)
    assert not outcome.result.ok
    assert outcome.result.message.startswith("probes are 6")  # ~600 s overdue
    assert "is the beat/worker running?" in outcome.result.message
