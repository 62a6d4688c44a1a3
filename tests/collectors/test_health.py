"""Service health: N failures in a row -> Down, slow or partly failing -> Degraded, uptime %."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from collectors.health import uptimes
from collectors.models import Probe, Service, Status, StatusChange
from collectors.services import refresh_service_status, run_due_probes
from tests.collectors.servers import closed_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_default_services():
    Service.objects.all().delete()


def run_now():
    """Run every enabled probe now, whatever its schedule."""
    Probe.objects.update(next_run_at=None)
    return run_due_probes()


def make_service(name="mta", **fields):
    return Service.objects.create(name=name, display_name=name.upper(), kind="smtp", **fields)


def test_a_service_is_down_after_n_consecutive_failures_and_recovers():
    service = make_service(down_after_failures=3)
    port = closed_port()
    Probe.objects.create(
        service=service, name="port", kind="tcp", config={"host": "127.0.0.1", "port": port}
    )

    statuses = []
    for _ in range(3):
        run_now()
        service.refresh_from_db()
        statuses.append(service.status)
    assert statuses == [Status.DEGRADED, Status.DEGRADED, Status.DOWN]
    assert "3 failures in a row: connection refused" in service.status_reason

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        run_now()
    service.refresh_from_db()
    assert service.status == Status.HEALTHY
    flips = list(service.status_changes.order_by("at").values_list("old_status", "new_status"))
    assert flips == [("unknown", "degraded"), ("degraded", "down"), ("down", "healthy")]


def test_a_slow_answer_is_degraded(httpserver):
    def slow(request):
        time.sleep(0.3)
        return Response("ok")

    httpserver.expect_request("/").respond_with_handler(slow)
    service = make_service("api", degraded_latency_ms=100)
    Probe.objects.create(
        service=service, name="home", kind="http", config={"url": httpserver.url_for("/")}
    )
    run_now()
    service.refresh_from_db()
    assert service.status == Status.DEGRADED
    assert "slow" in service.status_reason and "> 100 ms" in service.status_reason


def test_one_of_two_probes_down_is_degraded_both_down_is_down(httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    service = make_service("web", down_after_failures=1)
    Probe.objects.create(
        service=service, name="a", kind="http", config={"url": httpserver.url_for("/")}
    )
    broken = Probe.objects.create(
        service=service, name="b", kind="tcp", config={"host": "127.0.0.1", "port": closed_port()}
    )
    run_now()
    service.refresh_from_db()
    assert service.status == Status.DEGRADED
    assert service.health().probes[broken.pk] == Status.DOWN
    Probe.objects.filter(name="a").update(config={"url": f"http://127.0.0.1:{closed_port()}/"})
    run_now()
    service.refresh_from_db()
    assert service.status == Status.DOWN


def test_a_child_of_a_down_parent_is_suppressed():
    parent = make_service("redis", down_after_failures=1)
    child = make_service("celery-queue", parent=parent, down_after_failures=1)
    for svc in (parent, child):
        Probe.objects.create(
            service=svc, name="p", kind="tcp", config={"host": "127.0.0.1", "port": closed_port()}
        )
    run_now()
    child.refresh_from_db()
    assert child.status == Status.DOWN
    assert child.status_reason.endswith("(parent redis is down)")


def test_a_service_without_enabled_probes_is_unknown():
    service = make_service()
    Probe.objects.create(
        service=service, name="off", kind="tcp", enabled=False, config={"host": "x", "port": 1}
    )
    refresh_service_status()
    service.refresh_from_db()
    assert service.status == Status.UNKNOWN
    assert service.health().reason == "no enabled probes"


def test_uptime_counts_down_time_in_each_window():
    service = make_service()
    now = timezone.now()

    def flip(ago, old, new):
        StatusChange.objects.create(service=service, at=now - ago, old_status=old, new_status=new)

    flip(timedelta(days=10), Status.UNKNOWN, Status.HEALTHY)
    flip(timedelta(days=5), Status.HEALTHY, Status.DOWN)  # down 12 h, 5 days ago
    flip(timedelta(days=4, hours=12), Status.DOWN, Status.HEALTHY)
    flip(timedelta(hours=2), Status.HEALTHY, Status.DOWN)  # down 36 min, 2 h ago
    flip(
        timedelta(hours=1, minutes=24), Status.DOWN, Status.DEGRADED
    )  # degraded still counts as up
    got = uptimes(service, now=now)
    assert got["24h"] == pytest.approx(100 * (1 - 36 / 1440), abs=0.001)  # 97.5 %
    assert got["7d"] == pytest.approx(100 * (1 - (12 * 60 + 36) / (7 * 1440)), abs=0.001)
    # Before monitoring started (10 days ago) the status is unknown and does not count.
    assert got["30d"] == pytest.approx(100 * (1 - (12 * 60 + 36) / (10 * 1440)), abs=0.001)
    assert got["90d"] == got["30d"]


def test_uptime_is_none_without_any_history():
    assert uptimes(make_service(), now=timezone.now()) == {
        "24h": None,
        "7d": None,
        "30d": None,
        "90d": None,
    }
