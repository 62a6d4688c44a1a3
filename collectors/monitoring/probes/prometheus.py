"""Prometheus probe: scrape a /metrics endpoint (text exposition format) and store its samples.

config: url (required), include (list of metric-name prefixes to keep; default all),
prefix ("": put before every stored name, e.g. "node_"), max_samples (2000: a bigger scrape
keeps the first ones and says so, which bounds the series one target can create).
"""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from collectors.monitoring.probes import httpjson
from collectors.monitoring.probes.base import ProbeResult, Stopwatch, need


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    url = str(need(config, "url"))
    watch = Stopwatch()
    text = httpjson.get(url, timeout=timeout)
    latency = watch.ms
    include = tuple(config.get("include") or ())
    prefix = str(config.get("prefix", ""))
    limit = int(config.get("max_samples", 2000))
    result = ProbeResult(ok=True, latency_ms=latency)
    parsed = dropped = 0
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if include and not sample.name.startswith(include):
                    continue
                if math.isnan(sample.value) or math.isinf(sample.value):
                    continue
                parsed += 1
                if len(result.metrics) >= limit:
                    dropped += 1
                    continue
                result.add(
                    prefix + sample.name,
                    sample.value,
                    **{k: str(v) for k, v in sample.labels.items()},
                )
    except ValueError as exc:
        return ProbeResult.failure(f"not Prometheus text format: {exc}", latency_ms=latency)
    result.details = {"samples": parsed, "stored": len(result.metrics), "dropped": dropped}
    result.message = f"scraped {parsed} samples in {latency:.0f} ms"
    if dropped:
        result.degraded = True
        result.message += f"; {dropped} over the {limit}-sample limit were not stored"
    return result
