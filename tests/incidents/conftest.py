"""Incident tests reuse the alerts tests' real SMTP server, channels and eager Celery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from collectors.models import Service, Status, StatusChange
from incidents.models import Incident, StatusComponent
from incidents.services import incident_create
from incidents.status_page import CACHE_KEY, FORMATS, _local, _responses
from incidents.updates import update_post
from tests.alerts.conftest import (  # noqa: F401  (fixtures)
    eager_celery,
    make_channel,
    make_rule,
    run_deliveries,
    smtp_server,
)

# An internal host name that must never reach the public status page, its JSON or its feed.
INTERNAL_HOST = "smtp-relay-7.int.penguinmails.net"
INTERNAL_IP = "10.42.7.19"


@pytest.fixture(autouse=True)
def _fresh_status_cache():
    """The status page is cached in Redis; every test starts without a cached rendering."""
    keys = [CACHE_KEY.format(f) for f in FORMATS]
    cache.delete_many(keys)
    _local.clear()
    _responses.clear()
    yield
    cache.delete_many(keys)
    _local.clear()
    _responses.clear()


@pytest.fixture
def internal_service(db):
    """A service whose internal names (slug, display name, description, last probe reason)
    all carry a host name and an IP address."""
    now = datetime.now(UTC)
    service = Service.objects.create(
        name="smtp-relay-7-int",
        display_name=f"SMTP relay {INTERNAL_HOST}",
        kind=Service.Kind.SMTP,
        description=f"relay at {INTERNAL_IP}",
        status=Status.HEALTHY,
        status_since=now - timedelta(days=3),
        status_reason=f"{INTERNAL_HOST}:25 answered 250 from {INTERNAL_IP}",
    )
    StatusChange.objects.create(
        service=service,
        at=now - timedelta(days=3),
        old_status=Status.UNKNOWN,
        new_status=Status.HEALTHY,
        reason=f"probe {INTERNAL_HOST} ok",
    )
    return service


@pytest.fixture
def component(internal_service):
    c = StatusComponent.objects.create(
        name="Email sending", description="Sending mail through our relays.", position=1
    )
    c.services.add(internal_service)
    return c


def open_public_incident(user, service: Service, *, message: str, public_title: str) -> Incident:
    """A warning incident on ``service`` with one public "investigating" update."""
    incident = incident_create(title="x", severity="warning", service=service.name, user=user)
    update_post(
        incident=incident,
        user=user,
        status="investigating",
        message=message,
        public=True,
        public_title=public_title,
    )
    return incident
