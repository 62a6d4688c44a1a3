"""SLOs in Django admin: bad input is a form error on the field; a saved SLO gets its rules."""

from __future__ import annotations

import json

import pytest

from alerts.models import AlertRule
from collectors.models import Service
from incidents.models import SLO
from incidents.slo.models import default_burn_alerts

pytestmark = pytest.mark.django_db


def _form(service: Service, **changes) -> dict:
    form = {
        "name": "Shop latency",
        "service": str(service.pk),
        "description": "",
        "sli_kind": "latency",
        "route": "",
        "threshold_ms": "250",
        "objective_pct": "99",
        "window": "30d",
        "burn_alerts": json.dumps(default_burn_alerts()),
        "enabled": "on",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"objective_pct": "100"}, "objective_pct", "strictly between 0 and 100"),
        ({"objective_pct": "0"}, "objective_pct", "strictly between 0 and 100"),
        ({"threshold_ms": "0"}, "threshold_ms", "threshold above 0 ms"),
        ({"window": "7d"}, "window", "7d is not one of the available choices"),
    ],
)
def test_bad_input_is_a_form_error_on_its_field(admin_user, login_client, changes, field, text):
    service = Service.objects.create(name="shop", display_name="Shop", kind="api")
    client = login_client(admin_user)
    resp = client.post("/admin/incidents/slo/add/", _form(service, **changes))
    assert resp.status_code == 200
    errors = resp.context["adminform"].form.errors
    assert text in " ".join(errors[field]), errors
    assert not SLO.objects.filter(name="Shop latency").exists()


def test_an_slo_saved_in_admin_gets_its_burn_rate_rules(admin_user, login_client):
    service = Service.objects.create(name="shop", display_name="Shop", kind="api")
    client = login_client(admin_user)
    resp = client.post("/admin/incidents/slo/add/", _form(service))
    assert resp.status_code == 302, resp.content.decode()[:2000]
    slo = SLO.objects.get(name="Shop latency")
    rules = AlertRule.objects.filter(managed_by=f"slo:{slo.pk}")
    assert rules.count() == 4
    assert {r.sli["threshold_ms"] for r in rules} == {250.0}
    resp = client.post(f"/admin/incidents/slo/{slo.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert not AlertRule.objects.filter(managed_by=f"slo:{slo.pk}").exists()
