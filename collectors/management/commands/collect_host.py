"""Sample this machine every --interval seconds, for hosts without a Celery worker.

    python manage.py collect_host                      # write to the store directly
    python manage.py collect_host --push https://penguinmon.example --token pm_...
    python manage.py collect_host --once               # one sample, then exit

With --push, samples go to URL/api/v1/samples and the top-process snapshot to
URL/api/v1/hosts/<name>/snapshot, with ``Authorization: Bearer TOKEN`` (a token with the
"ingest" scope). Rate counters are kept in this process's memory between samples.
"""

from __future__ import annotations

import socket
import time

import orjson
import requests
from django.core.management.base import BaseCommand, CommandError

from collectors.monitoring import host as host_sampler
from collectors.monitoring.hosts import sample_host

PUSH_TIMEOUT_S = 10


def push(base_url: str, token: str, sample: host_sampler.HostSample) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    items = [{**item, "ts": item["ts"].timestamp()} for item in sample.samples]
    response = requests.post(
        f"{base_url}/api/v1/samples",
        data=orjson.dumps({"samples": items}),
        headers=headers,
        timeout=PUSH_TIMEOUT_S,
    )
    if response.status_code != 200:
        raise CommandError(f"push refused: HTTP {response.status_code} {response.text[:200]}")
    snap = requests.post(
        f"{base_url}/api/v1/hosts/{sample.host}/snapshot",
        data=orjson.dumps(sample.snapshot()),
        headers=headers,
        timeout=PUSH_TIMEOUT_S,
    )
    if snap.status_code != 200:
        raise CommandError(f"snapshot refused: HTTP {snap.status_code} {snap.text[:200]}")
    return response.json()["written"]


class Command(BaseCommand):
    help = (
        "Sample CPU, memory, disk, network and processes of this host (for hosts without a worker)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--push", dest="push_url", metavar="URL", help="PenguinMon base URL to POST samples to"
        )
        parser.add_argument("--token", help="API token with the ingest scope (with --push)")
        parser.add_argument(
            "--interval", type=float, default=15.0, help="seconds between samples (15)"
        )
        parser.add_argument("--once", action="store_true", help="take one sample and exit")
        parser.add_argument(
            "--hostname", default=socket.gethostname(), help="name to label samples with"
        )

    def handle(
        self,
        *args,
        push_url: str | None,
        token: str | None,
        interval: float,
        once: bool,
        hostname: str,
        **options,
    ):
        if push_url and not token:
            raise CommandError("--push needs --token (an API token with the ingest scope)")
        if interval < 1:
            raise CommandError("--interval must be at least 1 second")
        previous = None
        while True:
            began = time.monotonic()
            try:
                if push_url:
                    sample = host_sampler.sample(hostname, previous)
                    written = push(push_url.rstrip("/"), token, sample)
                else:
                    sample = sample_host(
                        hostname=hostname,
                        previous=previous or {},
                        keep_counters_in_redis=False,
                        has_worker=False,
                    )
                    written = len(sample.samples)
                previous = sample.counters
                self.stdout.write(
                    f"{sample.ts:%H:%M:%S} {hostname}: {written} samples, "
                    f"CPU {sample.cpu_percent:.1f}%, memory {sample.memory_percent:.1f}%"
                )
            except (requests.RequestException, CommandError) as exc:
                if once:
                    raise CommandError(str(exc)) from exc
                self.stderr.write(f"sample not delivered, will retry next interval: {exc}")
            if once:
                return
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
