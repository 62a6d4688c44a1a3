"""Service level indicators read from the store: good and total "events" per period.

Three kinds, each a ratio good / total over a period:

- ``availability``: seconds the service was not down (maintenance excluded) among the seconds
  its status was known — the uptime definition of ``collectors.monitoring.health``, called, not copied;
- ``success_ratio``: requests that did not answer 5xx among all requests, from the per-minute
  ``http_requests`` counters of a service (or one route of it);
- ``latency``: requests answered within ``threshold_ms`` among all requests, from the latency
  histograms: exact when the threshold is a bucket bound, linear inside the bucket otherwise.

Every read is batched: many SLIs over many periods cost one query per kind (plus the status
changes), which is what lets one evaluation cycle cover hundreds of SLOs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from collectors.models import Service
from collectors.monitoring.health import uptime_seconds_by_period
from collectors.store import histogram
from collectors.store.batch import find_series, histogram_prefix_windows, window_sums

AVAILABILITY = "availability"
SUCCESS_RATIO = "success_ratio"
LATENCY = "latency"
KINDS = (AVAILABILITY, SUCCESS_RATIO, LATENCY)

REQUESTS = "http_requests"
DURATIONS = "http_request_duration_ms"

Period = tuple[datetime, datetime]


@dataclass(frozen=True)
class SliSpec:
    kind: str
    service: str
    route: str = ""  # success_ratio / latency: one route of the service; "" = all of them
    threshold_ms: float | None = None  # latency only

    @property
    def unit(self) -> str:
        """What one event is: budgets of availability SLIs are time, the others requests."""
        return "seconds" if self.kind == AVAILABILITY else "requests"


@dataclass(frozen=True)
class Counts:
    good: float = 0.0
    total: float = 0.0

    @property
    def bad(self) -> float:
        return self.total - self.good

    @property
    def ratio(self) -> float | None:
        return self.good / self.total if self.total > 0 else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.good + other.good, self.total + other.total)


def share_within(counts: Sequence[float], threshold_ms: float) -> float:
    """Requests of a bucket-count vector answered within ``threshold_ms``: whole buckets below
    it, and the bucket holding it in proportion to where the threshold falls inside it."""
    good = 0.0
    for i, c in enumerate(counts):
        if not c:
            continue
        upper = histogram.upper_bound(i)
        if upper <= threshold_ms:
            good += c
            continue
        lower = 0.0 if i == 0 else histogram.BASE_MS * histogram.GROWTH ** (i - 1)
        if threshold_ms > lower and not math.isinf(upper):
            good += c * (threshold_ms - lower) / (upper - lower)
        break
    return good


def _route_matches(spec: SliSpec, labels: dict) -> bool:
    return labels.get("service") == spec.service and (
        not spec.route or labels.get("route") == spec.route
    )


def sli_counts(
    specs: Sequence[SliSpec], periods: Sequence[Period]
) -> dict[tuple[int, int], Counts]:
    """Counts per (spec index, period index); a spec with no data in a period has total 0."""
    out: dict[tuple[int, int], Counts] = {
        (i, p): Counts() for i in range(len(specs)) for p in range(len(periods))
    }
    if not specs or not periods:
        return out
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, spec in enumerate(specs):
        by_kind[spec.kind].append(i)
    if by_kind[AVAILABILITY]:
        names = {specs[i].service for i in by_kind[AVAILABILITY]}
        services = {s.name: s for s in Service.objects.filter(name__in=names)}
        seconds = uptime_seconds_by_period(list(services.values()), periods)
        for i in by_kind[AVAILABILITY]:
            service = services.get(specs[i].service)
            if service is None:
                continue
            for p in range(len(periods)):
                known, down = seconds[(service.pk, p)]
                out[(i, p)] = Counts(known - down, known)
    wanted = by_kind[SUCCESS_RATIO] + by_kind[LATENCY]
    if not wanted:
        return out
    services = {specs[i].service for i in wanted}
    found = find_series([REQUESTS, DURATIONS])
    # Series by service, so each SLI picks its own from a few instead of from all of them.
    of_service: dict[tuple[str, str], list] = defaultdict(list)
    for metric in (REQUESTS, DURATIONS):
        for s in found[metric]:
            if s.labels.get("service") in services:
                of_service[(metric, s.labels["service"])].append(s)

    def mine_of(metric: str, spec: SliSpec) -> list:
        return [s for s in of_service[(metric, spec.service)] if _route_matches(spec, s.labels)]

    if by_kind[SUCCESS_RATIO]:
        series = [s for s in found[REQUESTS] if s.labels.get("service") in services]
        sums = window_sums([s.id for s in series], periods)
        for i in by_kind[SUCCESS_RATIO]:
            mine = mine_of(REQUESTS, specs[i])
            for p in range(len(periods)):
                total = bad = 0.0
                for s in mine:
                    value = sums.get((s.id, p), 0.0)
                    total += value
                    if s.labels.get("status_class") == "5xx":
                        bad += value
                out[(i, p)] = Counts(total - bad, total)
    if by_kind[LATENCY]:
        series = [s for s in found[DURATIONS] if s.labels.get("service") in services]
        # Only the buckets up to the highest threshold's own are read.
        upto = 1 + max(
            histogram.bucket_index(specs[i].threshold_ms or 0.0) for i in by_kind[LATENCY]
        )
        windows = histogram_prefix_windows([s.id for s in series], periods, buckets=upto)
        for i in by_kind[LATENCY]:
            spec = specs[i]
            mine = mine_of(DURATIONS, spec)
            for p in range(len(periods)):
                total, merged = 0.0, [0.0] * upto
                for s in mine:
                    found_window = windows.get((s.id, p))
                    if found_window is not None:
                        total += found_window[0]
                        merged = [a + b for a, b in zip(merged, found_window[1], strict=True)]
                out[(i, p)] = Counts(share_within(merged, spec.threshold_ms or 0.0), total)
    return out


def _hours(start: datetime, end: datetime) -> list[datetime]:
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while t < end:
        out.append(t)
        t += timedelta(hours=1)
    return out


def sli_hourly(spec: SliSpec, start: datetime, end: datetime) -> list[tuple[datetime, Counts]]:
    """Counts per hour from the hour holding ``start`` to ``end``, for charts: one read of the
    hourly tables instead of one window per hour (availability is clipped to [start, end);
    request counts are whole hours, as the hourly rollups hold them)."""
    hours = _hours(start, end)
    if not hours:
        return []
    if spec.kind == AVAILABILITY:
        periods = [(max(h, start), min(h + timedelta(hours=1), end)) for h in hours]
        service = Service.objects.filter(name=spec.service).first()
        if service is None:
            return [(h, Counts()) for h in hours]
        seconds = uptime_seconds_by_period([service], periods)
        out = []
        for i, h in enumerate(hours):
            known, down = seconds[(service.pk, i)]
            out.append((h, Counts(known - down, known)))
        return out
    metric = REQUESTS if spec.kind == SUCCESS_RATIO else DURATIONS
    series = [s for s in find_series([metric])[metric] if _route_matches(spec, s.labels)]
    per_hour: dict[datetime, Counts] = {h: Counts() for h in hours}
    if not series:
        return list(per_hour.items())
    ids = [s.id for s in series]
    with connection.cursor() as cur:
        if spec.kind == SUCCESS_RATIO:
            bad_ids = [s.id for s in series if s.labels.get("status_class") == "5xx"]
            cur.execute(
                "SELECT bucket, sum(sum), sum(sum) FILTER (WHERE series_id = ANY(%s)) "
                "FROM collectors_rollup_1h WHERE series_id = ANY(%s) AND bucket >= %s "
                "AND bucket < %s GROUP BY 1",
                [bad_ids, ids, hours[0], end],
            )
            for bucket, total, bad in cur.fetchall():
                per_hour[bucket] = Counts((total or 0.0) - (bad or 0.0), total or 0.0)
        else:
            cur.execute(
                "SELECT bucket, i, sum(c)::float8 FROM collectors_histogram_1h, "
                "unnest(counts) WITH ORDINALITY AS u(c, i) WHERE series_id = ANY(%s) "
                "AND bucket >= %s AND bucket < %s AND c <> 0 GROUP BY 1, 2",
                [ids, hours[0], end],
            )
            buckets: dict[datetime, list[float]] = {}
            for bucket, i, c in cur.fetchall():
                counts = buckets.setdefault(bucket, [0.0] * histogram.N_BUCKETS)
                counts[min(i, histogram.N_BUCKETS) - 1] += c
            for bucket, counts in buckets.items():
                per_hour[bucket] = Counts(
                    share_within(counts, spec.threshold_ms or 0.0), float(sum(counts))
                )
    return [(h, per_hour.get(h, Counts())) for h in hours]
