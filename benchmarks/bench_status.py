"""Public status page under load: wrk against gunicorn started exactly as the Procfile's web
line (2 workers x 4 threads, access log on), 12 components over 90 days of health changes and
incidents with public updates. The status cache starts cold (nothing in Redis, fresh workers),
so the first views build the page from Postgres and the rest are served from the cache.

Figures: /status/ requests/s (target >= 1,000; wrk sends a browser's Accept-Encoding), beside
a static file from the same server (whitenoise: the server's ceiling, measured in the same
run), the same page with the cache bypassed (every view queries Postgres: what the cache
saves), and how long a service going
down takes to show on /status/summary.json (target: within one 15 s evaluation interval).
"""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import subprocess
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import requests

from benchmarks.common import ROOT, free_port, row, wait_for_http

WRK = "/usr/bin/wrk"
DURATION_S = 10
CONNECTIONS = 32
PREFIX = "bench-status"
COMPONENTS = 12


@contextmanager
def procfile_web(extra_env: dict):
    """The Procfile's web command on a free port (its access log to /dev/null)."""
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    port = free_port()
    cmd = shlex.split(line.split(":", 1)[1].replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
    env = {**os.environ, "PENGUINMON_TESTING": "0", "DEBUG": "0", **extra_env}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/health", "gunicorn did not start")
        yield base
    finally:
        proc.send_signal(signal.SIGINT)  # quick shutdown: wrk may have left requests queued
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wrk(url: str) -> float:
    out = subprocess.run(
        [
            WRK,
            "-t2",
            f"-c{CONNECTIONS}",
            "-H",
            "Accept-Encoding: gzip, deflate, br",
            f"-d{DURATION_S}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")
    print("   " + "\n   ".join(out.strip().splitlines()[-12:]), flush=True)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _forget_cache() -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{PREFIX}:*"):
        client.delete(key)


def _load() -> list:
    from alerts.models import Silence
    from collectors.models import Service, Status, StatusChange
    from incidents.models import Incident, IncidentUpdate, StatusComponent

    rng = random.Random(15)
    now = datetime.now(UTC)
    services, components = [], []
    for n in range(COMPONENTS):
        service = Service.objects.create(
            name=f"bench-status-{n}",
            display_name=f"bench {n}",
            kind=Service.Kind.API,
            status=Status.HEALTHY,
        )
        services.append(service)
        at, status = now - timedelta(days=95), Status.HEALTHY
        changes = [
            StatusChange(service=service, at=at, old_status=Status.UNKNOWN, new_status=status)
        ]
        while True:
            at += timedelta(hours=rng.uniform(6, 60))
            if at >= now:
                break
            new = Status.DOWN if status == Status.HEALTHY else Status.HEALTHY
            changes.append(StatusChange(service=service, at=at, old_status=status, new_status=new))
            status = new
            if new == Status.DOWN:  # outages are short
                at += timedelta(minutes=rng.uniform(1, 90))
                changes.append(
                    StatusChange(service=service, at=at, old_status=new, new_status=Status.HEALTHY)
                )
                status = Status.HEALTHY
        StatusChange.objects.bulk_create(changes)
        component = StatusComponent.objects.create(name=f"Bench component {n}", position=n)
        component.services.add(service)
        components.append(component)
        for k in range(3):
            started = now - timedelta(days=rng.uniform(0, 89))
            incident = Incident.objects.create(
                title=f"bench {n}.{k}",
                public_title=f"Bench incident {n}.{k}",
                service=service.name,
                started_at=started,
                status="resolved",
                resolved_at=started + timedelta(hours=1),
            )
            for s in ("investigating", "identified", "resolved"):
                IncidentUpdate.objects.create(
                    incident=incident, status=s, message=f"{s} text", public=True
                )
    silence = Silence.objects.create(
        matchers={"service": services[0].name},
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=2),
        comment="bench",
    )
    return [services, components, silence]


def _cleanup(objs: list) -> None:
    from collectors.models import Service
    from incidents.models import Incident

    services, components, silence = objs
    Incident.objects.filter(service__in=[s.name for s in services]).delete()
    for c in components:
        c.delete()
    silence.delete()
    Service.objects.filter(pk__in=[s.pk for s in services]).delete()


def _seconds_until_down_shows(base: str, service) -> float:
    from collectors.models import Service, Status

    requests.get(f"{base}/status/summary.json", timeout=10)  # cached now
    t0 = time.monotonic()
    Service.objects.filter(pk=service.pk).update(status=Status.DOWN)
    while time.monotonic() - t0 < 60:
        data = requests.get(f"{base}/status/summary.json", timeout=10).json()
        if any(c["status"] == "major_outage" for c in data["components"]):
            return time.monotonic() - t0
        time.sleep(0.2)
    return float("inf")


def run() -> list[dict]:
    if not os.path.exists(WRK):
        raise RuntimeError(f"{WRK} is missing: `make bench-deps` installs wrk")
    objs = _load()
    try:
        _forget_cache()
        with procfile_web({"CACHE_KEY_PREFIX": PREFIX}) as base:
            cached = _wrk(f"{base}/status/")
            static = _wrk(f"{base}/static/css/status.css")
            down_after = _seconds_until_down_shows(base, objs[0][0])
        # Reference: the same page with a cache that keeps nothing (every view builds it).
        _forget_cache()
        with procfile_web({"CACHE_KEY_PREFIX": PREFIX, "STATUS_CACHE_SECONDS": "0"}) as base:
            uncached = _wrk(f"{base}/status/")
    finally:
        _forget_cache()
        _cleanup(objs)
    return [
        row(
            "status page /status/ via wrk (cold cache, Procfile gunicorn)",
            cached,
            "req/s",
            reference="target",
            reference_value=1000.0,
            target=">= 1000 req/s",
        ),
        row(
            "status page /status/ vs a static file, same server",
            cached,
            "req/s",
            reference="whitenoise static file",
            reference_value=static,
            target="-",
        ),
        row(
            "status page /status/ with the cache bypassed",
            uncached,
            "req/s",
            reference="cached page",
            reference_value=cached,
            target="-",
        ),
        row(
            "service down → shown on summary.json",
            down_after,
            "s",
            reference="evaluation interval",
            reference_value=15.0,
            target="<= 15 s",
        ),
    ]
