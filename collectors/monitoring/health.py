"""Service health: Healthy / Degraded / Down from the latest probe results, and uptime %.

Rules (per enabled probe, then per service):
- a probe that failed ``service.down_after_failures`` times in a row is down;
- a probe that failed fewer times, answered slower than ``service.degraded_latency_ms`` or
  reported a problem while answering (yellow cluster, full pool, queue backlog) is degraded;
- a probe that never ran, or whose last result is older than three intervals, is unknown;
- the service is down when all of its known probes are down, degraded when some are down or
  any is degraded, healthy when all known probes are healthy; "stale" when it has enabled
  probes but none is known, "not monitored" when it has no enabled probe (never Healthy
  without a current result);
- while the parent service is down, a down/degraded child is marked as suppressed by it.

A probe tagged with locations is judged per location by the same rules (each location keeps
its own run of failures), then across them: down when at least k of its n locations are down
(``fail_locations_k``, per probe or per service, default 1), degraded when some are down but
fewer than k, or any is degraded. A location with no result for three intervals is "stale": it
is named in the reason and counts neither as failed nor as healthy (its worker stopped; the
target may be fine).

Uptime % over a window is the share of time not spent down, among the time whose status is
known (a gap before monitoring started, or time stale or not monitored, counts neither way). Down time inside a
maintenance window of the service (an alerts silence matching service=<name> alone, or a
whole-platform window) is planned, so it does not count as down.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from collectors.models import Health, Probe, RunResult, Service, Status, StatusChange

UPTIME_WINDOWS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


STALE = Status.STALE  # a location's status when its worker stopped reporting


@dataclass
class LocationResult:
    """One location's verdict on a probe, with the row its numbers come from."""

    location: str
    status: str  # a Status, or STALE
    reason: str
    result: RunResult


@dataclass
class ProbeVerdict:
    status: str
    reason: str
    locations: list[LocationResult]
    k: int = 1
    n: int = 1

    @property
    def failing(self) -> list[str]:
        return [r.location for r in self.locations if r.status == Status.DOWN]

    @property
    def stale(self) -> list[str]:
        return [r.location for r in self.locations if r.status == STALE]


def _result_status(
    result: RunResult, probe: Probe, service: Service, now: datetime, name: str
) -> tuple[str, str]:
    """(status, reason) of one schedule/result row, ``name`` leading the reason."""
    if result.last_run_at is None:
        return Status.UNKNOWN, f"{name}: not run yet"
    stale_after = timedelta(seconds=3 * probe.interval_seconds + probe.timeout_seconds)
    if now - result.last_run_at > stale_after:
        return (
            Status.UNKNOWN,
            f"{name}: no result since {result.last_run_at:%Y-%m-%d %H:%M} UTC",
        )
    if result.consecutive_failures >= service.down_after_failures:
        return (
            Status.DOWN,
            f"{name}: {result.consecutive_failures} failures in a row: {result.last_message}",
        )
    if result.consecutive_failures:
        return Status.DEGRADED, (
            f"{name}: failed {result.consecutive_failures} of the last "
            f"{service.down_after_failures} runs: {result.last_message}"
        )
    if result.last_degraded:
        return Status.DEGRADED, f"{name}: {result.last_message}"
    if result.last_latency_ms is not None and result.last_latency_ms > service.degraded_latency_ms:
        return Status.DEGRADED, (
            f"{name}: slow, {result.last_latency_ms:.0f} ms > {service.degraded_latency_ms:.0f} ms"
        )
    return Status.HEALTHY, f"{name}: {result.last_message}"


def probe_verdict(probe: Probe, service: Service, *, now: datetime | None = None) -> ProbeVerdict:
    """The probe's status with, for a probe tagged with locations, each location's."""
    now = now or timezone.now()
    if not probe.multi_location:
        status, reason = _result_status(probe, probe, service, now, probe.name)
        return ProbeVerdict(
            status, reason, [LocationResult(probe.run_locations[0], status, reason, probe)]
        )
    k, n = probe.k_of_n(service)
    locations = []
    for location, result in probe.results_by_location().items():
        status, reason = _result_status(result, probe, service, now, location)
        if status == Status.UNKNOWN:
            status = STALE
        locations.append(LocationResult(location, status, reason, result))
    verdict = ProbeVerdict(Status.UNKNOWN, "", locations, k, n)
    down, stale = verdict.failing, verdict.stale
    degraded = [r for r in locations if r.status == Status.DEGRADED]
    parts = []
    if len(down) >= k:
        verdict.status = Status.DOWN
        parts.append(f"down from {len(down)} of {n} locations: {', '.join(down)}")
    elif down:
        verdict.status = Status.DEGRADED
        parts.append(f"down from {len(down)} of {n} locations (down needs {k}): {', '.join(down)}")
    elif degraded:
        verdict.status = Status.DEGRADED
    elif len(stale) < n:
        verdict.status = Status.HEALTHY
        parts.append(f"ok from {n - len(stale)} of {n} locations")
    parts += [r.reason for r in locations if r.status in (Status.DOWN, Status.DEGRADED)]
    if stale:
        parts.append("stale: " + ", ".join(r.reason for r in locations if r.status == STALE))
    verdict.reason = f"{probe.name}: " + "; ".join(parts)
    return verdict


def probe_status(probe: Probe, service: Service, *, now: datetime | None = None) -> tuple[str, str]:
    """(status, reason) of one probe from its latest results (per location when tagged)."""
    verdict = probe_verdict(probe, service, now=now)
    return verdict.status, verdict.reason


def service_health(
    service: Service,
    probes: list[Probe],
    *,
    now: datetime | None = None,
    parent_status: str | None = None,
) -> Health:
    if not probes:
        return Health(Status.NOT_MONITORED, "not monitored: no enabled probe")
    per_probe = {p.pk: probe_status(p, service, now=now) for p in probes}
    statuses = [s for s, _ in per_probe.values()]
    known = [s for s in statuses if s != Status.UNKNOWN]
    problems = [r for s, r in per_probe.values() if s in (Status.DOWN, Status.DEGRADED)]
    if not known:
        # Enabled probes, but no current result from any: what we last saw is no longer news.
        status = Status.STALE
        reason = "stale: " + "; ".join(r for _, r in per_probe.values())
    elif all(s == Status.DOWN for s in known):
        status, reason = Status.DOWN, "; ".join(problems)
    elif problems:
        status, reason = Status.DEGRADED, "; ".join(problems)
    else:
        status, reason = (
            Status.HEALTHY,
            "; ".join(r for s, r in per_probe.values() if s == Status.HEALTHY),
        )
    if parent_status is None and service.parent_id:
        parent_status = service.parent.status
    suppressed = (
        service.parent.name
        if (parent_status == Status.DOWN and status in (Status.DOWN, Status.DEGRADED))
        else None
    )
    return Health(status, reason[:500], suppressed, {pk: s for pk, (s, _) in per_probe.items()})


Span = tuple[datetime, datetime]


def _merge_spans(windows, start: datetime, end: datetime) -> list[Span]:
    spans = sorted((max(w.starts_at, start), min(w.ends_at, end)) for w in windows)
    merged: list[Span] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        elif lo < hi:
            merged.append((lo, hi))
    return merged


# Planned maintenance windows are alerts' silences, and alerts sits above this app: it hands
# its reader in at start-up (AlertsConfig.ready), so nothing here imports up the stack. The
# reader is called as reader(start=, end=, service=None) and returns windows with starts_at,
# ends_at and silence.covers_service(name). Without one (alerts not installed) there is none.
MaintenanceSource = Callable[..., Sequence]
_maintenance_source: MaintenanceSource | None = None


def set_maintenance_source(source: MaintenanceSource | None) -> None:
    """Where maintenance windows come from (alerts.selectors.maintenance_windows)."""
    global _maintenance_source
    _maintenance_source = source


def maintenance_spans(service: Service, start: datetime, end: datetime) -> list[Span]:
    """Merged [from, to) spans in [start, end) when the service was in planned maintenance."""
    if _maintenance_source is None:
        return []
    return _merge_spans(_maintenance_source(start=start, end=end, service=service.name), start, end)


def maintenance_spans_by_service(
    names: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[Span]]:
    """``maintenance_spans`` for many services from one read of the windows: the same rule
    (a silence on service=<name> alone, or whole-platform) applied to each name."""
    if _maintenance_source is None:
        return {name: [] for name in names}
    windows = _maintenance_source(start=start, end=end)
    return {
        name: _merge_spans([w for w in windows if w.silence.covers_service(name)], start, end)
        for name in names
    }


def _overlap(lo: datetime, hi: datetime, spans: Sequence[Span]) -> float:
    return sum(
        max(0.0, (min(hi, b) - max(lo, a)).total_seconds()) for a, b in spans if a < hi and b > lo
    )


def uptime_pct(service: Service, window: timedelta, *, now: datetime | None = None) -> float | None:
    """% of the known time in [now - window, now) that the service was not down (outside
    maintenance)."""
    now = now or timezone.now()
    return uptime_figures([service], now - window, now)[service.pk].uptime_pct


def uptime_seconds(
    initial: str,
    changes: list[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    maintenance: Sequence[Span] = (),
) -> tuple[float, float]:
    """(known, down) seconds in [start, end) from status flips: known is time whose status
    was seen (not unknown, stale or not monitored); down time inside ``maintenance`` counts
    as up."""
    known = down = 0.0
    unseen = Status.unseen()
    status, cursor = initial, start
    for at, new_status in [*changes, (end, None)]:
        span = (at - cursor).total_seconds()
        if status not in unseen:
            known += span
            if status == Status.DOWN:
                down += span - (_overlap(cursor, at, maintenance) if maintenance else 0.0)
        status, cursor = new_status, at
    return known, down


def uptime_from_changes(
    initial: str,
    changes: list[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    maintenance: Sequence[Span] = (),
) -> float | None:
    """Uptime % from status flips; down time overlapping ``maintenance`` spans counts as up."""
    known, down = uptime_seconds(initial, changes, start, end, maintenance)
    return _pct(known, down)


def _pct(known: float, down: float) -> float | None:
    if known <= 0:
        return None
    return round(100.0 * (known - down) / known, 3)


@dataclass
class UptimeFigures:
    """A service's figures over one range, from one reading of its status history."""

    known_s: float
    down_s: float

    @property
    def uptime_pct(self) -> float | None:
        return _pct(self.known_s, self.down_s)

    @property
    def downtime_min(self) -> float | None:
        return None if self.known_s <= 0 else round(self.down_s / 60, 1)


def status_history(
    ids: list[int], start: datetime, end: datetime
) -> tuple[dict[int, str], dict[int, list[tuple[datetime, str]]]]:
    """Per service id: its status just before ``start`` (DISTINCT ON per service) and its
    changes in [start, end), oldest first: two queries whatever the number of services."""
    before = dict(
        StatusChange.objects.filter(service_id__in=ids, at__lt=start)
        .order_by("service_id", "-at")
        .distinct("service_id")
        .values_list("service_id", "new_status")
    )
    changes: dict[int, list[tuple[datetime, str]]] = {pk: [] for pk in ids}
    for service_id, at, new_status in (
        StatusChange.objects.filter(service_id__in=ids, at__gte=start, at__lt=end)
        .order_by("service_id", "at")
        .values_list("service_id", "at", "new_status")
    ):
        changes[service_id].append((at, new_status))
    return before, changes


def uptime_figures(
    services: Sequence[Service], start: datetime, end: datetime
) -> dict[int, UptimeFigures]:
    """Known and down seconds of each service over [start, end) (maintenance excluded), in
    three queries whatever the number of services. Every uptime figure shown anywhere — a
    service card, the services page, the SLA table, the platform tile — comes from here."""
    if not services:
        return {}
    before, changes = status_history([s.pk for s in services], start, end)
    maintenance = maintenance_spans_by_service([s.name for s in services], start, end)
    return {
        s.pk: UptimeFigures(
            *uptime_seconds(
                before.get(s.pk) or Status.UNKNOWN, changes[s.pk], start, end, maintenance[s.name]
            )
        )
        for s in services
    }


def platform_uptime_pct(start: datetime, end: datetime) -> float | None:
    """The platform's uptime over [start, end): of all services' known time, the share not
    down (each service weighted by how long it was seen; unmonitored ones do not count)."""
    figures = uptime_figures(list(Service.objects.all()), start, end).values()
    return _pct(sum(f.known_s for f in figures), sum(f.down_s for f in figures))


def _window_uptimes(
    before: str, changes: list[tuple[datetime, str]], maintenance: Sequence[Span], now: datetime
) -> dict[str, float | None]:
    result = {}
    for label, window in UPTIME_WINDOWS.items():
        start = now - window
        initial = before
        for at, new_status in changes:
            if at >= start:
                break
            initial = new_status
        result[label] = uptime_from_changes(
            initial, [c for c in changes if c[0] >= start], start, now, maintenance
        )
    return result


def uptimes(service: Service, *, now: datetime | None = None) -> dict[str, float | None]:
    """Uptime % over 24 h, 7 d, 30 d and 90 d, from one read of the status changes."""
    return uptimes_for([service], now=now)[service.pk]


def uptimes_for(
    services: Sequence[Service], *, now: datetime | None = None
) -> dict[int, dict[str, float | None]]:
    """``uptimes`` of many services keyed by id, in three queries whatever their number: the
    status before the longest window (DISTINCT ON per service), the changes inside it, and
    the maintenance windows (read once, matched to each service in Python)."""
    now = now or timezone.now()
    if not services:
        return {}
    longest = now - max(UPTIME_WINDOWS.values())
    before, changes = status_history([s.pk for s in services], longest, now)
    maintenance = maintenance_spans_by_service([s.name for s in services], longest, now)
    return {
        s.pk: _window_uptimes(
            before.get(s.pk) or Status.UNKNOWN, changes[s.pk], maintenance[s.name], now
        )
        for s in services
    }


def uptime_seconds_by_period(
    services: Sequence[Service], periods: Sequence[Span]
) -> dict[tuple[int, int], tuple[float, float]]:
    """``uptime_seconds`` (known, down) per (service id, period index), from one read of the
    status changes and of the maintenance windows covering all the periods: what an
    availability SLO reads for its window, its burn-rate spans and its hourly chart."""
    if not services or not periods:
        return {}
    lo, hi = min(a for a, _ in periods), max(b for _, b in periods)
    before, changes = status_history([s.pk for s in services], lo, hi)
    maintenance = maintenance_spans_by_service([s.name for s in services], lo, hi)
    out = {}
    for s in services:
        flips = changes[s.pk]
        ats = [at for at, _ in flips]
        for i, (start, end) in enumerate(periods):
            first = bisect_left(ats, start)
            initial = flips[first - 1][1] if first else (before.get(s.pk) or Status.UNKNOWN)
            inside = flips[first : bisect_left(ats, end)]
            out[(s.pk, i)] = uptime_seconds(initial, inside, start, end, maintenance[s.name])
    return out
