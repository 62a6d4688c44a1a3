"""The public status page, its Statuspage-shaped JSON and its Atom feed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from collectors.models import Status, StatusChange
from incidents.models import Incident, IncidentUpdate
from incidents.services import incident_create, incident_update
from incidents.status_page import build_status, daily_uptimes
from incidents.updates import update_post
from tests.incidents.conftest import INTERNAL_HOST, INTERNAL_IP, open_public_incident

ATOM = "{http://www.w3.org/2005/Atom}"


def _incident_with_updates(user, service, *, public_message="We are looking into delays."):
    incident = incident_create(
        title=f"{INTERNAL_HOST} refuses connections from {INTERNAL_IP}",
        severity="critical",
        service=service.name,
        summary=f"probe to {INTERNAL_HOST} failing",
        user=user,
    )
    update_post(
        incident=incident,
        user=user,
        status="investigating",
        message=public_message,
        public=True,
        public_title="Email sending delayed",
    )
    update_post(
        incident=incident,
        user=user,
        status="identified",
        message=f"internal: {INTERNAL_HOST} disk full",
        public=False,
    )
    return incident


def test_it_needs_no_login(client, component):
    for path in ("/status/", "/status/summary.json", "/status/feed.atom"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "public" in response["Cache-Control"]


def test_it_never_shows_internal_names(client, component, internal_service, make_user):
    user = make_user("on-call")
    _incident_with_updates(user, internal_service)
    internal_service.status = Status.DOWN
    internal_service.status_reason = f"{INTERNAL_HOST}: connection refused"
    internal_service.save()
    for path in ("/status/", "/status/summary.json", "/status/feed.atom"):
        body = client.get(path).content.decode()
        for secret in (
            INTERNAL_HOST,
            INTERNAL_IP,
            internal_service.name,
            "disk full",
            "refuses connections",
        ):
            assert secret not in body, (path, secret)
        assert "Email sending" in body
    page = client.get("/status/").content.decode()
    assert "Email sending delayed" in page
    assert "We are looking into delays." in page


def test_summary_json_has_statuspage_shape(client, component, internal_service, make_user):
    _incident_with_updates(make_user("on-call"), internal_service)
    data = json.loads(client.get("/status/summary.json").content)
    assert set(data) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert data["page"]["name"] == settings.STATUS_PAGE_NAME
    assert data["page"]["url"].endswith("/status/")
    [comp] = data["components"]
    assert comp["name"] == "Email sending"
    assert comp["status"] == "operational"
    [incident] = data["incidents"]
    assert incident["name"] == "Email sending delayed"
    assert incident["status"] == "investigating"  # the internal "identified" is not public
    assert incident["impact"] == "critical"
    assert [u["body"] for u in incident["incident_updates"]] == ["We are looking into delays."]
    assert [c["name"] for c in incident["components"]] == ["Email sending"]
    assert data["status"] == {"indicator": "critical", "description": "Major Service Outage"}


def test_component_state_follows_service_health(client, component, internal_service):
    internal_service.status = Status.DOWN
    internal_service.save()
    data = json.loads(client.get("/status/summary.json").content)
    assert data["components"][0]["status"] == "major_outage"
    assert data["status"]["indicator"] == "critical"


def test_posting_a_public_update_shows_at_once(client, component, internal_service, make_user):
    user = make_user("on-call")
    assert "No incidents" in client.get("/status/").content.decode()  # now cached
    open_public_incident(
        user, internal_service, message="Slow sending", public_title="Sending is slow"
    )
    # The cache is dropped on commit (the test transaction does not commit: do what it does).
    from django.core.cache import cache

    from incidents.status_page import CACHE_KEY, FORMATS, _local

    cache.delete_many([CACHE_KEY.format(f) for f in FORMATS])
    _local.clear()
    assert "Sending is slow" in client.get("/status/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_update_clears_the_cached_page_on_commit(client, component, internal_service, make_user):
    user = make_user("on-call")
    client.get("/status/")
    incident = open_public_incident(
        user, internal_service, message="Slow sending", public_title="Sending is slow"
    )
    assert "Sending is slow" in client.get("/status/").content.decode()
    incident_update(incident=incident, user=user, status="resolved")
    data = json.loads(client.get("/status/summary.json").content)
    assert data["incidents"] == []
    page = client.get("/status/").content.decode()
    assert "Past incidents" in page and "Sending is slow" in page


def test_cache_lasts_at_most_one_evaluation_interval():
    evaluate = settings.CELERY_BEAT_SCHEDULE["alerts-evaluate"]["schedule"]
    assert evaluate >= settings.STATUS_CACHE_SECONDS


def test_html_in_update_is_escaped_in_page_json_and_feed(
    client, component, internal_service, make_user
):
    evil = '<script>alert("x")</script><b>bold</b>'
    _incident_with_updates(make_user("on-call"), internal_service, public_message=evil)
    page = client.get("/status/").content.decode()
    assert "<script>" not in page and "<b>bold" not in page
    assert "&lt;script&gt;" in page
    data = json.loads(client.get("/status/summary.json").content)
    assert data["incidents"][0]["incident_updates"][0]["body"] == evil  # JSON carries text
    feed = ET.fromstring(client.get("/status/feed.atom").content)
    [entry] = feed.findall(f"{ATOM}entry")
    summary = entry.find(f"{ATOM}summary")
    # type="html": the reader decodes the XML text and renders it as HTML, so the text
    # itself must be escaped HTML (it shows the tags instead of running them).
    assert summary.get("type") == "html"
    assert "<script" not in summary.text and "&lt;script&gt;" in summary.text


def test_feed_lists_public_updates_only(client, component, internal_service, make_user):
    _incident_with_updates(make_user("on-call"), internal_service)
    feed = ET.fromstring(client.get("/status/feed.atom").content)
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    assert titles == ["Email sending delayed: Investigating"]
    page = client.get("/status/").content.decode()
    assert 'type="application/atom+xml"' in page and 'href="/status/feed.atom"' in page


def test_daily_bars_use_the_uptime_definition(client, component, internal_service):
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    # Down from 06:00 to 12:00 yesterday: 75% uptime that day.
    StatusChange.objects.create(
        service=internal_service,
        at=yesterday + timedelta(hours=6),
        old_status=Status.HEALTHY,
        new_status=Status.DOWN,
    )
    StatusChange.objects.create(
        service=internal_service,
        at=yesterday + timedelta(hours=12),
        old_status=Status.DOWN,
        new_status=Status.HEALTHY,
    )
    values = daily_uptimes([internal_service], days=90, now=now)[internal_service.pk]
    assert values[-2] == 75.0
    assert values[-1] == 100.0
    assert values[0] is None  # before monitoring started: no data, not down
    page = client.get("/status/").content.decode()
    assert f'title="{yesterday:%Y-%m-%d}: 75.00% uptime; no incidents"' in page
    assert page.count('class="bar ') == 90


def test_day_title_names_public_incidents(component, internal_service, make_user):
    _incident_with_updates(make_user("on-call"), internal_service)
    day = build_status()["components"][0]["days"][-1]
    assert "Email sending delayed" in day.title


def test_maintenance_of_a_mapped_service_is_listed_without_its_comment(
    client, component, internal_service, make_user
):
    from alerts.models import Silence

    now = datetime.now(UTC)
    Silence.objects.create(
        matchers={"service": internal_service.name},
        starts_at=now + timedelta(hours=2),
        ends_at=now + timedelta(hours=3),
        comment=f"swap disks on {INTERNAL_HOST}",
        created_by=make_user(),
    )
    Silence.objects.create(  # one alert of another service: not maintenance of a component
        matchers={"service": "api", "alertname": "x"},
        starts_at=now + timedelta(hours=2),
        ends_at=now + timedelta(hours=3),
        comment="other",
        created_by=make_user(),
    )
    data = json.loads(client.get("/status/summary.json").content)
    [m] = data["scheduled_maintenances"]
    assert m["status"] == "scheduled"
    assert [c["name"] for c in m["components"]] == ["Email sending"]
    page = client.get("/status/").content.decode()
    assert "Scheduled maintenance: Email sending" in page
    assert INTERNAL_HOST not in page


def test_hidden_components_are_not_listed(client, component):
    component.visible = False
    component.save()
    assert json.loads(client.get("/status/summary.json").content)["components"] == []


def test_only_incidents_with_public_updates_appear(client, component, internal_service, make_user):
    incident = incident_create(
        title="internal only", severity="critical", service=internal_service.name, user=make_user()
    )
    IncidentUpdate.objects.create(incident=incident, status="investigating", message="x")
    assert json.loads(client.get("/status/summary.json").content)["incidents"] == []
    assert Incident.objects.count() == 1
