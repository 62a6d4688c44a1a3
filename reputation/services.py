"""Writes of the reputation app: check runs, sender-DNS checks, rotation, retention.

The rotation webhook is always signed, Stripe-style: the request carries
``X-PenguinMon-Timestamp: <unix seconds>`` and ``X-PenguinMon-Signature: sha256=<hex>``, the
HMAC-SHA256 with REPUTATION_ROTATION_WEBHOOK_SECRET of ``"{timestamp}.{body}"`` (the header's
digits, a dot, the exact body bytes). Receivers recompute it, compare in constant time and
refuse a timestamp more than a few minutes from their clock, so a captured call cannot be
replayed. With a URL but no secret the webhook is not called at all.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from collectors.store import write_samples
from penguinmon.audit import audit
from penguinmon.redact import mask_secrets, secret_values
from penguinmon.webhooks import signed_headers
from reputation import conf, dnsbl, sender_dns
from reputation.models import (
    BlocklistZone,
    CheckRun,
    Listing,
    ListingCheck,
    ReputationSnapshot,
    RotationEvent,
    SendingDomain,
    SendingIP,
)
from reputation.scoring import sending_rates

log = logging.getLogger(__name__)


@dataclass
class CheckRunSummary:
    ips: int
    domains: int
    lookups: int
    listed: int
    unknown: int
    newly_listed: list[str]
    delisted: list[str]
    duration_s: float
    skipped_zones: list[str] = field(default_factory=list)  # misconfigured: not looked up

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.lookups} look-ups for {self.ips} IPs and {self.domains} domains in "
            f"{self.duration_s:.1f} s: {self.listed} listed, {self.unknown} unknown"
            + (
                f"; zones skipped (bad config): {', '.join(self.skipped_zones)}"
                if self.skipped_zones
                else ""
            )
        )


def _spec(zone: BlocklistZone) -> dnsbl.ZoneSpec:
    return dnsbl.ZoneSpec(
        key=zone.zone,
        query_zone=zone.query_zone(),
        kind=zone.kind,
        return_codes=zone.return_codes or {},
        error_codes=zone.error_codes or {},
        bitmask=zone.bitmask_codes,
    )


def run_reputation_check(
    *,
    ip_ids: list[int] | None = None,
    domain_ids: list[int] | None = None,
    now: datetime | None = None,
) -> CheckRunSummary:
    """Look up IPs (all, or ``ip_ids``) on the enabled IP zones and domains on the domain
    zones, all concurrently; record every result, open and close listings, score the IPs and
    write ip_reputation_score / ip_listed_major to the metric store for the alert rules.

    With only ``ip_ids`` given, no domains are checked (and vice versa)."""
    started = time.perf_counter()
    now = now or timezone.now()
    ips_qs = SendingIP.objects.all()
    domains_qs = SendingDomain.objects.all()
    if ip_ids is not None or domain_ids is not None:
        ips_qs = ips_qs.filter(pk__in=ip_ids or [])
        domains_qs = domains_qs.filter(pk__in=domain_ids or [])
    ips, domains = list(ips_qs), list(domains_qs)
    zones, skipped = [], []
    for zone in BlocklistZone.objects.filter(enabled=True):
        problems = zone.config_problems()
        if problems:
            # One zone with a broken answer table (saved before admin checked it) must not
            # stop the look-ups on every other list.
            log.error("blocklist zone %s skipped: %s", zone.zone, problems)
            skipped.append(zone.zone)
        else:
            zones.append(zone)
    specs = {z.pk: _spec(z) for z in zones}

    owners: list[tuple[SendingIP | SendingDomain, BlocklistZone]] = []
    pairs: list[tuple[str, dnsbl.ZoneSpec]] = []
    for zone in zones:
        targets = ips if zone.kind == BlocklistZone.Kind.IP else domains
        for target in targets:
            owners.append((target, zone))
            pairs.append(
                (target.address if isinstance(target, SendingIP) else target.domain, specs[zone.pk])
            )

    results = dnsbl.check(
        pairs,
        resolver=conf.resolver(),
        timeout=conf.dns_timeout(),
        concurrency=conf.dns_concurrency(),
    )
    rates = sending_rates([ip.address for ip in ips], now=now) if ips else {}

    newly_listed, delisted = [], []
    with transaction.atomic():
        ListingCheck.objects.bulk_create(
            ListingCheck(
                checked_at=now,
                ip=target if isinstance(target, SendingIP) else None,
                domain=target if isinstance(target, SendingDomain) else None,
                zone=zone,
                result=res.result,
                codes=res.codes,
                meanings=res.meanings,
                reason=res.reason[:2000],
                detail=res.detail[:300],
                duration_ms=res.duration_ms,
            )
            for (target, zone), res in zip(owners, results, strict=True)
        )
        open_listings = {
            (lst.ip_id, lst.domain_id, lst.zone_id): lst
            for lst in Listing.objects.select_for_update().filter(
                delisted_at__isnull=True, zone__in=zones
            )
        }
        for (target, zone), res in zip(owners, results, strict=True):
            is_ip = isinstance(target, SendingIP)
            key = (target.pk if is_ip else None, None if is_ip else target.pk, zone.pk)
            current = open_listings.get(key)
            label = f"{res.target} on {zone.zone}"
            if res.result == dnsbl.LISTED:
                if current is None:
                    open_listings[key] = Listing.objects.create(
                        ip=target if is_ip else None,
                        domain=None if is_ip else target,
                        zone=zone,
                        listed_at=now,
                        last_seen_at=now,
                        codes=res.codes,
                        meanings=res.meanings,
                        reason=res.reason[:2000],
                    )
                    newly_listed.append(label)
                else:
                    current.last_seen_at, current.codes, current.meanings = (
                        now,
                        res.codes,
                        res.meanings,
                    )
                    current.reason = res.reason[:2000] or current.reason
                    current.save(update_fields=["last_seen_at", "codes", "meanings", "reason"])
            elif res.result == dnsbl.CLEAN and current is not None:
                current.delisted_at = now
                current.save(update_fields=["delisted_at"])
                del open_listings[key]
                delisted.append(label)
            # unknown: we learned nothing, so an open listing stays open and none is opened.

        zones_by_pk = {z.pk: z for z in BlocklistZone.objects.all()}
        listed_by_ip: dict[int, list[tuple[str, int, bool]]] = {ip.pk: [] for ip in ips}
        for (ip_id, _, zone_id), _lst in open_listings.items():
            if ip_id in listed_by_ip:
                z = zones_by_pk[zone_id]
                listed_by_ip[ip_id].append((z.zone, z.weight, z.major))
        snapshots, metrics = [], []
        for ip in ips:
            bounce, complaint = rates.get(ip.address, (None, None))
            snapshot = ReputationSnapshot.scored(
                ip=ip,
                taken_at=now,
                listings=listed_by_ip[ip.pk],
                bounce_rate_pct=bounce,
                complaint_rate_pct=complaint,
            )
            snapshots.append(snapshot)
            metrics += [
                {
                    "metric": "ip_reputation_score",
                    "labels": {"ip": ip.address},
                    "value": snapshot.score,
                    "ts": now,
                },
                {
                    "metric": "ip_listed_major",
                    "labels": {"ip": ip.address},
                    "value": float(snapshot.major_listed),
                    "ts": now,
                },
            ]
        ReputationSnapshot.objects.bulk_create(snapshots)
        SendingIP.objects.bulk_update(ips, ["last_score", "status", "last_checked_at"])

    # The metric store only takes recent samples; a back-dated run (a re-check of history)
    # records its results but leaves the live series alone.
    if metrics and now >= timezone.now() - timedelta(days=settings.RETENTION_RAW_DAYS):
        write_samples(metrics, source="reputation")
    summary = CheckRunSummary(
        ips=len(ips),
        domains=len(domains),
        lookups=len(results),
        listed=sum(r.result == dnsbl.LISTED for r in results),
        unknown=sum(r.result == dnsbl.UNKNOWN for r in results),
        newly_listed=newly_listed,
        delisted=delisted,
        duration_s=round(time.perf_counter() - started, 3),
        skipped_zones=skipped,
    )
    log.info("reputation check: %s", summary)
    return summary


def check_sender_dns(*, domain_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Fetch and evaluate SPF, DKIM and DMARC of the sending domains; returns how many."""
    now = now or timezone.now()
    qs = SendingDomain.objects.all()
    if domain_ids is not None:
        qs = qs.filter(pk__in=domain_ids)
    resolver, timeout = conf.resolver(), conf.dns_timeout()
    count = 0
    for domain in qs:
        report = sender_dns.check_domain(
            domain.domain, domain.selectors(), resolver=resolver, timeout=timeout
        )
        domain.spf_status, domain.spf_record, domain.spf_findings = (
            report.spf.status,
            report.spf.record,
            report.spf.findings,
        )
        domain.dmarc_status, domain.dmarc_record, domain.dmarc_findings = (
            report.dmarc.status,
            report.dmarc.record,
            report.dmarc.findings,
        )
        domain.dkim_status = report.dkim_status
        domain.dkim_results = [
            {"selector": s, "status": c.status, "record": c.record, "findings": c.findings}
            for s, c in report.dkim.items()
        ] or [
            {
                "selector": "",
                "status": "missing",
                "record": "",
                "findings": ["No DKIM selectors configured for this domain."],
            }
        ]
        domain.checked_at = now
        domain.save()
        count += 1
    return count


# --- queued checks ----------------------------------------------------------------------------


class QueueUnavailable(Exception):
    """The check could not be queued (Redis, the Celery broker, is unreachable)."""


def queue_check(*, ip_ids: list[int] | None = None, requested_by: str) -> CheckRun:
    """Record a check run and hand it to a worker; returns the queued run.

    A whole-fleet check takes as long as the slowest of thousands of look-ups, too long for a
    web request. The run row is committed before publishing so the worker always finds it; if
    publishing fails the row is deleted again and QueueUnavailable raised: nothing is left
    half-written."""
    from kombu.exceptions import OperationalError

    from reputation.tasks import check_reputation

    run = CheckRun.objects.create(
        requested_by=requested_by[:200], ip_ids=ip_ids or [], task_id=str(uuid.uuid4())
    )
    try:
        # A connection of its own and no publish retries: with the broker down the user hears
        # so now, not after a minute of retrying a pooled connection.
        with check_reputation.app.connection_for_write() as connection:
            check_reputation.apply_async(
                kwargs={"ip_ids": ip_ids, "run_id": run.pk},
                task_id=run.task_id,
                connection=connection,
                retry=False,
            )
    except (OperationalError, OSError) as exc:
        run.delete()
        raise QueueUnavailable(
            f"the check could not be queued: the task queue (Redis) is unreachable ({exc})"
        ) from exc
    return run


def run_queued_check(*, run_id: int | None, ip_ids: list[int] | None) -> dict:
    """What the worker does for a run: the look-ups (and, for a full run, sender DNS), with
    the run's status, times and summary recorded on its row."""
    started = timezone.now()
    if run_id is not None:
        CheckRun.objects.filter(pk=run_id).update(
            status=CheckRun.Status.RUNNING, started_at=started
        )
    try:
        summary = run_reputation_check(ip_ids=ip_ids).as_dict()
        if ip_ids is None:
            summary["sender_domains"] = check_sender_dns()
    except Exception as exc:
        if run_id is not None:
            CheckRun.objects.filter(pk=run_id).update(
                status=CheckRun.Status.FAILED,
                finished_at=timezone.now(),
                error=f"{exc.__class__.__name__}: {exc}"[:500],
            )
        raise
    if run_id is not None:
        CheckRun.objects.filter(pk=run_id).update(
            status=CheckRun.Status.DONE, finished_at=timezone.now(), summary=summary
        )
    return summary


def skip_queued_check(run_id: int | None) -> None:
    """Another full run holds the lock: this one is recorded as skipped, not left queued."""
    if run_id is not None:
        CheckRun.objects.filter(pk=run_id).update(
            status=CheckRun.Status.SKIPPED,
            finished_at=timezone.now(),
            error="another full check was already running",
        )


# --- rotation ---------------------------------------------------------------------------------


class RotationRefused(Exception):
    """The rotation cannot happen; the message says why, in words for the user."""


def backup_candidates(ip: SendingIP):
    """Backup-pool IPs of the same provider that may take over: inactive, not on a major list,
    best score first."""
    majors_listed = Listing.objects.filter(delisted_at__isnull=True, zone__major=True).values(
        "ip_id"
    )
    return (
        SendingIP.objects.filter(
            provider__iexact=ip.provider, pool=SendingIP.Pool.BACKUP, active=False
        )
        .exclude(pk=ip.pk)
        .exclude(pk__in=majors_listed)
        .order_by("-last_score", "address")
    )


def _call_webhook(event: RotationEvent, payload: dict) -> None:
    url = conf.rotation_webhook_url()
    event.webhook_url = url
    if not url:
        event.webhook_error = "no rotation webhook configured (REPUTATION_ROTATION_WEBHOOK_URL)"
        return
    secret = conf.rotation_webhook_secret()
    if not secret:
        # An unsigned call would let anyone who can reach the receiver move traffic: refuse it.
        event.webhook_error = (
            "webhook not called: REPUTATION_ROTATION_WEBHOOK_SECRET is not set, and the "
            "rotation webhook is only ever called signed"
        )
        return
    body = json.dumps(payload, sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PenguinMon reputation",
        # Signed like the alert webhook, so a captured call cannot flip the IPs again later.
        **signed_headers(secret, body, timestamp),
    }
    try:
        resp = requests.post(
            url, data=body, headers=headers, timeout=conf.rotation_webhook_timeout()
        )
    except requests.RequestException as exc:
        # The IP page shows the error; the URL's path and query may carry the receiver's key.
        error = f"{exc.__class__.__name__}: {exc}"
        event.webhook_error = mask_secrets(error, secret_values({"url": url}))[:500]
        return
    event.webhook_status = resp.status_code
    event.webhook_response = resp.text[:2000]
    if not 200 <= resp.status_code < 300:
        event.webhook_error = f"webhook answered HTTP {resp.status_code}"


def rotate_to_backup(*, ip: SendingIP, actor, reason: str, actor_label: str = "") -> RotationEvent:
    """Take ``ip`` out of service and bring in the best backup IP of the same provider.

    The swap is one transaction (the backup takes over the rotated IP's pool, the rotated IP
    goes to the backup pool, inactive); then the signed webhook tells the sending
    infrastructure, outside the transaction so no lock is held during HTTP. Its answer is
    recorded on the event (without a secret the webhook is not called and the event says so).
    Raises RotationRefused with a user-facing message.

    The webhook request carries ``X-PenguinMon-Timestamp: <unix seconds>`` and
    ``X-PenguinMon-Signature: sha256=<hex>``, the HMAC-SHA256 with
    REPUTATION_ROTATION_WEBHOOK_SECRET of ``"{timestamp}.{body}"``; receivers should refuse a
    timestamp more than a few minutes old."""
    reason = (reason or "").strip()
    if not reason:
        raise RotationRefused("Give a reason for the rotation; it is recorded with your name.")
    label = actor_label or (
        actor.get_username() if getattr(actor, "is_authenticated", False) else "system"
    )
    with transaction.atomic():
        ip = SendingIP.objects.select_for_update().get(pk=ip.pk)
        if not ip.active:
            raise RotationRefused(
                f"{ip.address} is not active; there is no traffic to rotate away from it."
            )
        backup = backup_candidates(ip).select_for_update(skip_locked=True).first()
        if backup is None:
            raise RotationRefused(
                f"No backup IP available for {ip.provider}: the backup pool has no inactive "
                f"{ip.provider} IP that is clean on the major lists. Add one under Admin → Sending IPs."
            )
        old_pool = ip.pool
        ip.active, ip.pool = False, SendingIP.Pool.BACKUP
        backup.active, backup.pool = True, old_pool
        ip.save(update_fields=["active", "pool"])
        backup.save(update_fields=["active", "pool"])
        event = RotationEvent.objects.create(
            from_ip=ip,
            to_ip=backup,
            from_address=ip.address,
            to_address=backup.address,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            actor_label=label,
            reason=reason,
        )
        audit(
            actor=actor,
            action="reputation.rotate",
            target=ip,
            changes={
                "active": {"from": True, "to": False},
                "replaced_by": backup.address,
                "pool": old_pool,
            },
            comment=reason,
            actor_label=label,
        )
    payload = {
        "event": "ip_rotation",
        "id": event.pk,
        "at": event.created_at.isoformat(),
        "provider": ip.provider,
        "pool": old_pool,
        "from_ip": ip.address,
        "to_ip": backup.address,
        "reason": reason,
        "actor": label,
    }
    _call_webhook(event, payload)
    event.save(update_fields=["webhook_url", "webhook_status", "webhook_response", "webhook_error"])
    return event


# --- retention --------------------------------------------------------------------------------


def prune_history(*, now: datetime | None = None) -> dict[str, int]:
    """Delete check results, snapshots, closed listings, check runs and rotations older than
    the retention (REPUTATION_HISTORY_DAYS, 90 d)."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.history_days())
    deleted = {
        "checks": ListingCheck.objects.filter(checked_at__lt=cutoff).delete()[0],
        "snapshots": ReputationSnapshot.objects.filter(taken_at__lt=cutoff).delete()[0],
        "listings": Listing.objects.filter(delisted_at__lt=cutoff).delete()[0],
        "check_runs": CheckRun.objects.filter(requested_at__lt=cutoff).delete()[0],
        "rotations": RotationEvent.objects.filter(created_at__lt=cutoff).delete()[0],
    }
    return deleted
