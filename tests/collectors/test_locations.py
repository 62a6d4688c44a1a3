"""Probe locations: each location's worker runs only its probes, results are kept and labelled
per location, a probe is down when k of its n locations report it down, a location that stops
reporting is stale (named, not counted), and untagged probes behave as before.

Three locations are simulated by calling the location-scoped runner with different location
values. They reach the target through their own address (``location_overrides``), each a real
server on 127.0.0.1: "us" gets an answering endpoint, "eu" an endpoint answering 503 (its load
balancer lost the backend) and "ap" a socket that accepts and never answers (a hung route).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.models import Probe, ProbeLocation, Service, Status
from collectors.monitoring.probing import refresh_service_status, run_due_probes
from collectors.store.query import latest_values
from penguinmon.models import AuditLog
from penguinmon.queues import redis_client
from tests.collectors.servers import SilentServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_default_services():
    Service.objects.all().delete()


@pytest.fixture
def routes(httpserver):
    """Per-location addresses of one service: us answers, eu answers 503, ap hangs."""
    httpserver.expect_request("/us/health").respond_with_data("ok")
    httpserver.expect_request("/eu/health").respond_with_data("no backend", status=503)
    with SilentServer() as hung:
        yield {
            "us": httpserver.url_for("/us/health"),
            "eu": httpserver.url_for("/eu/health"),
            "ap": hung.url,
        }


def make_probe(service, routes, locations=("eu", "us", "ap"), **fields):
    return Probe.objects.create(
        service=service,
        name="https",
        kind="http",
        config={"url": routes["us"]},
        locations=list(locations),
        location_overrides={loc: {"url": routes[loc]} for loc in locations if loc != "us"},
        timeout_seconds=1,
        interval_seconds=30,
        **fields,
    )


def make_service(**fields):
    return Service.objects.create(
        name="api", display_name="API", kind="api", down_after_failures=1, **fields
    )


def run_everywhere(locations=("eu", "us", "ap")):
    return {loc: run_due_probes(location=loc) for loc in locations}


def test_two_of_three_locations_down_with_k_2_is_down_and_names_them(routes):
    service = make_service(fail_locations_k=2)
    make_probe(service, routes)
    runs = run_everywhere()
    assert [o.result.ok for o in runs["us"].outcomes] == [True]
    assert [o.result.ok for o in runs["eu"].outcomes] == [False]
    assert runs["ap"].outcomes[0].result.message.startswith("timed out after 1 s")
    service.refresh_from_db()
    assert service.status == Status.DOWN
    assert service.status_reason.startswith("https: down from 2 of 3 locations: eu, ap")
    assert "eu: 1 failures in a row: HTTP 503" in service.status_reason


def test_fewer_than_k_locations_down_is_degraded(routes):
    service = make_service(fail_locations_k=2)
    probe = make_probe(service, routes, fail_locations_k=3)  # the probe's own k wins
    run_everywhere()
    service.refresh_from_db()
    assert service.status == Status.DEGRADED
    assert "down from 2 of 3 locations (down needs 3): eu, ap" in service.status_reason
    # One failing location and k=2 (the service's): degraded as well; k=1: down.
    Probe.objects.filter(pk=probe.pk).update(fail_locations_k=None, locations=["eu", "us"])
    refresh_service_status()
    service.refresh_from_db()
    assert service.status == Status.DEGRADED
    assert "down from 1 of 2 locations (down needs 2): eu" in service.status_reason
    Service.objects.filter(pk=service.pk).update(fail_locations_k=1)
    refresh_service_status()
    service.refresh_from_db()
    assert service.status == Status.DOWN
    assert "down from 1 of 2 locations: eu" in service.status_reason


def test_each_location_runs_only_its_own_probes_on_its_own_schedule(routes):
    service = make_service()
    tagged = make_probe(service, routes, locations=("eu", "us"))
    untagged = Probe.objects.create(
        service=service, name="home", kind="http", config={"url": routes["us"]}
    )
    assert [o.probe.name for o in run_due_probes(location="us").outcomes] == ["https"]
    assert [o.probe.name for o in run_due_probes().outcomes] == ["home"]  # the default location
    assert run_due_probes(location="ap").outcomes == []  # no probe is tagged ap
    assert run_due_probes(location="us").outcomes == []  # us ran it; due again in 30 s
    assert [o.probe.name for o in run_due_probes(location="eu").outcomes] == ["https"]
    later = timezone.now() + timedelta(seconds=31)
    assert len(run_due_probes(location="us", now=later).outcomes) == 1
    results = {
        r.location: (r.last_ok, r.consecutive_failures) for r in tagged.location_results.all()
    }
    assert results == {"us": (True, 0), "eu": (False, 1)}
    tagged.refresh_from_db()
    assert tagged.last_run_at is None  # the probe row is the default location's, not run there
    untagged.refresh_from_db()
    assert untagged.last_ok is True and not untagged.location_results.exists()


def test_samples_carry_the_location_label_and_untagged_probes_keep_their_series(routes):
    service = make_service()
    make_probe(service, routes)
    Probe.objects.create(service=service, name="home", kind="http", config={"url": routes["us"]})
    run_everywhere()
    run_due_probes()
    up = {
        v.labels.get("location"): v.value
        for v in latest_values(metric="probe_up", labels={"service": "api", "probe": "https"})
    }
    assert up == {"us": 1.0, "eu": 0.0, "ap": 0.0}
    latency = latest_values(
        metric="probe_latency_ms", labels={"service": "api", "probe": "https", "location": "us"}
    )
    assert len(latency) == 1 and latency[0].value > 0
    home = latest_values(metric="probe_up", labels={"service": "api", "probe": "home"})
    assert [(v.labels, v.value) for v in home] == [({"service": "api", "probe": "home"}, 1.0)]


def test_a_location_that_stops_reporting_is_stale_and_does_not_count(routes):
    service = make_service(fail_locations_k=1)
    make_probe(service, routes, locations=("eu", "us"))
    run_everywhere(("eu", "us"))
    service.refresh_from_db()
    assert service.status == Status.DOWN  # eu is down and k = 1
    # The eu worker stopped 5 minutes ago (more than 3 intervals of 30 s): its last failure
    # is old news about eu's route, not evidence that the service is down.
    five_min_ago = timezone.now() - timedelta(minutes=5)
    ProbeLocation.objects.filter(location="eu").update(last_run_at=five_min_ago)
    refresh_service_status()
    service.refresh_from_db()
    assert service.status == Status.HEALTHY
    assert "ok from 1 of 2 locations" in service.status_reason
    assert f"stale: eu: no result since {five_min_ago:%Y-%m-%d %H:%M} UTC" in service.status_reason
    # Every location stale: nothing is known.
    ProbeLocation.objects.update(last_run_at=five_min_ago)
    refresh_service_status()
    service.refresh_from_db()
    assert service.status == Status.STALE


def test_a_location_not_run_yet_is_named(routes):
    service = make_service()
    make_probe(service, routes, locations=("eu", "us"))
    run_due_probes(location="us")
    service.refresh_from_db()
    assert service.status == Status.HEALTHY
    assert "stale: eu: not run yet" in service.status_reason


def test_beat_sends_each_location_its_run_on_its_own_queue(routes):
    from collectors.tasks import dispatch_probe_runs

    client = redis_client()
    client.delete("probes-default", "probes-eu", "probes-us", "probes-ap")
    service = make_service()
    make_probe(service, routes, locations=("eu", "us"))
    Probe.objects.create(service=service, name="home", kind="http", config={"url": routes["us"]})
    assert dispatch_probe_runs() == 3
    for location in ("default", "eu", "us"):
        message = json.loads(client.lpop(f"probes-{location}"))
        assert message["headers"]["task"] == "collectors.run_due_probes"
        assert message["headers"]["argsrepr"] == repr([location])
    assert client.llen("probes-ap") == 0


def test_a_run_for_another_location_is_not_run_here(routes):
    from collectors.tasks import run_due_probes as run_task

    service = make_service()
    probe = make_probe(service, routes, locations=("eu",))
    # This test process is at the default location; a run meant for eu must not measure eu.
    assert run_task("eu") == {"probes": 0, "skipped_for": "eu"}
    assert not ProbeLocation.objects.filter(probe=probe, last_run_at__isnull=False).exists()


def test_the_api_and_pages_show_results_per_location(routes, api, make_user, login_client):
    service = make_service(fail_locations_k=2)
    make_probe(service, routes)
    run_everywhere()
    detail = api.get("/api/v1/services/api").json()
    assert detail["status"] == "down" and detail["fail_locations_k"] == 2
    (probe,) = detail["probes"]
    assert probe["k_of_n"] == "2 of 3 locations down (down at 2)"
    by_location = {r["location"]: r for r in probe["location_results"]}
    assert set(by_location) == {"eu", "us", "ap"}
    assert by_location["us"]["status"] == "healthy" and by_location["us"]["last_ok"] is True
    assert by_location["eu"]["status"] == "down"
    assert by_location["eu"]["last_message"].startswith("HTTP 503")
    assert by_location["ap"]["last_message"].startswith("timed out after 1 s")

    ops = login_client(make_user("operations"))
    grid = ops.get("/services/").content.decode()
    assert "https: 2 of 3 locations down (down at 2)" in grid
    page = ops.get("/services/api/").content.decode()
    assert 'data-locations="https"' in page
    for location in ("eu", "us", "ap"):
        assert f'data-location="{location}"' in page


def test_untagged_probes_show_no_location_breakdown(routes, api):
    service = make_service()
    Probe.objects.create(service=service, name="home", kind="http", config={"url": routes["us"]})
    run_due_probes()
    (probe,) = api.get("/api/v1/services/api").json()["probes"]
    assert probe["locations"] == [] and probe["location_results"] == []
    assert probe["k_of_n"] is None and probe["status"] == "healthy"


def test_run_now_from_another_location_makes_it_due_there(routes, api):
    service = make_service()
    probe = make_probe(service, routes, locations=("eu", "us"))
    run_everywhere(("eu", "us"))
    response = api.post(f"/api/v1/probes/{probe.pk}/run")
    assert response.status_code == 409
    assert "runs at eu, us, not here (default)" in response.json()["error"]
    assert list(probe.location_results.values_list("next_run_at", flat=True)) == [None, None]
    assert {o.probe.pk for o in run_due_probes(location="eu").outcomes} == {probe.pk}


def test_k_and_locations_are_edited_with_validation_and_audit(routes, client, api, admin_user):
    service = make_service()
    probe = make_probe(service, routes, locations=("eu", "us"))

    def patch(path, data):
        return client.patch(
            path, json.dumps(data), content_type="application/json", headers=api.headers
        )

    response = patch("/api/v1/services/api", {"fail_locations_k": 2, "comment": "need 2 regions"})
    assert response.status_code == 200 and response.json()["fail_locations_k"] == 2
    entry = AuditLog.objects.get(action="service.thresholds", target_id=str(service.pk))
    assert entry.changes == {"fail_locations_k": {"from": 1, "to": 2}}

    response = patch(f"/api/v1/probes/{probe.pk}", {"locations": ["EU West"]})
    assert response.status_code == 400
    assert "location 'EU West' must be 1-64 characters" in response.json()["error"]
    response = patch(f"/api/v1/probes/{probe.pk}", {"location_overrides": {"ap": {"url": "x"}}})
    assert response.status_code == 400
    assert "'ap' is not one of this probe's locations (eu, us)" in response.json()["error"]
    response = patch(
        f"/api/v1/probes/{probe.pk}", {"locations": ["eu", "us", "ap"], "fail_locations_k": 2}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["locations"] == ["eu", "us", "ap"]
    entry = AuditLog.objects.get(action="probe.change", target_id=str(probe.pk))
    assert entry.changes["locations"] == {"from": ["eu", "us"], "to": ["eu", "us", "ap"]}
    assert entry.changes["fail_locations_k"] == {"from": None, "to": 2}
