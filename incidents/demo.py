"""Demo incidents and deployments over the last ~30 days, so MTTR, MTBF and the DORA figures
have something to measure. Every critical alert alerts.demo derived from the stored samples
becomes an incident through the same service on-call uses (``incident_create_from_alert``),
resolved through ``incident_update`` a while after its alert cleared; so each incident is a
stretch of the data (an outage in the service's status history, its alert, its MTTR, its SLA
row). api, tracking and worker release several times a week, one release fails, one is rolled
back after the incident it caused."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from alerts.models import Alert
from incidents.models import Deployment, Incident, IncidentEvent
from incidents.services import incident_create_from_alert, incident_update


def load(*, days: int, now: datetime, rng: random.Random) -> str:
    responder = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
    with transaction.atomic():
        Incident.objects.filter(is_demo=True).delete()
        Deployment.objects.filter(is_demo=True).delete()
        made = 0
        critical = Alert.objects.filter(is_demo=True, severity="critical", fired_at__isnull=False)
        for alert in critical.select_related("rule").order_by("fired_at"):
            # Opened by on-call when they acknowledged the page (or when it fired, unseen).
            opened = alert.acknowledged_at or alert.fired_at
            incident = incident_create_from_alert(
                alert=alert, user=responder, actor_label="on-call", at=opened
            )
            Incident.objects.filter(pk=incident.pk).update(is_demo=True)
            made += 1
            if alert.resolved_at is None:
                continue  # still going on
            # People keep an incident open a while after the alert clears (verify, write up).
            resolved = alert.resolved_at + timedelta(minutes=rng.randint(10, 90))
            if resolved >= now:
                continue
            incident.refresh_from_db()
            incident_update(
                incident=incident,
                user=responder,
                actor_label="on-call",
                status=Incident.Status.RESOLVED,
                note="Cause found and fixed; see the alert timeline.",
                at=resolved,
            )
        deployed, linked = _deployments(days=days, now=now, rng=rng)
    return f"{made + linked} incidents ({made} from alerts) and {deployed} deployments over {days} days"


def _make(title, severity, service, started, acked, resolved, now, rng) -> Incident:
    status = Incident.Status.RESOLVED if resolved else Incident.Status.OPEN
    mitigated = None
    if resolved and rng.random() < 0.5:
        mitigated = started + (resolved - started) * rng.uniform(0.3, 0.8)
    incident = Incident.objects.create(
        title=title,
        severity=severity,
        service=service,
        status=status,
        started_at=started,
        acknowledged_at=acked,
        mitigated_at=mitigated,
        resolved_at=resolved,
        is_demo=True,
        summary="Demo incident."
        if resolved is None
        else "Demo incident: cause found and fixed; see timeline.",
    )
    events = [
        IncidentEvent(
            incident=incident,
            at=started,
            kind="created",
            actor_label="on-call",
            message=f"opened: {title}",
        )
    ]
    if mitigated:
        events.append(
            IncidentEvent(
                incident=incident,
                at=mitigated,
                kind="status",
                actor_label="on-call",
                message="open → mitigated",
            )
        )
    if resolved:
        events.append(
            IncidentEvent(
                incident=incident,
                at=resolved,
                kind="status",
                actor_label="on-call",
                message=("mitigated" if mitigated else "open") + " → resolved",
            )
        )
    IncidentEvent.objects.bulk_create(events)
    return incident


# Release habits per service: chance of a release on a weekday, and of a second one that day.
RELEASES = {"api": (0.8, 0.25), "tracking": (0.5, 0.0), "worker": (0.45, 0.0)}


def _deployments(*, days: int, now: datetime, rng: random.Random) -> tuple[int, int]:
    """Weekday releases for api, tracking and worker; returns (deployments, incidents added)."""
    rows: list[Deployment] = []
    versions = {service: [1, rng.randint(2, 9), 0] for service in RELEASES}
    start_day = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days + 1):
        midnight = start_day + timedelta(days=day)
        if midnight.weekday() >= 5:  # no releases at the weekend
            continue
        for service, (p_one, p_two) in RELEASES.items():
            count = (rng.random() < p_one) + (rng.random() < p_two)
            for _ in range(count):
                started = midnight + timedelta(hours=rng.uniform(9, 17))
                finished = started + timedelta(minutes=rng.uniform(3, 12))
                if finished > now - timedelta(minutes=10):
                    continue
                v = versions[service]
                v[2] += 1
                run = rng.randint(1000, 99999)
                rows.append(
                    Deployment(
                        service=service,
                        version=f"v{v[0]}.{v[1]}.{v[2]}",
                        commit_sha=f"{rng.getrandbits(160):040x}",
                        # Changes wait a few hours to a day and a half for review and merge.
                        commit_at=started - timedelta(hours=rng.uniform(1.5, 36)),
                        started_at=started,
                        finished_at=finished,
                        status=Deployment.Status.SUCCEEDED,
                        deployed_by="github-actions",
                        url=f"https://ci.penguinmails.example/{service}/actions/runs/{run}",
                        is_demo=True,
                    )
                )
    # One release still running: what the page shows while CI is mid-deploy.
    rows.append(
        Deployment(
            service="api",
            version="v1.{}.{}".format(versions["api"][1], versions["api"][2] + 1),
            commit_sha=f"{rng.getrandbits(160):040x}",
            commit_at=now - timedelta(hours=5),
            started_at=now - timedelta(minutes=4),
            status=Deployment.Status.IN_PROGRESS,
            deployed_by="github-actions",
            is_demo=True,
        )
    )
    Deployment.objects.bulk_create(rows)
    linked = 0
    finished = [d for d in rows if d.finished_at]
    by_service = {s: [d for d in finished if d.service == s] for s in RELEASES}
    # A worker release that failed its health check (never went out).
    if len(by_service["worker"]) >= 2:
        failed = by_service["worker"][len(by_service["worker"]) // 2]
        failed.status = Deployment.Status.FAILED
        failed.notes = "Health check failed on 2 of 3 pods; the old version kept serving."
        failed.save(update_fields=["status", "notes"])
    # A tracking release about nine days ago broke open tracking: incident, then rollback.
    cutoff = now - timedelta(days=min(9, days // 2))
    earlier = [d for d in by_service["tracking"] if d.finished_at <= cutoff]
    if earlier:
        bad = earlier[-1]
        bad.status = Deployment.Status.ROLLED_BACK
        bad.notes = "Rolled back: open-tracking pixel returned 502 for about an hour."
        bad.save(update_fields=["status", "notes"])
        opened = bad.finished_at + timedelta(minutes=rng.randint(8, 20))
        incident = _make(
            f"Open tracking returns 502 after {bad.version}",
            "critical",
            "tracking",
            opened,
            opened + timedelta(minutes=rng.randint(2, 6)),
            opened + timedelta(minutes=rng.randint(60, 100)),
            now,
            rng,
        )
        incident.caused_by_deployment = bad
        incident.save(update_fields=["caused_by_deployment"])
        linked += 1
    return len(rows), linked
