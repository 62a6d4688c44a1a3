"""The host sampler: what one sample measures, rates between samples, the Host snapshot, and
the collect_host command writing directly or pushing to a server."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from werkzeug import Response

from collectors.models import Host
from collectors.monitoring import host as host_sampler
from collectors.monitoring.hosts import hosts_to_sample, register_worker_host, sample_host
from collectors.store.query import latest_values
from penguinmon.queues import redis_client


def by_metric(sample) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for item in sample.samples:
        out.setdefault(item["metric"], []).append(item)
    return out


def test_a_sample_measures_cpu_memory_disks_load_and_processes():
    sample = host_sampler.sample("web-1")
    got = by_metric(sample)
    for metric in (
        "host_cpu_percent",
        "host_load1",
        "host_load5",
        "host_load15",
        "host_memory_used_percent",
        "host_swap_used_percent",
        "host_disk_used_percent",
        "host_process_count",
    ):
        assert metric in got, metric
    assert all(item["labels"]["host"] == "web-1" for item in sample.samples)
    assert 0 <= got["host_cpu_percent"][0]["value"] <= 100
    assert {i["labels"]["cpu"] for i in got["host_cpu_core_percent"]} == {
        str(n) for n in range(len(got["host_cpu_core_percent"]))
    }
    assert "/" in {i["labels"]["mount"] for i in got["host_disk_used_percent"]}
    assert got["host_process_count"][0]["value"] > 1


def test_rates_need_a_previous_sample():
    first = host_sampler.sample("web-1")
    assert "host_net_rx_bytes_per_s" not in by_metric(first)
    time.sleep(0.2)
    second = host_sampler.sample("web-1", first.counters)
    got = by_metric(second)
    for metric in (
        "host_disk_read_bytes_per_s",
        "host_disk_write_bytes_per_s",
        "host_net_rx_bytes_per_s",
        "host_net_tx_bytes_per_s",
        "host_net_errors_per_s",
    ):
        assert got[metric][0]["value"] >= 0, metric


def cpu_seconds(pid: int) -> float:
    """The process's CPU time as psutil reads it: a measurement independent of the sampler."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def wait_for_cpu(pid: int, seconds: float, *, deadline_s: float = 60) -> None:
    """Wait until ``pid`` has burnt ``seconds`` more CPU: on a loaded box that takes however
    long the scheduler needs, so the test waits for the fact, not for a fixed time."""
    start, give_up = cpu_seconds(pid), time.monotonic() + deadline_s
    while cpu_seconds(pid) - start < seconds:
        assert time.monotonic() < give_up, f"process {pid} got no CPU for {deadline_s} s"
        time.sleep(0.05)


def test_a_busy_process_shows_in_the_cpu_list_with_its_measured_share():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        wait_for_cpu(busy.pid, 0.1)
        # Other work on the machine may outrank the busy loop in one window (the list is the
        # top 5 of the whole machine); a few windows are enough for it to show up.
        give_up = time.monotonic() + 60
        while True:
            lo0 = cpu_seconds(busy.pid)
            first = host_sampler.sample("web-1")
            hi0 = cpu_seconds(busy.pid)
            wait_for_cpu(busy.pid, 0.3)
            lo1 = cpu_seconds(busy.pid)
            second = host_sampler.sample("web-1", first.counters)
            hi1 = cpu_seconds(busy.pid)
            top = {p["pid"]: p for p in second.top_cpu}
            if busy.pid in top or time.monotonic() > give_up:
                break
    finally:
        busy.kill()
        busy.wait()
    assert busy.pid in top, second.top_cpu
    # The share reported is the CPU time the process used between the two samples (which
    # psutil bracketed from both sides) over the time between them.
    elapsed = second.counters["ts"] - first.counters["ts"]
    low, high = 100 * (lo1 - hi0) / elapsed, 100 * (hi1 - lo0) / elapsed
    assert low - 0.05 <= top[busy.pid]["cpu_percent"] <= high + 0.05
    assert top[busy.pid]["cpu_percent"] > 0
    cpu_list = [p["cpu_percent"] for p in second.top_cpu]
    assert cpu_list == sorted(cpu_list, reverse=True)
    assert len(second.top_memory) == 5
    assert second.top_memory[0]["rss_bytes"] >= second.top_memory[-1]["rss_bytes"]


@pytest.mark.django_db(transaction=True)
def test_sample_host_writes_the_store_and_the_host_row():
    redis_client().delete("penguinmon:host-counters:db-1")
    sample_host(hostname="db-1")
    time.sleep(0.1)
    sample_host(hostname="db-1")  # counters from Redis: the second sample has rates
    cpu = latest_values(metric="host_cpu_percent", labels={"host": "db-1"})
    assert len(cpu) == 1 and 0 <= cpu[0].value <= 100
    assert latest_values(metric="host_net_rx_bytes_per_s", labels={"host": "db-1"})
    host = Host.objects.get(name="db-1")
    assert host.last_sample_at is not None
    assert len(host.top_cpu) == 5 and len(host.top_memory) == 5
    assert "/" in host.disks
    redis_client().delete("penguinmon:host-counters:db-1")


@pytest.mark.django_db
def test_worker_hosts_are_sampled_and_pushing_hosts_are_not():
    register_worker_host("worker-a")
    Host.objects.create(name="pusher", has_worker=False)
    Host.objects.create(name="retired", enabled=False)
    assert hosts_to_sample() == ["worker-a"]


@pytest.mark.django_db(transaction=True)
def test_collect_host_once_writes_directly():
    call_command("collect_host", "--once", "--hostname", "cron-box")
    assert latest_values(metric="host_memory_used_percent", labels={"host": "cron-box"})
    assert Host.objects.get(name="cron-box").has_worker is False


def test_collect_host_pushes_with_the_token(httpserver):
    received = {}

    def samples(request):
        received["auth"] = request.headers["Authorization"]
        received["samples"] = json.loads(request.data)["samples"]
        return Response(
            json.dumps({"written": len(received["samples"])}), content_type="application/json"
        )

    def snapshot(request):
        received["snapshot"] = json.loads(request.data)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/v1/samples", method="POST").respond_with_handler(samples)
    httpserver.expect_request("/api/v1/hosts/edge-7/snapshot", method="POST").respond_with_handler(
        snapshot
    )
    call_command(
        "collect_host",
        "--once",
        "--hostname",
        "edge-7",
        "--push",
        httpserver.url_for("/"),
        "--token",
        "pm_secret",
    )
    assert received["auth"] == "Bearer pm_secret"
    metrics = {s["metric"] for s in received["samples"]}
    assert {"host_cpu_percent", "host_memory_used_percent", "host_process_count"} <= metrics
    assert all(
        s["labels"]["host"] == "edge-7" and isinstance(s["ts"], float) for s in received["samples"]
    )
    assert len(received["snapshot"]["top_cpu"]) == 5


def test_collect_host_reports_a_refused_push(httpserver):
    httpserver.expect_request("/api/v1/samples").respond_with_json(
        {"detail": "token lacks ingest"}, status=403
    )
    with pytest.raises(CommandError, match="push refused: HTTP 403"):
        call_command("collect_host", "--once", "--push", httpserver.url_for("/"), "--token", "pm_x")


def test_collect_host_needs_a_token_to_push():
    with pytest.raises(CommandError, match="--push needs --token"):
        call_command("collect_host", "--once", "--push", "http://127.0.0.1:1")


@pytest.mark.django_db
def test_beat_sends_each_worker_host_a_sample_task_on_its_own_queue():
    from collectors.tasks import dispatch_host_samples

    client = redis_client()
    client.delete("host-worker-a", "host-pusher")
    register_worker_host("worker-a")
    Host.objects.create(name="pusher", has_worker=False)
    assert dispatch_host_samples() == 1
    assert client.llen("host-worker-a") == 1
    message = json.loads(client.lpop("host-worker-a"))
    assert message["headers"]["task"] == "collectors.sample_host"
    assert client.llen("host-pusher") == 0


@pytest.mark.django_db
def test_a_host_whose_worker_is_gone_stops_being_sampled_and_its_queue_is_deleted():
    from collectors.monitoring.hosts import HOST_QUEUE_ABANDONED_AFTER
    from collectors.tasks import dispatch_host_samples

    client = redis_client()
    client.delete("host-old-container", "host-new-container")
    register_worker_host("old-container")  # the container was recreated under a new hostname
    register_worker_host("new-container")
    for _ in range(HOST_QUEUE_ABANDONED_AFTER):
        assert dispatch_host_samples() == 2
        client.delete("host-new-container")  # the live worker consumes its queue
    assert client.llen("host-old-container") == HOST_QUEUE_ABANDONED_AFTER

    assert dispatch_host_samples() == 1
    assert client.exists("host-old-container") == 0
    assert Host.objects.get(name="old-container").has_worker is False
    for _ in range(5):
        dispatch_host_samples()
    assert client.exists("host-old-container") == 0  # no longer grows
    # If that worker ever starts again it registers itself and is sampled again.
    register_worker_host("old-container")
    assert set(hosts_to_sample()) == {"old-container", "new-container"}
    client.delete("host-new-container")
