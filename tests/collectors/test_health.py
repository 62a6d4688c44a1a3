"""Service health: N failures in a row -> Down, slow or partly failing -> Degraded, uptime %."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from collectors.models import Probe, Service, Status, StatusChange
from collectors.monitoring.health import uptime_pct, uptimes
from collectors.monitoring.probing import refresh_service_status, run_due_probes
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


def test_a_service_without_enabled_probes_is_not_monitored_never_healthy():
    service = make_service(status=Status.HEALTHY)
    Probe.objects.create(
        service=service,
        name="off",
        kind="tcp",
        enabled=False,
        config={"host": "x", "port": 1},
        last_run_at=timezone.now(),
        last_ok=True,
    )
    refresh_service_status()
    service.refresh_from_db()
    assert service.status == Status.NOT_MONITORED
    assert service.get_status_display() == "Not monitored"
    assert service.status_reason == "not monitored: no enabled probe"
    flip = service.status_changes.get()
    assert (flip.old_status, flip.new_status) == (Status.HEALTHY, Status.NOT_MONITORED)


def test_a_probe_silent_for_three_intervals_makes_the_service_stale():
    service = make_service(status=Status.HEALTHY)
    now = timezone.now()
    Probe.objects.create(
        service=service,
        name="port",
        kind="tcp",
        config={"host": "127.0.0.1", "port": 1},
        interval_seconds=30,
        timeout_seconds=5,
        last_run_at=now - timedelta(seconds=90),
        last_ok=True,
        last_message="open",
    )
    refresh_service_status(now=now)
    service.refresh_from_db()
    assert service.status == Status.HEALTHY  # 3 intervals + timeout not yet passed

    refresh_service_status(now=now + timedelta(seconds=10))
    service.refresh_from_db()
    assert service.status == Status.STALE
    assert service.get_status_display() == "Stale"
    assert service.status_reason.startswith("stale: port: no result since ")


def test_stale_and_unmonitored_time_counts_neither_up_nor_down():
    service = make_service()
    now = timezone.now()
    for ago, old, new in [
        (timedelta(hours=24), Status.UNKNOWN, Status.HEALTHY),
        (timedelta(hours=12), Status.HEALTHY, Status.STALE),  # 6 h without results
        (timedelta(hours=6), Status.STALE, Status.DOWN),  # 1 h down
        (timedelta(hours=5), Status.DOWN, Status.NOT_MONITORED),  # probe disabled
    ]:
        StatusChange.objects.create(service=service, at=now - ago, old_status=old, new_status=new)
    # Known time: 12 h healthy + 1 h down.
    assert uptime_pct(service, timedelta(hours=24), now=now) == pytest.approx(
        100 * 12 / 13, abs=0.001
    )


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


def test_down_time_in_a_maintenance_window_of_the_service_is_not_counted():
    from alerts import services as alert_services

    service = make_service()
    now = timezone.now().replace(microsecond=0)

    def flip(ago, old, new):
        StatusChange.objects.create(service=service, at=now - ago, old_status=old, new_status=new)

    flip(timedelta(days=2), Status.UNKNOWN, Status.HEALTHY)
    flip(timedelta(hours=6), Status.HEALTHY, Status.DOWN)  # down 2 h, 6 h ago ...
    flip(timedelta(hours=4), Status.DOWN, Status.HEALTHY)
    flip(timedelta(hours=1), Status.HEALTHY, Status.DOWN)  # ... and 30 min, 1 h ago
    flip(timedelta(minutes=30), Status.DOWN, Status.HEALTHY)

    def window(matchers, start_ago, end_ago, **extra):
        alert_services.silence_create(
            matchers=matchers,
            starts_at=now - start_ago,
            ends_at=now - end_ago,
            comment="planned MTA upgrade",
            user=None,
            **extra,
        )

    assert uptimes(service, now=now)["24h"] == pytest.approx(100 * (1 - 150 / 1440), abs=0.001)
    # Planned: 90 of the 120 minutes of the first outage fell inside the maintenance window.
    window({"service": "mta"}, timedelta(hours=6, minutes=30), timedelta(hours=4, minutes=30))
    # Silences that do not take the whole service out change nothing.
    window({"service": "api"}, timedelta(hours=2), timedelta(minutes=1))
    window({"service": "mta", "alertname": "Queue"}, timedelta(hours=2), timedelta(minutes=1))
    got = uptimes(service, now=now)
    assert got["24h"] == pytest.approx(100 * (1 - 60 / 1440), abs=0.001)
    assert uptime_pct(service, timedelta(hours=24), now=now) == got["24h"]

    # A whole-platform window covering the second outage: no unplanned down time is left
    # except the 30 minutes of the first outage outside its window.
    window({}, timedelta(hours=1), timedelta(minutes=20), everything=True)
    assert uptimes(service, now=now)["24h"] == pytest.approx(100 * (1 - 30 / 1440), abs=0.001)


def test_a_weekly_maintenance_window_excludes_every_occurrence():
    from alerts import services as alert_services

    service = make_service()
    now = timezone.now().replace(microsecond=0)
    began = now - timedelta(days=7, hours=2)  # the same weekday, a week ago, and today
    StatusChange.objects.create(
        service=service, at=now - timedelta(days=8), old_status="unknown", new_status="healthy"
    )
    for days in (7, 0):
        at = now - timedelta(days=days, hours=2)
        StatusChange.objects.create(service=service, at=at, old_status="healthy", new_status="down")
        StatusChange.objects.create(
            service=service, at=at + timedelta(hours=1), old_status="down", new_status="healthy"
        )
    alert_services.silence_create(
        matchers={"service": "mta"},
        starts_at=now - timedelta(days=30),
        repeat="weekly",
        weekdays=[began.weekday()],
        local_start=began.time(),
        duration_minutes=60,
        timezone="UTC",
        comment="weekly patching",
        user=None,
    )
    assert uptimes(service, now=now)["7d"] == 100.0
    assert uptime_pct(service, timedelta(days=8), now=now) == 100.0
