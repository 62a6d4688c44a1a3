"""The services API: list and detail with status and uptime, probes, run now, audited edits,
host snapshots; permissions and clear 4xx answers."""

from __future__ import annotations

import json

import pytest

from collectors.models import Host, Probe, Service
from penguinmon.models import AuditLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("default_services")]


@pytest.fixture
def patch(client, api):
    def send(path: str, data: dict):
        return client.patch(
            path, json.dumps(data), content_type="application/json", headers=api.headers
        )

    return send


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def patch_as(client, token: str, path: str, data: dict):
    """PATCH ``data`` as JSON to ``path`` with ``token``."""
    return client.patch(path, data, content_type="application/json", headers=bearer(token))


@pytest.fixture
def local_api(httpserver):
    """The 'api' service probing a local HTTP server; the other probes are disabled."""
    httpserver.expect_request("/health").respond_with_data("ok")
    Probe.objects.exclude(service__name="api").update(enabled=False)
    probe = Probe.objects.get(service__name="api")
    probe.config = {"url": httpserver.url_for("/health")}
    probe.save()
    return probe


def test_services_lists_every_service_with_status_and_uptime(api):
    response = api.get("/api/v1/services")
    assert response.status_code == 200
    services = {s["name"]: s for s in response.json()}
    assert {
        "api",
        "smtp",
        "oltp-db",
        "redis",
        "elasticsearch",
        "olap-db",
        "celery-queue",
        "collector-lag",
        "email-provider",
        "payment-processor",
    } <= set(services)
    assert services["celery-queue"]["parent"] == "redis"
    assert set(services["api"]["uptime_pct"]) == {"24h", "7d", "30d", "90d"}
    assert services["smtp"]["status"] == "unknown"


def test_run_now_records_a_result_and_the_service_turns_healthy(api, local_api):
    response = api.post(f"/api/v1/probes/{local_api.pk}/run")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["message"].startswith("HTTP 200")
    detail = api.get("/api/v1/services/api").json()
    assert detail["status"] == "healthy"
    assert detail["probes"][0]["last_ok"] is True
    assert detail["status_changes"][0]["new_status"] == "healthy"


def test_an_unknown_service_or_probe_is_404(api):
    assert api.get("/api/v1/services/nope").status_code == 404
    response = api.post("/api/v1/probes/999999/run")
    assert response.status_code == 404
    assert "no probe with id 999999" in response.content.decode()


def test_probes_can_be_filtered(api):
    response = api.get("/api/v1/probes", kind="redis")
    assert response.status_code == 200
    assert {p["service"] for p in response.json()} == {"redis", "celery-queue"}
    assert api.get("/api/v1/probes", service="smtp", enabled="false").json()[0]["name"] == "mta"


def test_threshold_edits_are_saved_and_audited(patch):
    response = patch("/api/v1/services/smtp", {"down_after_failures": 5, "comment": "flappy MTA"})
    assert response.status_code == 200, response.content
    assert response.json()["down_after_failures"] == 5
    entry = AuditLog.objects.get(action="service.thresholds")
    assert entry.changes == {"down_after_failures": {"from": 3, "to": 5}}
    assert entry.comment == "flappy MTA"


def test_bad_thresholds_are_refused_with_a_clear_message(patch):
    response = patch("/api/v1/services/smtp", {"down_after_failures": 0})
    assert response.status_code == 422
    assert "down_after_failures" in response.json()["error"]
    assert Service.objects.get(name="smtp").down_after_failures == 3


def test_probe_config_is_validated(patch):
    probe = Probe.objects.get(service__name="elasticsearch")
    response = patch(f"/api/v1/probes/{probe.pk}", {"config": {"user": "x"}})
    assert response.status_code == 400
    assert "config needs 'url'" in response.content.decode()
    response = patch(f"/api/v1/probes/{probe.pk}", {"enabled": True, "interval_seconds": 20})
    assert response.status_code == 200
    assert AuditLog.objects.filter(action="probe.change", target_id=str(probe.pk)).exists()


def test_a_read_token_cannot_run_probes(client, make_token, local_api):
    token = make_token("read")
    response = client.post(f"/api/v1/probes/{local_api.pk}/run", headers=bearer(token))
    assert response.status_code == 403


def test_a_role_without_view_services_cannot_edit(client, make_token, make_user):
    token = make_token("read", "write", user=make_user("executive"))
    response = patch_as(client, token, "/api/v1/services/smtp", {"down_after_failures": 4})
    assert response.status_code == 403


def test_development_sees_services_but_cannot_change_thresholds(client, make_token, make_user):
    token = make_token("read", "write", user=make_user("development"))
    assert client.get("/api/v1/services", headers=bearer(token)).status_code == 200
    response = patch_as(client, token, "/api/v1/services/smtp", {"down_after_failures": 4})
    assert response.status_code == 403
    assert Service.objects.get(name="smtp").down_after_failures == 3


def test_no_credentials_get_401(client):
    assert client.get("/api/v1/services").status_code == 401


def test_pushed_host_snapshots_show_in_hosts(api):
    snapshot = {
        "cpu_percent": 12.0,
        "memory_percent": 55.5,
        "process_count": 140,
        "disks": {"/": 40.0},
        "top_cpu": [{"pid": 1, "name": "postfix", "cpu_percent": 9.0}],
        "top_memory": [],
    }
    assert api.post("/api/v1/hosts/mx-2/snapshot", snapshot).status_code == 200
    hosts = {h["name"]: h for h in api.get("/api/v1/hosts").json()}
    assert hosts["mx-2"]["top_cpu"][0]["name"] == "postfix"
    assert hosts["mx-2"]["has_worker"] is False
    assert Host.objects.get(name="mx-2").memory_percent == 55.5


def test_a_bad_snapshot_is_refused(api):
    response = api.post("/api/v1/hosts/mx-2/snapshot", {"memory_percent": 140, "process_count": 1})
    assert response.status_code == 422
    assert not Host.objects.filter(name="mx-2").exists()


def test_reading_services_needs_a_role_that_sees_them(client, make_token, make_user):
    token = make_token("read", user=make_user("customer-success"))
    for path in ("/api/v1/services", "/api/v1/services/api", "/api/v1/probes", "/api/v1/hosts"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 403, path
    operations = make_token("read", user=make_user("operations"))
    assert client.get("/api/v1/services", headers=bearer(operations)).status_code == 200


def test_only_staff_can_change_a_probe_config(client, make_token, make_user):
    # A config can name a command to run (smtp queue_command): an operator's token must not
    # be able to set one; enabling and intervals stay open to the role.
    probe = Probe.objects.get(service__name="smtp")
    token = make_token("read", "write", user=make_user("operations"))
    response = patch_as(
        client,
        token,
        f"/api/v1/probes/{probe.pk}",
        {"config": {"host": "127.0.0.1", "queue_command": ["touch", "/tmp/owned"]}},
    )
    assert response.status_code == 403
    assert "staff" in response.json()["error"]
    probe.refresh_from_db()
    assert probe.config["queue_command"] == ["postqueue", "-j"]
    response = patch_as(client, token, f"/api/v1/probes/{probe.pk}", {"interval_seconds": 120})
    assert response.status_code == 200


def test_probe_secrets_are_masked_in_answers(api):
    probe = Probe.objects.get(service__name="oltp-db")
    probe.config = {
        "dsn": "postgresql://app:s3cret@db:5432/app",
        "statements": 5,
    }
    probe.save()
    es = Probe.objects.get(service__name="elasticsearch")
    es.config = {
        "url": "http://es:9200",
        "user": "elastic",
        "password": "hunter2",
        "headers": {
            "Authorization": "Bearer abc",
            "Accept": "application/json",
            "X-Honeycomb-Team": "hc-key-123",
        },
    }
    es.save()
    probes = {p["service"]: p for p in api.get("/api/v1/probes").json()}
    assert probes["oltp-db"]["config"]["dsn"] == "postgresql://app:***@db:5432/app"
    assert probes["oltp-db"]["config"]["statements"] == 5
    assert probes["elasticsearch"]["config"]["password"] == "***"
    assert probes["elasticsearch"]["config"]["user"] == "elastic"
    # Every header but a few harmless ones: custom API-key headers have any name.
    assert probes["elasticsearch"]["config"]["headers"] == {
        "Authorization": "***",
        "Accept": "application/json",
        "X-Honeycomb-Team": "***",
    }
    assert "hunter2" not in api.get("/api/v1/services/elasticsearch").content.decode()
