"""'Check all now' and POST /api/v1/reputation/checks hand the check to a worker: 202 with the
run, a message in the Celery queue of the test Redis db, 503 when Redis is unreachable; the
worker's task records how the run went. One IP is still checked within the request."""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings as django_settings

from penguinmon.queues import redis_client
from reputation import tasks
from reputation.models import CheckRun, ListingCheck, SendingDomain
from tests.collectors.servers import closed_port


@pytest.fixture
def celery_queue():
    """The Celery queue of this run's Redis db, empty before and after the test."""
    assert django_settings.CELERY_TASK_ALWAYS_EAGER is False  # tasks really go to the broker
    client = redis_client()
    client.delete("celery")
    yield client
    client.delete("celery")


def queued_tasks(client) -> list[dict]:
    """(task name, id, kwargs) of every message waiting in the celery queue."""
    out = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append({"task": message["headers"]["task"], "id": message["headers"]["id"], **kwargs})
    return out


@pytest.fixture
def redis_down():
    """Point the broker at a port where nothing listens (Redis stopped)."""
    from penguinmon.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    yield
    app.conf.broker_url = previous


def test_checking_everything_through_the_api_is_queued_with_202(api, celery_queue, make_ip):
    make_ip("192.0.2.10")
    resp = api.post("/api/v1/reputation/checks", {})
    assert resp.status_code == 202
    body = resp.json()
    run = CheckRun.objects.get(pk=body["id"])
    assert (body["status"], body["ips"], body["url"]) == (
        "queued",
        "all",
        f"/api/v1/reputation/checks/{run.pk}",
    )
    assert celery_queue.llen("celery") == 1
    [message] = queued_tasks(celery_queue)
    assert message == {
        "task": "reputation.tasks.check_reputation",
        "id": run.task_id,
        "ip_ids": None,
        "run_id": run.pk,
    }
    # Nothing was looked up inside the request.
    assert not ListingCheck.objects.exists()
    assert api.get(f"/api/v1/reputation/checks/{run.pk}").json()["status"] == "queued"


def test_several_ips_are_queued_but_one_ip_is_checked_at_once(api, celery_queue, dns, make_ip):
    dns({})
    a, b = make_ip("192.0.2.11"), make_ip("192.0.2.12")
    resp = api.post("/api/v1/reputation/checks", {"ips": ["192.0.2.11", "192.0.2.12"]})
    assert resp.status_code == 202
    assert [m["ip_ids"] for m in queued_tasks(celery_queue)] == [[a.pk, b.pk]]

    resp = api.post("/api/v1/reputation/checks", {"ips": ["192.0.2.11"]})
    assert resp.status_code == 200 and resp.json()["ips"] == 1
    assert celery_queue.llen("celery") == 1  # nothing more queued
    assert ListingCheck.objects.filter(ip=a).exists()


def test_check_all_now_on_the_page_queues_the_check(celery_queue, make_ip, make_user, login_client):
    make_ip("192.0.2.13")
    client = login_client(make_user("operations"))
    resp = client.post("/reputation/check/", follow=True)
    assert resp.status_code == 200
    run = CheckRun.objects.get()
    assert (
        f"Check #{run.pk} queued; results appear on this page when it finishes."
        in resp.content.decode()
    )
    assert [m["run_id"] for m in queued_tasks(celery_queue)] == [run.pk]


def test_with_redis_down_the_api_answers_503_and_nothing_is_left_behind(
    api, celery_queue, make_ip, redis_down
):
    make_ip("192.0.2.14")
    resp = api.post("/api/v1/reputation/checks", {})
    assert resp.status_code == 503
    assert "could not be queued" in resp.json()["error"]
    assert "Redis" in resp.json()["error"]
    assert not CheckRun.objects.exists()
    assert celery_queue.llen("celery") == 0


def test_with_redis_down_the_page_says_so_with_503(
    celery_queue, make_ip, make_user, login_client, redis_down
):
    make_ip("192.0.2.15")
    client = login_client(make_user("operations"))
    resp = client.post("/reputation/check/")
    assert resp.status_code == 503
    assert "Check not started: the check could not be queued" in resp.content.decode()
    assert not CheckRun.objects.exists()


def test_the_worker_task_runs_the_check_and_records_the_run(dns, make_ip):
    ip = make_ip("192.0.2.16")
    domain = SendingDomain.objects.create(domain="queued.example")
    dns({"queued.example": {"TXT": ["v=spf1 -all"]}})
    run = CheckRun.objects.create(requested_by="olga")

    result = tasks.check_reputation(run_id=run.pk)

    assert result["ips"] == 1 and result["unknown"] == 0 and result["sender_domains"] == 1
    assert ListingCheck.objects.filter(ip=ip).exists()
    domain.refresh_from_db()
    assert domain.spf_status == "valid"
    run.refresh_from_db()
    assert run.status == "done" and run.started_at and run.finished_at
    assert run.summary["ips"] == 1 and run.summary["sender_domains"] == 1
