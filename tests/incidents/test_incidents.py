"""Incidents: create from an alert, status changes on the timeline, MTTR/MTBF, pages, API, demo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents.models import Incident
from incidents.selectors import incident_stats, incidents_in_range
from incidents.services import incident_create, incident_update
from penguinmon.models import AuditLog

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make(title="x", start_h=0.0, end_h=None, severity="warning"):
    return Incident.objects.create(
        title=title,
        severity=severity,
        started_at=T0 + timedelta(hours=start_h),
        resolved_at=T0 + timedelta(hours=end_h) if end_h is not None else None,
        status="resolved" if end_h is not None else "open",
    )


def test_stats_give_count_open_mttr_and_mtbf(db):
    make(start_h=10, end_h=12)  # 2 h
    make(start_h=30, end_h=34)  # 4 h
    make(start_h=60)  # still open
    stats = incident_stats(start=T0, end=T0 + timedelta(hours=100))
    assert stats["count"] == 3
    assert stats["open"] == 1
    assert stats["mttr_hours"] == 3.0
    # 100 h minus 2 h, 4 h and the 40 h the open one has lasted (to the range end), over 3.
    assert stats["mtbf_hours"] == round((100 - 2 - 4 - 40) / 3, 2)


def test_overlapping_incidents_count_their_downtime_once(db):
    make(start_h=10, end_h=20)
    make(start_h=15, end_h=25)
    stats = incident_stats(start=T0, end=T0 + timedelta(hours=100))
    assert stats["mtbf_hours"] == round((100 - 15) / 2, 2)


def test_no_incidents_means_no_mttr_or_mtbf(db):
    assert incident_stats(start=T0, end=T0 + timedelta(days=1)) == {
        "count": 0,
        "open": 0,
        "resolved": 0,
        "mttr_hours": None,
        "mtbf_hours": None,
    }


def test_incidents_in_range_includes_ones_spanning_the_start(db):
    before = make(title="before", start_h=-5, end_h=-1)
    spanning = make(title="spanning", start_h=-5, end_h=3)
    inside = make(title="inside", start_h=4, end_h=5)
    found = list(incidents_in_range(start=T0, end=T0 + timedelta(hours=10)))
    assert found == [inside, spanning] and before not in found


def test_status_changes_are_on_the_timeline_and_audited(make_user):
    user = make_user("on-call", username="olive")
    incident = incident_create(title="Queue backlog", severity="critical", user=user)
    incident_update(incident=incident, user=user, status="mitigated", note="rerouted traffic")
    incident_update(incident=incident, user=user, status="resolved")
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.acknowledged_at is not None
    messages = list(incident.events.values_list("kind", "message"))
    assert messages == [
        ("created", "opened: Queue backlog"),
        ("status", "open → mitigated"),
        ("note", "rerouted traffic"),
        ("status", "mitigated → resolved"),
    ]
    assert AuditLog.objects.filter(action="incident.update", actor=user).count() == 2


def test_an_unknown_status_is_rejected_and_nothing_is_saved(make_user):
    user = make_user("on-call")
    incident = incident_create(title="t", severity="info", user=user)
    with pytest.raises(ValidationError):
        incident_update(incident=incident, user=user, status="closed")
    assert Incident.objects.get(pk=incident.pk).status == "open"


def test_list_page_shows_mttr_and_the_incidents(login_client, make_user):
    make(title="Stripe webhooks failing", start_h=0, end_h=2)
    Incident.objects.update(
        started_at=datetime.now(UTC) - timedelta(days=2),
        resolved_at=datetime.now(UTC) - timedelta(days=2) + timedelta(hours=2),
    )
    html = login_client(make_user("development")).get("/incidents/").content.decode()
    assert "Stripe webhooks failing" in html
    assert "2.0 h" in html


def test_detail_page_update_needs_manage_incidents(login_client, make_user):
    incident = make(title="API slow")
    dev = login_client(make_user("development"))
    assert dev.get(f"/incidents/{incident.pk}/").status_code == 200
    dev.post(
        f"/incidents/{incident.pk}/",
        {"status": "resolved", "severity": "warning", "title": "API slow"},
    )
    assert Incident.objects.get(pk=incident.pk).status == "open"


def test_detail_page_update_form(login_client, make_user):
    incident = make(title="API slow")
    client = login_client(make_user("operations"))
    resp = client.post(
        f"/incidents/{incident.pk}/",
        {
            "status": "mitigated",
            "severity": "critical",
            "title": "API slow for EU",
            "summary": "",
            "note": "scaled up",
        },
    )
    assert resp.status_code == 302
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "API slow for EU" in html and "open → mitigated" in html and "scaled up" in html


def test_detail_page_rejects_a_bad_status_as_a_form_error(login_client, make_user):
    incident = make(title="API slow")
    client = login_client(make_user("operations"))
    resp = client.post(
        f"/incidents/{incident.pk}/", {"status": "gone", "severity": "critical", "title": "x"}
    )
    assert resp.status_code == 400
    assert "Select a valid choice" in resp.content.decode()


def test_api_lists_gets_and_updates(api, make_token, make_user, client):
    incident = make(title="DNS flapping")
    assert [i["title"] for i in api.get("/api/v1/incidents").json()] == ["DNS flapping"]
    detail = api.get(f"/api/v1/incidents/{incident.pk}").json()
    assert detail["status"] == "open" and detail["events"] == []

    token = make_token("read", "write", user=make_user("on-call"))
    headers = {"Authorization": f"Bearer {token}"}
    resp = client.patch(
        f"/api/v1/incidents/{incident.pk}",
        json.dumps({"status": "resolved"}),
        content_type="application/json",
        headers=headers,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "resolved"
    bad = client.patch(
        f"/api/v1/incidents/{incident.pk}",
        json.dumps({"status": "closed"}),
        content_type="application/json",
        headers=headers,
    )
    assert bad.status_code == 400 and "unknown status 'closed'" in bad.json()["error"]

    dev = make_token("read", "write", user=make_user("development"))
    denied = client.patch(
        f"/api/v1/incidents/{incident.pk}",
        json.dumps({"status": "open"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {dev}"},
    )
    assert denied.status_code == 403
