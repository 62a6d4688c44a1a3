"""Reads of the reputation app, for pages, the API and the infrastructure dashboard."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, Q
from django.utils import timezone

from penguinmon.spreadsheets import cell_text
from reputation.models import (
    CheckRun,
    Listing,
    ListingCheck,
    ReputationSnapshot,
    RotationEvent,
    SendingDomain,
    SendingIP,
)

SORT_KEYS = {
    "ip": lambda r: r["_ip_sort"],
    "provider": lambda r: (r["provider"].lower(), r["_ip_sort"]),
    "pool": lambda r: (r["pool"], r["_ip_sort"]),
    # unchecked IPs (score None) sort after the worst score
    "score": lambda r: (r["score"] is None, r["score"] if r["score"] is not None else 0),
    "blocklists": lambda r: (len(r["blocklists"]), r["blocklists"]),
    "daily_volume": lambda r: r["daily_volume"],
    "status": lambda r: (
        {"critical": 0, "warning": 1, "good": 2}.get(r["status"], 3),
        r["_ip_sort"],
    ),
    "last_checked": lambda r: r["last_checked"] or datetime.min.replace(tzinfo=UTC),
}
STATUSES = [s for s, _ in SendingIP.Status.choices]


def _ip_sort_key(address: str) -> tuple:
    import ipaddress

    ip = ipaddress.ip_address(address)
    return (ip.version, int(ip))


def ip_reputation_table(
    *,
    sort: str = "score",
    descending: bool = False,
    provider: str | None = None,
    pool: str | None = None,
    status: str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> list[dict]:
    """One row per sending IP: ip, provider, pool, score, blocklists (zone names it is on
    now), daily_volume, status, active, last_checked (plus id and major_listed). Worst score
    first by default. Unknown sort keys fall back to score; filters are exact, q is a
    substring of the address or provider."""
    qs = SendingIP.objects.prefetch_related(
        Prefetch(
            "listings",
            queryset=Listing.objects.filter(delisted_at__isnull=True).select_related("zone"),
            to_attr="current_listings",
        )
    )
    if provider:
        qs = qs.filter(provider__iexact=provider)
    if pool:
        qs = qs.filter(pool=pool)
    if status:
        qs = qs.filter(status=status)
    if active is not None:
        qs = qs.filter(active=active)
    if q:
        qs = qs.filter(Q(address__icontains=q.strip()) | Q(provider__icontains=q.strip()))
    rows = []
    for ip in qs:
        listings = sorted(ip.current_listings, key=lambda lst: (not lst.zone.major, lst.zone.name))
        rows.append(
            {
                "id": ip.pk,
                "ip": ip.address,
                "provider": ip.provider,
                "pool": ip.pool,
                "score": ip.last_score,
                "blocklists": [lst.zone.name for lst in listings],
                "major_listed": any(lst.zone.major for lst in listings),
                "daily_volume": ip.daily_volume,
                "status": ip.status,
                "active": ip.active,
                "last_checked": ip.last_checked_at,
                "_ip_sort": _ip_sort_key(ip.address),
            }
        )
    rows.sort(key=SORT_KEYS.get(sort, SORT_KEYS["score"]), reverse=descending)
    for row in rows:
        del row["_ip_sort"]
    return rows


def providers() -> list[str]:
    return sorted(set(SendingIP.objects.values_list("provider", flat=True)), key=str.lower)


def sending_domains() -> list[SendingDomain]:
    """Every sending domain with its open blocklist listings (``open_listings_now``, zone
    loaded), in two queries whatever the number of domains."""
    return list(
        SendingDomain.objects.prefetch_related(
            Prefetch(
                "listings",
                queryset=Listing.objects.filter(delisted_at__isnull=True).select_related("zone"),
                to_attr="open_listings_now",
            )
        )
    )


# The badge colour of a check run's status on the page.
RUN_BADGES = {
    CheckRun.Status.QUEUED: "status-unknown",
    CheckRun.Status.RUNNING: "status-degraded",
    CheckRun.Status.DONE: "status-healthy",
    CheckRun.Status.SKIPPED: "status-unknown",
    CheckRun.Status.FAILED: "status-critical",
}


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _run_summary_text(summary: dict) -> str:
    """A finished run's summary in words: "12 look-ups for 3 IPs and 1 domain in 0.4 s: 1 listed,
    0 unknown; newly listed: 192.0.2.1"."""
    if not summary:
        return ""
    text = (
        f"{_count(summary.get('lookups', 0), 'look-up')} for "
        f"{_count(summary.get('ips', 0), 'IP')} and {_count(summary.get('domains', 0), 'domain')} "
        f"in {summary.get('duration_s', 0):.1f} s: "
        f"{summary.get('listed', 0)} listed, {summary.get('unknown', 0)} unknown"
    )
    if summary.get("newly_listed"):
        text += "; newly listed: " + ", ".join(summary["newly_listed"])
    if summary.get("delisted"):
        text += "; delisted: " + ", ".join(summary["delisted"])
    return text


def recent_check_runs(*, limit: int = 5) -> list[CheckRun]:
    """The newest check runs asked for from the page or the API, queued and running ones
    included, each with ``badge`` (CSS class of its status), ``scope`` ("all IPs and
    domains" or "N IPs") and ``summary_text`` set for the page."""
    runs = list(CheckRun.objects.order_by("-requested_at", "-id")[:limit])
    for run in runs:
        run.badge = RUN_BADGES.get(run.status, "status-unknown")
        count = len(run.ip_ids or [])
        run.scope = _count(count, "IP") if count else "all IPs and domains"
        run.summary_text = _run_summary_text(run.summary or {})
    return runs


def score_history(
    ip: SendingIP, *, days: int = 30, now: datetime | None = None
) -> list[ReputationSnapshot]:
    since = (now or timezone.now()) - timedelta(days=days)
    return list(ip.snapshots.filter(taken_at__gte=since).order_by("taken_at"))


def listings_for(ip: SendingIP, *, days: int = 90) -> list[Listing]:
    """Open listings first, then the ones closed within ``days``."""
    since = timezone.now() - timedelta(days=days)
    qs = ip.listings.select_related("zone").filter(
        Q(delisted_at__isnull=True) | Q(delisted_at__gte=since)
    )
    return sorted(
        qs,
        key=lambda lst: (
            lst.delisted_at is not None,
            not lst.zone.major,
            -lst.listed_at.timestamp(),
        ),
    )


def latest_checks(ip: SendingIP) -> list[ListingCheck]:
    """The most recent result for each zone."""
    checks = ip.checks.select_related("zone").order_by("zone_id", "-checked_at").distinct("zone_id")
    return sorted(checks, key=lambda c: (not c.zone.major, c.zone.name))


def rotations_for(ip: SendingIP, *, limit: int = 20) -> list[RotationEvent]:
    return list(RotationEvent.objects.filter(Q(from_ip=ip) | Q(to_ip=ip))[:limit])


def history_csv(ip: SendingIP, *, days: int = 90) -> str:
    """The IP's reputation history: one row per check run (score and status) followed by
    one row per listing period."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "ip",
            "taken_at",
            "score",
            "status",
            "blocklists",
            "major_listed",
            "bounce_rate_pct",
            "complaint_rate_pct",
        ]
    )
    since = timezone.now() - timedelta(days=days)
    for snap in ip.snapshots.filter(taken_at__gte=since).order_by("taken_at"):
        writer.writerow(
            [
                ip.address,
                snap.taken_at.isoformat(),
                snap.score,
                snap.status,
                cell_text(", ".join(snap.listed_zones)),
                "yes" if snap.major_listed else "no",
                "" if snap.bounce_rate_pct is None else f"{snap.bounce_rate_pct:.3f}",
                "" if snap.complaint_rate_pct is None else f"{snap.complaint_rate_pct:.3f}",
            ]
        )
    writer.writerow([])
    writer.writerow(["ip", "zone", "listed_at", "delisted_at", "codes", "meaning", "reason"])
    for lst in listings_for(ip, days=days):
        writer.writerow(
            [
                ip.address,
                lst.zone.zone,
                lst.listed_at.isoformat(),
                lst.delisted_at.isoformat() if lst.delisted_at else "",
                cell_text(" ".join(lst.codes)),
                cell_text("; ".join(lst.meanings)),
                cell_text(lst.reason),
            ]
        )
    return out.getvalue()
