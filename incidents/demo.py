"""Demo incidents over the last ~30 days, so MTTR and MTBF have something to measure.
Critical demo alerts become incidents (as on-call would open them), plus a few opened by hand."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import transaction

from incidents.models import Incident, IncidentEvent

HAND_OPENED = [
    ("Campaign sends delayed for EU tenants", "warning", "smtp"),
    ("Stripe webhooks failing", "critical", "billing"),
    ("Dashboard exports timing out", "info", "web"),
    ("Bounce processing backlog", "warning", "worker"),
]


def load(*, days: int, now: datetime, rng: random.Random) -> str:
    from alerts.models import Alert

    with transaction.atomic():
        Incident.objects.filter(is_demo=True).delete()
        made = 0
        for alert in Alert.objects.filter(is_demo=True, severity="critical").order_by("fired_at"):
            resolved = alert.resolved_at
            if resolved is not None:
                # People keep an incident open a while after the alert clears (verify, write up).
                resolved += timedelta(minutes=rng.randint(10, 90))
                resolved = min(resolved, now)
            incident = _make(
                alert.message[:200],
                "critical",
                alert.service,
                alert.fired_at,
                alert.acknowledged_at,
                resolved,
                now,
                rng,
            )
            incident.alerts.add(alert)
            made += 1
        for title, severity, service in HAND_OPENED:
            start = now - timedelta(days=rng.uniform(1, days))
            end = start + timedelta(hours=rng.uniform(0.5, 8))
            _make(
                title,
                severity,
                service,
                start,
                start + timedelta(minutes=rng.randint(3, 25)),
                end if end < now else None,
                now,
                rng,
            )
            made += 1
    return f"{made} incidents over {days} days"


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
