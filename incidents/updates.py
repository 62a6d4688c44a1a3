"""Incident updates: posting one (public or internal, optionally sent to stakeholder
channels through the alerts app's transports), delivering it, and reminding an incident's
owner when an open incident has gone without an update for too long."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from alerts.channels import Notification
from alerts.models import Channel, Delivery
from alerts.notify import base_url, send_to_channel
from incidents.models import Incident, IncidentEvent, IncidentUpdate
from incidents.services import _actor, incident_update
from incidents.status_page import forget_cached_status
from penguinmon.audit import audit

log = logging.getLogger(__name__)

# What each update status does to the incident: "monitoring" means a fix is in (mitigated),
# "resolved" closes it, and investigating/identified on a mitigated incident reopens it.
STATUS_EFFECT = {
    IncidentUpdate.Status.INVESTIGATING: Incident.Status.OPEN,
    IncidentUpdate.Status.IDENTIFIED: Incident.Status.OPEN,
    IncidentUpdate.Status.MONITORING: Incident.Status.MITIGATED,
    IncidentUpdate.Status.RESOLVED: Incident.Status.RESOLVED,
}
MAX_MESSAGE = 5000


def update_post(
    *,
    incident: Incident,
    user,
    status: str,
    message: str,
    public: bool = False,
    public_title: str = "",
    channels: Sequence[Channel] = (),
    actor_label: str = "",
) -> IncidentUpdate:
    """Post an update on an open incident. A public one needs the incident's public title
    (given here the first time); ``channels`` get the update with the incident's link after
    commit. Raises ValidationError naming the field, and then writes nothing."""
    errors: dict[str, str] = {}
    message = (message or "").strip()
    public_title = (public_title or "").strip()
    if not incident.is_open:
        errors["incident"] = (
            f"incident #{incident.pk} is resolved; reopen it before posting an update"
        )
    if status not in IncidentUpdate.Status.values:
        errors["status"] = (
            f"unknown status {status!r}; use one of {', '.join(IncidentUpdate.Status.values)}"
        )
    if not message:
        errors["message"] = "an update needs a message"
    elif len(message) > MAX_MESSAGE:
        errors["message"] = f"at most {MAX_MESSAGE} characters"
    if len(public_title) > 200:
        errors["public_title"] = "at most 200 characters"
    if public and not (public_title or incident.public_title):
        errors["public_title"] = (
            "a public update needs the incident's public title (the title may name "
            "internal systems and is never shown on the status page)"
        )
    disabled = [c.name for c in channels if not c.enabled]
    if disabled:
        errors["channels"] = "disabled channel(s): " + ", ".join(disabled)
    if errors:
        raise ValidationError(errors)
    actor, label = _actor(user, actor_label)
    now = timezone.now()
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if not locked.is_open:  # resolved by someone else meanwhile
            raise ValidationError(
                {"incident": f"incident #{incident.pk} is resolved; reopen it before posting"}
            )
        update = IncidentUpdate.objects.create(
            incident=incident,
            status=status,
            message=message,
            public=public,
            author=actor,
            author_label=label,
            created_at=now,
        )
        if channels:
            update.channels.set(channels)
        fields = {"update_reminded_at": None}
        if public_title and public_title != incident.public_title:
            fields["public_title"] = public_title
            incident.public_title = public_title
        Incident.objects.filter(pk=incident.pk).update(**fields)
        incident.log(
            IncidentEvent.Kind.UPDATE,
            f"{'public' if public else 'internal'} update ({status}): {message}",
            actor=actor,
            actor_label=label,
            at=now,
        )
        target = STATUS_EFFECT[status]
        if target != incident.status:
            incident.status = locked.status
            incident_update(incident=incident, user=user, status=target, actor_label=label)
        audit(
            actor=user,
            action="incident.post_update",
            target=incident,
            actor_label=label,
            changes={
                "update": update.pk,
                "status": status,
                "public": public,
                "channels": [c.name for c in channels],
            },
        )
        if public:
            forget_cached_status()
        if channels:
            queue_update_deliveries(update.pk, [c.pk for c in channels])
    return update


def queue_update_deliveries(update_id: int, channel_ids: list[int]) -> None:
    from incidents.tasks import deliver_incident_update

    def send():
        for channel_id in channel_ids:
            deliver_incident_update.delay(update_id, channel_id)

    transaction.on_commit(send)


def note_for_update(update: IncidentUpdate) -> Notification:
    incident = update.incident
    link = f"{base_url()}/incidents/{incident.pk}/"
    visibility = "public" if update.public else "internal"
    return Notification(
        event="update",
        alert_id=None,
        title=(
            f"[Incident #{incident.pk} {update.get_status_display().upper()}] "
            f"{incident.title} ({visibility} update)"
        )[:300],
        severity=incident.severity,
        severity_label=incident.severity.upper(),
        service=incident.service,
        state=update.status,
        message=update.message,
        lines=(update.message, f"Incident: {link}"),
        url=link,
        dedup_key=f"penguinmon-incident-{incident.pk}",
        at=update.created_at.isoformat(),
    )


def update_deliver(
    *, update_id: int, channel_id: int, attempt: int = 1, recipients: list[str] | None = None
):
    """Send one update to one channel now; the outcome goes on the incident's timeline.
    Returns the alerts app's SendResult (status RETRYING: the caller retries)."""
    update = IncidentUpdate.objects.select_related("incident").get(pk=update_id)
    channel = Channel.objects.get(pk=channel_id)
    result = send_to_channel(
        channel, note_for_update(update), attempt=attempt, recipients=recipients
    )
    outcome = "sent" if result.status == Delivery.Status.SENT else result.status
    update.incident.log(
        IncidentEvent.Kind.NOTE,
        f"update #{update.pk} → {channel.name}: {outcome}"
        + (f" ({result.error[:500]})" if result.error else ""),
        actor_label="system",
    )
    return result


def reminder_minutes() -> int:
    return int(getattr(settings, "INCIDENT_UPDATE_REMINDER_MINUTES", 30))


def stale_incidents(*, now: datetime | None = None) -> list[Incident]:
    """Open incidents whose last update (or, without one, their start) is older than the
    reminder period and whose owner has not been reminded since."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=reminder_minutes())
    rows = (
        Incident.objects.exclude(status=Incident.Status.RESOLVED)
        .annotate(last_update_at=Max("updates__created_at"))
        .filter(
            Q(last_update_at__lt=cutoff) | Q(last_update_at__isnull=True, started_at__lt=cutoff)
        )
        .filter(Q(update_reminded_at__isnull=True) | Q(update_reminded_at__lt=cutoff))
        .select_related("owner", "created_by")
    )
    return list(rows)


def remind_owners(*, now: datetime | None = None) -> int:
    """Email each stale incident's owner (its creator when no owner is set) once per
    reminder period; the claim is a compare-and-set, so two beat runs never both send."""
    now = now or timezone.now()
    sent = 0
    for incident in stale_incidents(now=now):
        owner = incident.owner or incident.created_by
        claimed = (
            Incident.objects.filter(
                pk=incident.pk, update_reminded_at=incident.update_reminded_at
            ).update(update_reminded_at=now)
            == 1
        )
        if not claimed:
            continue
        minutes = reminder_minutes()
        link = f"{base_url()}/incidents/{incident.pk}/"
        if owner is None or not owner.email:
            incident.log(
                IncidentEvent.Kind.NOTE,
                f"no update for {minutes} min; no owner with an email address to remind",
                actor_label="system",
                at=now,
            )
            continue
        try:
            send_mail(
                subject=f"[PenguinMon] Incident #{incident.pk} needs an update"[:200],
                message=(
                    f"Incident #{incident.pk} ({incident.title}) is {incident.status} and has had "
                    f"no update for {minutes} minutes.\nPost one: {link}\n"
                ),
                from_email=None,
                recipient_list=[owner.email],
            )
            outcome = f"reminded {owner.get_username()} ({owner.email})"
        except Exception as exc:  # SMTP down: recorded; the next period tries again
            log.warning("reminder for incident %s failed: %s", incident.pk, exc)
            outcome = f"reminder to {owner.email} failed: {exc.__class__.__name__}: {exc}"
        incident.log(
            IncidentEvent.Kind.NOTE,
            f"no update for {minutes} min: {outcome}",
            actor_label="system",
            at=now,
        )
        sent += 1
    return sent
