"""API: incident updates, postmortems, the postmortems list and the status components."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import IncidentUpdate, Postmortem
from incidents.services import incident_create, incident_update


@pytest.fixture
def oncall(make_user):
    return make_user("on-call", username="oncall-api")


@pytest.fixture
def oncall_api(client, make_token, oncall):
    token = make_token("read", "write", user=oncall)

    class Api:
        headers = {"Authorization": f"Bearer {token}"}

        def get(self, path, **params):
            return client.get(path, params, headers=self.headers)

        def send(self, method, path, data):
            return getattr(client, method)(
                path, data, content_type="application/json", headers=self.headers
            )

    return Api()


@pytest.fixture
def incident(oncall):
    return incident_create(title="db pool full", severity="critical", service="api", user=oncall)


def test_post_and_list_updates(oncall_api, incident):
    r = oncall_api.send(
        "post",
        f"/api/v1/incidents/{incident.pk}/updates",
        {
            "status": "identified",
            "message": "pool too small",
            "public": True,
            "public_title": "API errors",
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["public"] is True and r.json()["author"]
    listed = oncall_api.get(f"/api/v1/incidents/{incident.pk}/updates").json()
    assert [u["message"] for u in listed] == ["pool too small"]


def test_update_errors_name_the_field(oncall_api, incident, oncall):
    r = oncall_api.send(
        "post", f"/api/v1/incidents/{incident.pk}/updates", {"status": "fixed", "message": "x"}
    )
    assert r.status_code == 400 and "status: unknown status 'fixed'" in r.json()["error"]
    r = oncall_api.send(
        "post",
        f"/api/v1/incidents/{incident.pk}/updates",
        {"status": "identified", "message": "x", "public": True},
    )
    assert r.status_code == 400 and "public_title" in r.json()["error"]
    r = oncall_api.send(
        "post",
        f"/api/v1/incidents/{incident.pk}/updates",
        {"status": "identified", "message": "x", "channel_ids": [99999]},
    )
    assert r.status_code == 400 and "channel_ids" in r.json()["error"]
    incident_update(incident=incident, user=oncall, status="resolved")
    r = oncall_api.send(
        "post", f"/api/v1/incidents/{incident.pk}/updates", {"status": "identified", "message": "x"}
    )
    assert r.status_code == 409 and "is resolved" in r.json()["error"]
    assert IncidentUpdate.objects.count() == 0


def test_postmortem_on_an_open_incident_is_a_conflict(oncall_api, incident):
    r = oncall_api.send("put", f"/api/v1/incidents/{incident.pk}/postmortem", {"summary": "x"})
    assert r.status_code == 409 and "a postmortem follows its resolution" in r.json()["error"]
    assert Postmortem.objects.count() == 0


def test_write_read_and_list_a_postmortem(oncall_api, incident, oncall):
    incident_update(incident=incident, user=oncall, status="resolved")
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    body = {
        "summary": "<i>pool</i> exhausted",
        "five_whys": ["errors", "pool full"],
        "actions": [{"title": "Raise pool size", "owner": "sam", "due_on": due}],
    }
    r = oncall_api.send("put", f"/api/v1/incidents/{incident.pk}/postmortem", body)
    assert r.status_code == 201, r.content
    pm = r.json()
    assert pm["summary"] == "<i>pool</i> exhausted"
    assert pm["timeline"]  # pre-filled
    assert pm["actions"][0]["overdue"] is False
    body["actions"][0]["id"] = pm["actions"][0]["id"]
    body["actions"][0]["status"] = "done"
    r = oncall_api.send("put", f"/api/v1/incidents/{incident.pk}/postmortem", body)
    assert r.status_code == 200 and r.json()["actions"][0]["status"] == "done"
    assert oncall_api.get(f"/api/v1/incidents/{incident.pk}/postmortem").json()["id"] == pm["id"]
    [row] = oncall_api.get("/api/v1/postmortems").json()
    assert row["actions_total"] == 1 and row["actions_open"] == 0
    assert oncall_api.get("/api/v1/postmortems", overdue="true").json() == []


def test_a_past_due_date_is_a_400_naming_the_action(oncall_api, incident, oncall):
    incident_update(incident=incident, user=oncall, status="resolved")
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    r = oncall_api.send(
        "put",
        f"/api/v1/incidents/{incident.pk}/postmortem",
        {"summary": "s", "actions": [{"title": "t", "owner": "o", "due_on": past}]},
    )
    assert r.status_code == 400
    assert "actions[0].due_on: the due date" in r.json()["error"]
    assert Postmortem.objects.count() == 0


def test_roles_that_cannot_manage_incidents_cannot_write(client, make_token, make_user, incident):
    token = make_token("read", "write", user=make_user("development"))
    r = client.post(
        f"/api/v1/incidents/{incident.pk}/updates",
        {"status": "identified", "message": "x"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403
    r = client.get(
        f"/api/v1/incidents/{incident.pk}/updates", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200


def test_status_components(oncall_api, component):
    [c] = oncall_api.get("/api/v1/status").json()
    assert c["name"] == "Email sending" and c["status"] == "operational"
    assert len(c["daily_uptime_pct"]) == 90
    assert "services" not in c
