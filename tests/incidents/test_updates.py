"""Incident updates: posting (page and service), what they do to the incident, stakeholder
channels (a real SMTP server), and the reminder when an open incident goes without one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import Incident, IncidentUpdate
from incidents.services import incident_create, incident_update
from incidents.updates import remind_owners, update_post


@pytest.fixture
def oncall(make_user):
    user = make_user("on-call", username="oncall")
    user.email = "oncall@example.test"
    user.save()
    return user


@pytest.fixture
def incident(oncall):
    return incident_create(title="api 5xx", severity="critical", service="api", user=oncall)


def test_updates_move_the_incident_along(incident, oncall):
    update_post(incident=incident, user=oncall, status="monitoring", message="fix deployed")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.MITIGATED
    update_post(incident=incident, user=oncall, status="identified", message="not fixed")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.OPEN
    update_post(incident=incident, user=oncall, status="resolved", message="all good")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED and incident.resolved_at
    kinds = [e.message for e in incident.events.filter(kind="update")]
    assert "internal update (resolved): all good" in kinds


def test_an_update_on_a_resolved_incident_is_refused(incident, oncall):
    incident_update(incident=incident, user=oncall, status="resolved")
    with pytest.raises(ValidationError) as exc:
        update_post(incident=incident, user=oncall, status="investigating", message="x")
    assert "incident" in exc.value.message_dict
    assert IncidentUpdate.objects.count() == 0


def test_a_public_update_needs_a_public_title(incident, oncall):
    with pytest.raises(ValidationError) as exc:
        update_post(
            incident=incident, user=oncall, status="investigating", message="x", public=True
        )
    assert "public_title" in exc.value.message_dict
    assert IncidentUpdate.objects.count() == 0


def test_page_posts_an_update_and_shows_errors_by_field(client, incident, oncall):
    client.force_login(oncall)
    r = client.post(
        f"/incidents/{incident.pk}/updates/",
        {"update_status": "investigating", "message": "", "public": "on"},
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "an update needs a message" in body or "This field is required" in body
    r = client.post(
        f"/incidents/{incident.pk}/updates/",
        {"update_status": "investigating", "message": "looking", "public": "on"},
    )
    assert r.status_code == 400
    assert "public title" in r.content.decode()
    r = client.post(
        f"/incidents/{incident.pk}/updates/",
        {
            "update_status": "identified",
            "message": "<b>cause</b> found",
            "public": "on",
            "public_title": "API errors",
        },
    )
    assert r.status_code == 302
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "&lt;b&gt;cause&lt;/b&gt; found" in page
    incident.refresh_from_db()
    assert incident.public_title == "API errors"


def test_page_refuses_an_update_on_a_resolved_incident(client, incident, oncall):
    client.force_login(oncall)
    incident_update(incident=incident, user=oncall, status="resolved")
    r = client.post(
        f"/incidents/{incident.pk}/updates/", {"update_status": "investigating", "message": "x"}
    )
    assert r.status_code == 400
    assert "is resolved; reopen it" in r.content.decode()


def test_roles_without_manage_incidents_cannot_post(client, incident, make_user):
    client.force_login(make_user("development"))
    r = client.post(
        f"/incidents/{incident.pk}/updates/", {"update_status": "investigating", "message": "x"}
    )
    assert r.status_code == 403


def test_an_update_goes_to_the_chosen_channels_with_the_link(
    incident, oncall, make_channel, smtp_server, run_deliveries
):
    email = make_channel("email", name="stakeholders", config={"to": ["cto@example.test"]})
    make_channel("email", name="not-chosen", config={"to": ["nobody@example.test"]})
    with run_deliveries():
        update_post(
            incident=incident,
            user=oncall,
            status="identified",
            message="bad deploy, rolling back",
            channels=[email],
        )
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["cto@example.test"]
    text = message.content.decode()
    assert "bad deploy, rolling back" in text
    assert f"/incidents/{incident.pk}/" in text
    assert "IDENTIFIED" in text
    assert incident.events.filter(message__contains="→ stakeholders: sent").exists()


def test_owner_is_reminded_once_per_period(incident, oncall, smtp_server):
    now = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(started_at=now - timedelta(minutes=45))
    assert remind_owners(now=now) == 1
    assert remind_owners(now=now + timedelta(minutes=5)) == 0  # already reminded
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["oncall@example.test"]
    assert f"Incident #{incident.pk} needs an update" in message.content.decode()
    # An update restarts the clock.
    update_post(incident=incident, user=oncall, status="investigating", message="on it")
    assert remind_owners(now=timezone.now() + timedelta(minutes=10)) == 0
    assert remind_owners(now=timezone.now() + timedelta(minutes=31)) == 1


def test_resolved_and_fresh_incidents_are_not_reminded(incident, oncall, smtp_server):
    assert remind_owners() == 0  # opened just now
    incident_update(incident=incident, user=oncall, status="resolved")
    assert remind_owners(now=timezone.now() + timedelta(hours=2)) == 0
    assert smtp_server.messages == []
