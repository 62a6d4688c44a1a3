"""Deployments: recording and finishing them (service and API), the DORA figures on known data,
incidents caused by a deployment, the deployments page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents.models import Deployment, Incident
from incidents.selectors import deployments_in_range, dora_stats
from incidents.services import deployment_finish, deployment_record
from penguinmon.models import AuditLog

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def deploy(service="api", *, day=0.0, status="succeeded", lead_h=None, minutes=5, **kw):
    started = T0 + timedelta(days=day)
    return Deployment.objects.create(
        service=service,
        version=kw.pop("version", f"v{day}"),
        started_at=started,
        finished_at=None if status == "in_progress" else started + timedelta(minutes=minutes),
        commit_at=started - timedelta(hours=lead_h) if lead_h is not None else None,
        status=status,
        **kw,
    )


def incident(*, hours, severity="critical", at_day=0.0, service="api", caused_by=None):
    start = T0 + timedelta(days=at_day)
    return Incident.objects.create(
        title="broke",
        severity=severity,
        service=service,
        status="resolved",
        started_at=start,
        resolved_at=start + timedelta(hours=hours),
        caused_by_deployment=caused_by,
    )


def post(client, path, data, token):
    return client.post(
        path, json.dumps(data), content_type="application/json", headers=_auth(token)
    )


def patch(client, path, data, token):
    return client.patch(
        path, json.dumps(data), content_type="application/json", headers=_auth(token)
    )


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


# --- DORA figures ----------------------------------------------------------------------------


def test_dora_figures_on_a_known_fortnight(db):
    # 14 days: 8 releases of api and worker, lead times 1, 2, 3, 4, 10 h on the succeeded ones.
    for i, lead in enumerate([1, 2, 3, 4, 10]):
        deploy("api", day=i, lead_h=lead)
    bad = deploy("worker", day=6, lead_h=1)  # succeeded, but caused an incident
    deploy("worker", day=7, status="failed", lead_h=1)  # never released
    deploy("api", day=8, status="rolled_back", lead_h=1)  # went out, then was rolled back
    deploy("api", day=9, status="succeeded", lead_h=1, environment="staging")  # not production
    deploy("api", day=10, status="in_progress")  # not judged yet
    incident(hours=2, at_day=6, service="worker", caused_by=bad)
    incident(hours=6, severity="warning", at_day=8)
    stats = dora_stats(start=T0, end=T0 + timedelta(days=14))

    assert stats["deployments"] == 9
    assert stats["in_progress"] == 1 and stats["finished"] == 8
    assert stats["released"] == 7  # 6 succeeded + 1 rolled back; the failed one never went out
    assert stats["deploy_frequency_per_week"] == 3.5
    # succeeded lead times: 1, 2, 3, 4, 10 and the worker's 1 h (plus 5 min deploy each)
    assert stats["lead_time_samples"] == 6
    assert stats["lead_time_hours"] == pytest.approx(2.5 + 5 / 60, abs=0.01)
    # failed + rolled back + caused an incident = 3 of 8 finished
    assert stats["change_failures"] == 3 and stats["caused_incident"] == 1
    assert stats["change_failure_rate_pct"] == 37.5
    assert stats["mttr_hours"] == 4.0  # (2 + 6) / 2
    assert stats["mttr_critical_hours"] == 2.0
    assert stats["critical_incidents_resolved"] == 1 and stats["incidents_resolved"] == 2
    assert stats["targets"]["change_failure_rate_pct"] == 5.0


def test_dora_for_one_service_counts_only_its_deployments_and_incidents(db):
    deploy("api", day=1, lead_h=2)
    deploy("worker", day=2, status="failed")
    incident(hours=3, at_day=2, service="worker")
    api = dora_stats(start=T0, end=T0 + timedelta(days=7), service="api")
    assert api["deployments"] == 1 and api["change_failure_rate_pct"] == 0.0
    assert api["mttr_hours"] is None
    worker = dora_stats(start=T0, end=T0 + timedelta(days=7), service="worker")
    assert worker["change_failure_rate_pct"] == 100.0 and worker["mttr_hours"] == 3.0
    assert worker["deploy_frequency_per_week"] == 0.0


def test_no_deployments_means_no_figures_rather_than_zeros(db):
    stats = dora_stats(start=T0, end=T0 + timedelta(days=7))
    assert stats["deployments"] == 0
    assert stats["lead_time_hours"] is None and stats["change_failure_rate_pct"] is None
    assert stats["deploy_frequency_per_week"] == 0.0


def test_deployments_in_range_is_newest_first_and_counts_caused_incidents(db):
    old = deploy("api", day=-1)
    first = deploy("api", day=1)
    second = deploy("tracking", day=2)
    incident(hours=1, at_day=1, caused_by=first)
    found = list(deployments_in_range(start=T0, end=T0 + timedelta(days=7)))
    assert found == [second, first] and old not in found
    assert [d.caused_incident_count for d in found] == [0, 1]
    only = deployments_in_range(start=T0, end=T0 + timedelta(days=7), service="tracking")
    assert list(only) == [second]


# --- services --------------------------------------------------------------------------------


def test_record_then_finish_a_deployment(make_user):
    user = make_user("development", username="ci-bot")
    d = deployment_record(service="api", version="v2.4.0", commit_sha="ABCDEF1", user=user)
    assert d.status == "in_progress" and d.finished_at is None
    assert d.deployed_by == "ci-bot" and d.commit_sha == "abcdef1"
    deployment_finish(deployment=d, status="succeeded", user=user)
    d.refresh_from_db()
    assert d.status == "succeeded" and d.finished_at >= d.started_at
    entry = AuditLog.objects.get(action="deployment.finish")
    assert entry.changes["status"] == {"from": "in_progress", "to": "succeeded"}


def test_a_finished_deployment_cannot_run_again_but_can_be_rolled_back(make_user):
    user = make_user("operations")
    d = deploy("api", day=0)
    with pytest.raises(ValidationError, match="cannot go from succeeded to in_progress"):
        deployment_finish(deployment=d, status="in_progress", user=user)
    deployment_finish(deployment=d, status="rolled_back", user=user, notes="p95 doubled")
    d.refresh_from_db()
    assert d.status == "rolled_back" and "p95 doubled" in d.notes
    # it went out at its own finish time; the rollback does not move that
    assert d.finished_at == T0 + timedelta(minutes=5)


def test_record_rejects_bad_times_and_saves_nothing(make_user):
    user = make_user("development")
    with pytest.raises(ValidationError) as err:
        deployment_record(
            service="api",
            status="succeeded",
            started_at=T0,
            finished_at=T0 - timedelta(minutes=1),
            user=user,
        )
    assert "finished_at is before started_at" in str(err.value)
    with pytest.raises(ValidationError, match="commit_at is after started_at"):
        deployment_record(
            service="api", started_at=T0, commit_at=T0 + timedelta(hours=1), user=user
        )
    assert not Deployment.objects.exists()


# --- API -------------------------------------------------------------------------------------


def test_api_needs_a_token_with_the_write_scope_and_a_role(client, make_token, make_user):
    body = {"service": "api"}
    assert (
        client.post(
            "/api/v1/deployments", json.dumps(body), content_type="application/json"
        ).status_code
        == 401
    )
    read_only = make_token("read", user=make_user("development"))
    resp = post(client, "/api/v1/deployments", body, read_only)
    assert resp.status_code == 403 and "write" in resp.json()["error"]
    sales = make_token("write", user=make_user("customer-success"))
    resp = post(client, "/api/v1/deployments", body, sales)
    assert resp.status_code == 403 and "recording deployments" in resp.json()["error"]
    assert not Deployment.objects.exists()


def test_ci_starts_and_finishes_a_deployment_through_the_api(client, make_token, make_user):
    token = make_token("read", "write", user=make_user("development", username="github-actions"))
    started = post(
        client,
        "/api/v1/deployments",
        {
            "service": "tracking",
            "version": "v1.8.2",
            "commit_sha": "3f2c1a9b",
            "commit_at": "2026-03-02T08:00:00Z",
            "started_at": "2026-03-02T09:00:00Z",
            "url": "https://ci.example.com/runs/812",
        },
        token,
    )
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["status"] == "in_progress" and body["deployed_by"] == "github-actions"
    assert body["environment"] == "production"
    done = patch(
        client,
        f"/api/v1/deployments/{body['id']}",
        {"status": "succeeded", "finished_at": "2026-03-02T09:30:00"},  # no offset: UTC
        token,
    )
    assert done.status_code == 200, done.content
    assert done.json()["lead_time_hours"] == 1.5
    listed = client.get(
        "/api/v1/deployments",
        {"service": "tracking", "since": "2026-03-01T00:00:00Z", "until": "2026-03-03T00:00:00Z"},
        headers=_auth(token),
    ).json()
    assert [d["version"] for d in listed] == ["v1.8.2"]
    assert (
        client.get(
            "/api/v1/deployments",
            {"service": "api", "since": "2026-03-01T00:00:00Z"},
            headers=_auth(token),
        ).json()
        == []
    )


def test_api_records_a_finished_deployment_in_one_call(api):
    resp = api.post(
        "/api/v1/deployments",
        {"service": "worker", "status": "failed", "started_at": "2026-03-02T10:00:00Z"},
    )
    assert resp.status_code == 201
    assert resp.json()["status"] == "failed" and resp.json()["finished_at"] is not None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"service": "api", "status": "done"}, "unknown status 'done'"),
        (
            {
                "service": "api",
                "status": "succeeded",
                "started_at": "2026-03-02T10:00:00Z",
                "finished_at": "2026-03-02T09:00:00Z",
            },
            "finished_at is before started_at",
        ),
        (
            {"service": "api", "finished_at": "2026-03-02T09:00:00Z"},
            "still in progress has no finished_at",
        ),
        ({"service": "api", "commit_sha": "not-a-sha"}, "7 to 64 hexadecimal digits"),
        ({"service": "api", "url": "ci run 5"}, "url"),
        ({"service": ""}, "service"),
        ({"version": "v1"}, "service"),
        ({"service": "api", "started_at": "yesterday"}, "started_at"),
    ],
)
def test_api_rejects_bad_deployments_with_a_clear_message(api, body, message):
    resp = api.post("/api/v1/deployments", body)
    assert 400 <= resp.status_code < 500
    assert message in resp.json()["error"]
    assert not Deployment.objects.exists()


def test_api_finish_rejects_unknown_status_and_missing_deployment(api, client, make_token):
    d = deploy("api", day=0, status="in_progress")
    token = make_token("write")
    bad = patch(client, f"/api/v1/deployments/{d.pk}", {"status": "exploded"}, token)
    assert bad.status_code == 400 and "unknown status 'exploded'" in bad.json()["error"]
    early = patch(
        client,
        f"/api/v1/deployments/{d.pk}",
        {"status": "succeeded", "finished_at": "2026-03-01T00:00:00Z"},
        token,
    )
    assert early.status_code == 400 and "finished_at is before started_at" in early.json()["error"]
    d.refresh_from_db()
    assert d.status == "in_progress" and d.finished_at is None
    assert (
        patch(client, "/api/v1/deployments/999999", {"status": "failed"}, token).status_code == 404
    )


def test_api_dora_figures(api):
    deploy("api", day=1, lead_h=2)
    deploy("api", day=2, status="failed")
    resp = api.get(
        "/api/v1/deployments/dora", since="2026-03-02T00:00:00Z", until="2026-03-09T00:00:00Z"
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["deploy_frequency_per_week"] == 1.0
    assert body["change_failure_rate_pct"] == 50.0 and body["finished"] == 2


def test_api_creates_an_incident_caused_by_a_deployment(client, make_token, make_user):
    d = deploy("tracking", day=0)
    token = make_token("write", "read", user=make_user("on-call", username="olive"))
    resp = post(
        client,
        "/api/v1/incidents",
        {"title": "Open tracking 502s", "severity": "critical", "caused_by_deployment_id": d.pk},
        token,
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["caused_by_deployment_id"] == d.pk and body["service"] == "tracking"
    inc = Incident.objects.get(pk=body["id"])
    assert [e.kind for e in inc.events.all()] == ["created", "update"]
    assert AuditLog.objects.filter(action="incident.create", target_id=str(inc.pk)).exists()
    stats = dora_stats(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1))
    assert stats["change_failures"] == 1


def test_api_incident_create_validation_and_roles(client, make_token, make_user):
    ops = make_token("write", user=make_user("operations"))
    resp = post(client, "/api/v1/incidents", {"title": "x", "severity": "huge"}, ops)
    assert resp.status_code == 400 and "unknown severity 'huge'" in resp.json()["error"]
    resp = post(client, "/api/v1/incidents", {"title": "x", "caused_by_deployment_id": 424242}, ops)
    assert resp.status_code == 400 and "no deployment #424242" in resp.json()["error"]
    assert post(client, "/api/v1/incidents", {"title": ""}, ops).status_code == 422
    dev = make_token("write", user=make_user("development"))
    assert post(client, "/api/v1/incidents", {"title": "x"}, dev).status_code == 403
    assert not Incident.objects.exists()


def test_demo_releases_several_times_a_week_with_one_failure_and_one_rollback(db):
    import random

    from alerts import demo as alerts_demo
    from incidents import demo

    now = datetime.now(UTC)
    alerts_demo.load(days=30, now=now, rng=random.Random(3))
    first = demo.load(days=30, now=now, rng=random.Random(3))
    assert demo.load(days=30, now=now, rng=random.Random(3)) == first  # replaces its own rows
    assert Deployment.objects.filter(status="failed").count() == 1
    rolled_back = Deployment.objects.get(status="rolled_back")
    assert rolled_back.caused_incidents.filter(severity="critical").exists()
    stats = dora_stats(start=now - timedelta(days=30), end=now)
    assert stats["deploy_frequency_per_week"] >= 5  # three services, several each a week
    assert {"api", "tracking", "worker"} <= set(
        Deployment.objects.values_list("service", flat=True)
    )
    assert 0 < stats["change_failure_rate_pct"] < 15
    assert stats["lead_time_hours"] and stats["mttr_critical_hours"]
    assert stats["in_progress"] == 1


# --- pages -----------------------------------------------------------------------------------


def recent(service, version, status="succeeded", hours_ago=5, **kw):
    started = datetime.now(UTC) - timedelta(hours=hours_ago)
    return Deployment.objects.create(
        service=service,
        version=version,
        status=status,
        started_at=started,
        finished_at=None if status == "in_progress" else started + timedelta(minutes=4),
        commit_at=started - timedelta(hours=2),
        **kw,
    )


def test_deployments_page_lists_filters_and_shows_dora(login_client, make_user):
    recent("api", "v3.1.0", url="https://ci.example.com/runs/1")
    bad = recent("tracking", "v1.9.0", status="rolled_back", notes="pixel 502s")
    Incident.objects.create(title="Pixel 502s", severity="critical", caused_by_deployment=bad)
    client = login_client(make_user("development"))
    html = client.get("/incidents/deployments/").content.decode()
    assert "v3.1.0" in html and "v1.9.0" in html and "pixel 502s" in html
    assert 'href="https://ci.example.com/runs/1"' in html
    assert "50.0%" in html and "misses target" in html  # 1 rolled back of 2 finished
    only = client.get("/incidents/deployments/", {"service": "api"}).content.decode()
    assert "v3.1.0" in only and "v1.9.0" not in only
    assert "0.0%" in only


def test_deployments_page_rejects_a_bad_filter_as_a_form_error(login_client, make_user):
    recent("api", "v3.1.0")
    resp = login_client(make_user("operations")).get(
        "/incidents/deployments/", {"status": "exploded"}
    )
    assert resp.status_code == 400
    assert "Select a valid choice" in resp.content.decode()


def test_deployments_page_needs_view_alerts(client, login_client, make_user):
    assert client.get("/incidents/deployments/").status_code == 302  # to the login page
    assert (
        login_client(make_user("customer-success")).get("/incidents/deployments/").status_code
        == 403
    )


def test_incident_pages_link_to_deployments(login_client, make_user):
    d = recent("worker", "v0.9.3", url="https://ci.example.com/runs/9")
    inc = Incident.objects.create(title="Bounce backlog", caused_by_deployment=d)
    client = login_client(make_user("on-call"))
    assert 'href="/incidents/deployments/"' in client.get("/incidents/").content.decode()
    detail = client.get(f"/incidents/{inc.pk}/").content.decode()
    assert f"deployment #{d.pk}: worker v0.9.3" in detail
    assert 'href="https://ci.example.com/runs/9"' in detail


def test_admin_edits_a_deployment_and_the_change_is_audited(admin_user, login_client):
    d = recent("api", "v3.1.0")
    client = login_client(admin_user)
    assert client.get("/admin/incidents/deployment/").status_code == 200
    page = client.get(f"/admin/incidents/deployment/{d.pk}/change/")
    assert page.status_code == 200 and "Incidents this deployment caused" in page.content.decode()
    form = {
        "service": "api",
        "environment": "production",
        "version": "v3.1.0",
        "commit_sha": "",
        "started_at_0": d.started_at.strftime("%Y-%m-%d"),
        "started_at_1": d.started_at.strftime("%H:%M:%S"),
        "finished_at_0": d.finished_at.strftime("%Y-%m-%d"),
        "finished_at_1": d.finished_at.strftime("%H:%M:%S"),
        "commit_at_0": "",
        "commit_at_1": "",
        "status": "rolled_back",
        "deployed_by": "",
        "url": "",
        "notes": "rolled back by hand",
        "caused_incidents-TOTAL_FORMS": "0",
        "caused_incidents-INITIAL_FORMS": "0",
    }
    resp = client.post(f"/admin/incidents/deployment/{d.pk}/change/", form)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    entry = AuditLog.objects.get(action="admin.change", target_id=str(d.pk))
    assert entry.changes["status"] == {"from": "succeeded", "to": "rolled_back"}


def test_api_links_an_existing_incident_to_its_deployment_and_clears_it(
    client, make_token, make_user
):
    d = deploy("api", day=0)
    inc = incident(hours=1, at_day=0)
    token = make_token("write", user=make_user("operations"))
    resp = patch(client, f"/api/v1/incidents/{inc.pk}", {"caused_by_deployment_id": d.pk}, token)
    assert resp.status_code == 200 and resp.json()["caused_by_deployment_id"] == d.pk
    assert dora_stats(start=T0, end=T0 + timedelta(days=1))["caused_incident"] == 1
    # other fields leave the link alone; null removes it
    patch(client, f"/api/v1/incidents/{inc.pk}", {"note": "checked"}, token)
    assert Incident.objects.get(pk=inc.pk).caused_by_deployment_id == d.pk
    patch(client, f"/api/v1/incidents/{inc.pk}", {"caused_by_deployment_id": None}, token)
    assert Incident.objects.get(pk=inc.pk).caused_by_deployment_id is None
    assert list(inc.events.values_list("message", flat=True)) == [
        "changed caused_by_deployment",
        "checked",
        "changed caused_by_deployment",
    ]
    bad = patch(client, f"/api/v1/incidents/{inc.pk}", {"caused_by_deployment_id": 9999999}, token)
    assert bad.status_code == 400 and "no deployment #9999999" in bad.json()["error"]


def test_incident_page_sets_the_deployment_that_caused_it(login_client, make_user):
    bad = recent("tracking", "v2.4.0")
    other_service = recent("api", "v9.0.0")
    too_old = recent("tracking", "v1.0.0", hours_ago=24 * 20)
    inc = Incident.objects.create(
        title="Open tracking 502s", service="tracking", started_at=datetime.now(UTC)
    )
    user = make_user("operations")
    client = login_client(user)
    page = client.get(f"/incidents/{inc.pk}/").content.decode()
    assert f'<option value="{bad.pk}">#{bad.pk} tracking v2.4.0 (production' in page
    assert f'value="{other_service.pk}"' not in page and f'value="{too_old.pk}"' not in page
    assert '<option value="" selected>none</option>' in page
    form = {"status": "open", "severity": "warning", "title": "Open tracking 502s"}

    resp = client.post(f"/incidents/{inc.pk}/", {**form, "caused_by_deployment": bad.pk})
    assert resp.status_code == 302
    inc.refresh_from_db()
    assert inc.caused_by_deployment == bad
    entry = AuditLog.objects.get(action="incident.update", target_id=str(inc.pk))
    assert entry.actor == user
    assert entry.changes == {"caused_by_deployment": {"from": None, "to": bad.pk}}
    detail = client.get(f"/incidents/{inc.pk}/").content.decode()
    assert (
        f"deployment #{bad.pk}: tracking v2.4.0" in detail
        and "changed caused_by_deployment" in detail
    )

    # "none" clears it again, also audited
    assert (
        client.post(f"/incidents/{inc.pk}/", {**form, "caused_by_deployment": ""}).status_code
        == 302
    )
    inc.refresh_from_db()
    assert inc.caused_by_deployment is None
    assert AuditLog.objects.filter(action="incident.update", target_id=str(inc.pk)).count() == 2


def test_incident_page_refuses_a_deployment_of_another_service(login_client, make_user):
    other = recent("api", "v9.0.0")
    inc = Incident.objects.create(title="Tracking down", service="tracking")
    client = login_client(make_user("operations"))
    resp = client.post(
        f"/incidents/{inc.pk}/",
        {
            "status": "open",
            "severity": "warning",
            "title": "Tracking down",
            "caused_by_deployment": other.pk,
        },
    )
    assert resp.status_code == 400 and "Select a valid choice" in resp.content.decode()
    inc.refresh_from_db()
    assert inc.caused_by_deployment is None
    assert not AuditLog.objects.filter(action="incident.update", target_id=str(inc.pk)).exists()


def test_saving_other_fields_keeps_an_older_cause(login_client, make_user):
    old = recent("tracking", "v1.0.0", hours_ago=24 * 30)
    inc = Incident.objects.create(
        title="Tracking down", service="tracking", caused_by_deployment=old
    )
    client = login_client(make_user("operations"))
    page = client.get(f"/incidents/{inc.pk}/").content.decode()
    assert f'<option value="{old.pk}" selected>' in page
    resp = client.post(
        f"/incidents/{inc.pk}/",
        {
            "status": "open",
            "severity": "critical",
            "title": "Tracking down",
            "caused_by_deployment": old.pk,
        },
    )
    assert resp.status_code == 302
    inc.refresh_from_db()
    assert inc.caused_by_deployment == old and inc.severity == "critical"


def test_viewers_without_manage_incidents_cannot_set_the_cause(login_client, make_user):
    bad = recent("tracking", "v2.4.0")
    inc = Incident.objects.create(title="Tracking down", service="tracking")
    client = login_client(make_user("development"))
    assert "caused_by_deployment" not in client.get(f"/incidents/{inc.pk}/").content.decode()
    client.post(
        f"/incidents/{inc.pk}/",
        {
            "status": "open",
            "severity": "warning",
            "title": "Tracking down",
            "caused_by_deployment": bad.pk,
        },
    )
    inc.refresh_from_db()
    assert inc.caused_by_deployment is None
