"""/api/v1/slos: CRUD with the write scope, budget figures, bad input naming the field, the
freeze endpoint, deployments flagged during a freeze, the seeds' default SLOs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AlertRule
from collectors.models import Service, Status, StatusChange
from incidents.models import SLO

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return Service.objects.create(name="shop", display_name="Shop", kind="api")


@pytest.fixture
def writer(client, make_token, make_user):
    token = make_token("read", "write", user=make_user("development"))

    class Writer:
        headers = {"Authorization": f"Bearer {token}"}

        def send(self, method, path, data=None):
            return getattr(client, method)(
                path,
                json.dumps(data) if data is not None else None,
                content_type="application/json",
                headers=self.headers,
            )

    return Writer()


def _new(writer, **fields):
    data = {"name": "Shop success", "service": "shop", "sli_kind": "success_ratio"}
    data.update({"objective_pct": 99.5, **fields})
    return writer.send("post", "/api/v1/slos", data)


def test_the_seeds_default_slos_exist_with_their_burn_rate_rules():
    slos = {s.name: s for s in SLO.objects.all()}
    assert slos["API availability"].objective_pct == 99.9
    assert slos["Login success"].route == "/v1/auth/login"
    assert (slos["API latency"].threshold_ms, slos["API latency"].objective_pct) == (200, 95)
    rules = AlertRule.objects.filter(managed_by=f"slo:{slos['API availability'].pk}")
    assert sorted((r.severity, r.threshold) for r in rules) == [
        ("critical", 6.0),
        ("critical", 14.4),
        ("warning", 1.0),
        ("warning", 3.0),
    ]


def test_create_read_update_delete(writer, shop):
    resp = _new(writer, window="28d", route="/v1/cart")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["service"] == "shop" and body["window"] == "28d"
    assert body["budget"]["unit"] == "requests"
    assert body["budget"]["sli_pct"] is None  # no traffic yet
    slo_id = body["id"]
    assert AlertRule.objects.filter(managed_by=f"slo:{slo_id}").count() == 4

    got = writer.send("get", f"/api/v1/slos/{slo_id}").json()
    assert got["name"] == "Shop success" and got["frozen"] is False
    assert got["burn_alerts"][0] == {
        "severity": "page",
        "factor": 14.4,
        "long_seconds": 3600,
        "short_seconds": 300,
    }

    resp = writer.send(
        "patch",
        f"/api/v1/slos/{slo_id}",
        {
            "objective_pct": 99.0,
            "burn_alerts": [
                {"severity": "page", "factor": 10, "long_seconds": 3600, "short_seconds": 300}
            ],
        },
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["objective_pct"] == 99.0
    rules = list(AlertRule.objects.filter(managed_by=f"slo:{slo_id}"))
    assert [(r.threshold, r.objective_pct, r.severity) for r in rules] == [(10, 99.0, "critical")]

    listed = writer.send("get", "/api/v1/slos?service=shop").json()
    assert [s["id"] for s in listed] == [slo_id]

    assert writer.send("delete", f"/api/v1/slos/{slo_id}").status_code == 204
    assert not SLO.objects.filter(pk=slo_id).exists()
    assert not AlertRule.objects.filter(managed_by=f"slo:{slo_id}").exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"objective_pct": 0}, "objective_pct"),
        ({"objective_pct": 100}, "objective_pct"),
        ({"objective_pct": 120}, "objective_pct"),
        ({"window": "7d"}, "window"),
        ({"sli_kind": "latency", "threshold_ms": 0}, "threshold_ms"),
        ({"sli_kind": "latency", "threshold_ms": -5}, "threshold_ms"),
        ({"sli_kind": "latency"}, "threshold_ms"),
        ({"service": "nope"}, "service"),
        ({"sli_kind": "throughput"}, "sli_kind"),
        (
            {
                "burn_alerts": [
                    {"severity": "sms", "factor": 2, "long_seconds": 60, "short_seconds": 60}
                ]
            },
            "burn_alerts",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(writer, shop, fields, field):
    before = SLO.objects.count()
    resp = _new(writer, **fields)
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"].startswith(f"{field}:"), resp.json()
    assert SLO.objects.count() == before


def test_a_read_token_cannot_change_slos(api, client, make_token, shop):
    token = make_token("read")
    resp = client.post(
        "/api/v1/slos",
        json.dumps(
            {"name": "x", "service": "shop", "sli_kind": "availability", "objective_pct": 99}
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403


def test_a_role_without_manage_slos_gets_403(client, make_token, make_user, shop):
    token = make_token("read", "write", user=make_user("executive"))
    resp = client.post(
        "/api/v1/slos",
        json.dumps(
            {"name": "x", "service": "shop", "sli_kind": "availability", "objective_pct": 99}
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403
    assert "manage slos" in resp.json()["error"]


def _exhaust(service: Service) -> None:
    """Down for 2 of the last 24 hours after 40 healthy days: far beyond a 99.9% budget."""
    now = timezone.now()
    for at, old, new in [
        (now - timedelta(days=40), Status.UNKNOWN, Status.HEALTHY),
        (now - timedelta(hours=3), Status.HEALTHY, Status.DOWN),
        (now - timedelta(hours=1), Status.DOWN, Status.HEALTHY),
    ]:
        StatusChange.objects.create(service=service, at=at, old_status=old, new_status=new)


def test_freeze_answers_a_ci_script_and_deployments_are_flagged(writer, shop):
    slo_id = writer.send(
        "post",
        "/api/v1/slos",
        {"name": "Shop up", "service": "shop", "sli_kind": "availability", "objective_pct": 99.9},
    ).json()["id"]
    freeze = writer.send("get", "/api/v1/services/shop/freeze").json()
    assert freeze["frozen"] is False
    first = writer.send("post", "/api/v1/deployments", {"service": "shop", "version": "1"})
    assert first.json()["during_freeze"] is False

    _exhaust(shop)

    freeze = writer.send("get", "/api/v1/services/shop/freeze").json()
    assert freeze["frozen"] is True
    assert freeze["exhausted_slos"][0]["name"] == "Shop up"
    assert freeze["exhausted_slos"][0]["budget_remaining_pct"] < 0
    assert "error budget exhausted: Shop up" in freeze["reason"]
    slo = writer.send("get", f"/api/v1/slos/{slo_id}").json()
    assert slo["frozen"] is True and slo["budget"]["budget_exhausted"] is True
    assert slo["budget"]["budget_consumed_minutes"] == pytest.approx(120, abs=0.1)
    resp = writer.send("post", "/api/v1/deployments", {"service": "shop", "version": "2"})
    assert resp.status_code == 201
    assert resp.json()["during_freeze"] is True
    # Other services are not frozen by it.
    Service.objects.create(name="cart", display_name="Cart", kind="api")
    assert writer.send("get", "/api/v1/services/cart/freeze").json()["frozen"] is False
    assert writer.send("get", "/api/v1/services/none/freeze").status_code == 404


def test_renaming_an_slo_keeps_its_rules_and_their_alerts(writer, shop):
    slo_id = _new(writer).json()["id"]
    before = {r.pk for r in AlertRule.objects.filter(managed_by=f"slo:{slo_id}")}
    resp = writer.send("patch", f"/api/v1/slos/{slo_id}", {"name": "Shop requests"})
    assert resp.status_code == 200
    rules = list(AlertRule.objects.filter(managed_by=f"slo:{slo_id}"))
    assert {r.pk for r in rules} == before
    assert all(r.name.startswith("SLO Shop requests: ") for r in rules)
