"""Writes of host sampling: taking a sample of this machine, storing it, and keeping each
host's row (its latest snapshot and whether beat sends it samples) up to date."""

from __future__ import annotations

import logging
import socket

import orjson

from collectors.models import Host
from collectors.monitoring import host as host_sampler
from collectors.store import write_samples
from penguinmon.queues import redis_client

log = logging.getLogger(__name__)

HOST_COUNTERS_TTL_S = 600


def _counters_key(name: str) -> str:
    return f"penguinmon:host-counters:{name}"


def sample_host(
    *,
    hostname: str | None = None,
    previous: dict | None = None,
    keep_counters_in_redis: bool = True,
    has_worker: bool = True,
) -> host_sampler.HostSample:
    """Sample this machine, write the samples, update its Host row; returns the sample.

    The rate counters live in Redis (Celery prefork children do not share memory); the
    collect_host command passes ``previous`` itself and keeps them in memory instead.
    """
    name = hostname or socket.gethostname()
    if keep_counters_in_redis and previous is None:
        raw = redis_client().get(_counters_key(name))
        previous = orjson.loads(raw) if raw else None
    sample = host_sampler.sample(name, previous)
    if keep_counters_in_redis:
        redis_client().set(
            _counters_key(name), orjson.dumps(sample.counters), ex=HOST_COUNTERS_TTL_S
        )
    write_samples(sample.samples, source="host")
    record_host_snapshot(sample, has_worker=has_worker)
    return sample


def record_host_snapshot(sample: host_sampler.HostSample, *, has_worker: bool = False) -> None:
    """Update the host's row in place (created on its first sample)."""
    _write_snapshot(
        sample.host, {"last_sample_at": sample.ts, **sample.snapshot()}, has_worker=has_worker
    )


def save_host_snapshot(*, name: str, snapshot: dict) -> Host:
    """A snapshot pushed by ``collect_host --push`` (a host without a worker of its own)."""
    _write_snapshot(name, snapshot, has_worker=False)
    return Host.objects.get(name=name)


def _write_snapshot(name: str, fields: dict, *, has_worker: bool) -> None:
    if not Host.objects.filter(name=name).update(**fields):
        Host.objects.get_or_create(name=name, defaults={**fields, "has_worker": has_worker})


def register_worker_host(name: str) -> Host:
    """A worker consuming ``host-<name>`` started: make sure beat sends that host samples."""
    host, _ = Host.objects.get_or_create(name=name, defaults={"has_worker": True})
    if not host.has_worker:
        Host.objects.filter(pk=host.pk).update(has_worker=True)
    return host


# A worker's queue holding this many unconsumed sample tasks (10 minutes of them) has no
# worker any more: a container recreated under a new hostname never consumes its old queue.
HOST_QUEUE_ABANDONED_AFTER = 40


def hosts_to_sample() -> list[str]:
    """Hosts with a worker of their own: beat sends each one the sample task on its queue.

    A host whose queue has piled up ``HOST_QUEUE_ABANDONED_AFTER`` tasks lost its worker: it is
    no longer sampled and its queue is deleted, so Redis does not grow for ever. The worker
    registers the host again (``register_worker_host``) if it ever comes back."""
    names = list(Host.objects.filter(enabled=True, has_worker=True).values_list("name", flat=True))
    if not names:
        return names
    client = redis_client()
    pipe = client.pipeline()
    for name in names:
        pipe.llen(f"host-{name}")
    backlog = dict(zip(names, pipe.execute(), strict=True))
    abandoned = [n for n in names if backlog[n] >= HOST_QUEUE_ABANDONED_AFTER]
    if abandoned:
        log.warning("host workers gone, no longer sampled: %s", ", ".join(abandoned))
        Host.objects.filter(name__in=abandoned).update(has_worker=False)
        client.delete(*(f"host-{n}" for n in abandoned))
    return [n for n in names if n not in abandoned]
