"""Writes on incidents: create (from an alert or by hand), change status and fields, notes.
Every change lands on the incident timeline and in the audit log. Deployments are recorded
(started, or already finished) and finished here too."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts.models import AlertEvent
from incidents.models import Deployment, Incident, IncidentEvent
from incidents.slo.selectors import service_freeze
from incidents.status_page import forget_cached_status
from penguinmon.audit import audit, field_diff, save_audited
from penguinmon.retention import cutoff, delete_in_batches

# "Leave as it is", as distinct from None ("no deployment caused it").
_UNCHANGED = object()


def _actor(user, actor_label: str) -> tuple:
    real = user if getattr(user, "is_authenticated", False) else None
    return real, actor_label or (real.get_username() if real else "system")


def incident_create(
    *,
    title: str,
    severity: str,
    user,
    service: str = "",
    summary: str = "",
    started_at=None,
    actor_label: str = "",
    caused_by_deployment: Deployment | None = None,
    at: datetime | None = None,
) -> Incident:
    """``at``: when it is opened (default now; a replay of history passes the past)."""
    at = at or timezone.now()
    incident = Incident(
        title=(title or "").strip(),
        severity=severity,
        service=service,
        summary=summary,
        started_at=started_at or at,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        owner=user if getattr(user, "is_authenticated", False) else None,
        caused_by_deployment=caused_by_deployment,
    )
    incident.full_clean(exclude=["alerts"])
    actor, label = _actor(user, actor_label)
    with transaction.atomic():
        incident.save()
        incident.log(
            IncidentEvent.Kind.CREATED,
            f"opened: {incident.title}",
            actor=actor,
            actor_label=label,
            at=at,
        )
        changes = {"title": incident.title, "severity": incident.severity}
        if caused_by_deployment is not None:
            incident.log(
                IncidentEvent.Kind.UPDATE,
                f"caused by deployment #{caused_by_deployment.pk}: "
                f"{caused_by_deployment} ({caused_by_deployment.environment})",
                actor=actor,
                actor_label=label,
                at=at,
            )
            changes["caused_by_deployment"] = caused_by_deployment.pk
        audit(
            actor=user,
            action="incident.create",
            target=incident,
            actor_label=label,
            changes=changes,
        )
    return incident


def incident_create_from_alert(
    *, alert, user, actor_label: str = "", at: datetime | None = None
) -> Incident:
    """Open an incident for an alert (or return the open one it is already linked to);
    ``at`` as in ``incident_create``."""
    existing = alert.incidents.exclude(status=Incident.Status.RESOLVED).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        incident = incident_create(
            title=alert.message[:200],
            severity=alert.severity,
            service=alert.service,
            user=user,
            summary=f"Opened from alert #{alert.pk} ({alert.rule.name}).",
            actor_label=actor_label,
            started_at=alert.fired_at or alert.started_at,
            at=at,
        )
        if alert.acknowledged_at:
            Incident.objects.filter(pk=incident.pk).update(acknowledged_at=alert.acknowledged_at)
            incident.acknowledged_at = alert.acknowledged_at
        incident.alerts.add(alert)
        actor, label = _actor(user, actor_label)
        incident.log(
            IncidentEvent.Kind.ALERT,
            f"linked alert #{alert.pk}: {alert.message}",
            actor=actor,
            actor_label=label,
            at=at,
        )
        alert.log(
            AlertEvent.Kind.INCIDENT,
            f"incident #{incident.pk} opened",
            actor=user,
            actor_label=label,
            at=at,
        )
    return incident


def _audited_fields(incident: Incident) -> dict:
    # In this order: the timeline's "changed ..." line lists the fields in it.
    fields = ("status", "title", "severity", "summary")
    return {
        "caused_by_deployment": incident.caused_by_deployment_id,
        **{f: getattr(incident, f) for f in fields},
    }


def incident_update(
    *,
    incident: Incident,
    user,
    status: str | None = None,
    title: str | None = None,
    severity: str | None = None,
    summary: str | None = None,
    note: str = "",
    actor_label: str = "",
    caused_by_deployment: Deployment | None | object = _UNCHANGED,
    at: datetime | None = None,
) -> Incident:
    """Change status (along ``Incident.TRANSITIONS``), fields, the deployment that caused the
    incident (None clears it), and/or add a note; all on the timeline, changes audited.
    ``at``: when the change happened (default now; a replay of history passes the past)."""
    actor, label = _actor(user, actor_label)
    now = at or timezone.now()
    before = _audited_fields(incident)
    if caused_by_deployment is not _UNCHANGED:
        incident.caused_by_deployment = caused_by_deployment
    if status is not None and status != incident.status:
        if status not in Incident.Status.values:
            raise ValidationError({"status": f"unknown status {status!r}"})
        if status not in Incident.TRANSITIONS[incident.status]:
            raise ValidationError({"status": f"cannot go from {incident.status} to {status}"})
        incident.status = status
        if status == Incident.Status.MITIGATED:
            incident.mitigated_at = now
        elif status == Incident.Status.RESOLVED:
            incident.resolved_at = now
        else:
            incident.resolved_at = None
        if incident.acknowledged_at is None:
            incident.acknowledged_at = now  # any status change means a person is on it
    for field, value in (("title", title), ("severity", severity), ("summary", summary)):
        if value is not None:
            setattr(incident, field, value)
    changes = field_diff(before, _audited_fields(incident))
    note = (note or "").strip()
    if not changes and not note:
        return incident
    incident.full_clean(exclude=["alerts"])
    with transaction.atomic():
        save_audited(
            incident,
            diff=changes,
            actor=user,
            action="incident.update",
            actor_label=label,
            comment=note,
        )
        if "status" in changes:
            incident.log(
                IncidentEvent.Kind.STATUS,
                f"{changes['status']['from']} → {changes['status']['to']}",
                actor=actor,
                actor_label=label,
                at=now,
            )
        other = [k for k in changes if k != "status"]
        if other:
            incident.log(
                IncidentEvent.Kind.UPDATE,
                "changed " + ", ".join(other),
                actor=actor,
                actor_label=label,
                at=now,
            )
        if note:
            incident.log(IncidentEvent.Kind.NOTE, note, actor=actor, actor_label=label, at=now)
        if "status" in changes:
            forget_cached_status()  # the status page shows open and resolved ones differently
    return incident


def deployment_record(
    *,
    service: str,
    user,
    environment: str = "production",
    version: str = "",
    commit_sha: str = "",
    commit_at=None,
    started_at=None,
    finished_at=None,
    status: str = Deployment.Status.IN_PROGRESS,
    deployed_by: str = "",
    url: str = "",
    notes: str = "",
    actor_label: str = "",
) -> Deployment:
    """A CI pipeline reports a deployment: starting now (status in_progress), or one already
    over (a finished status; finished_at defaults to now). Raises ValidationError on bad input
    and then saves nothing."""
    if status not in Deployment.Status.values:
        raise ValidationError(
            {
                "status": f"unknown status {status!r}; use one of {', '.join(Deployment.Status.values)}"
            }
        )
    now = timezone.now()
    if status in Deployment.FINISHED and finished_at is None:
        finished_at = now
    real, label = _actor(user, actor_label)
    deployment = Deployment(
        service=(service or "").strip(),
        environment=(environment or "").strip(),
        version=(version or "").strip(),
        commit_sha=(commit_sha or "").strip().lower(),
        commit_at=commit_at,
        started_at=started_at or now,
        finished_at=finished_at,
        status=status,
        # Default: the account the pipeline's token belongs to (not the token prefix).
        deployed_by=(deployed_by or "").strip() or (real.get_username() if real else label),
        url=(url or "").strip(),
        notes=notes or "",
    )
    deployment.full_clean()
    # Accepted either way: the freeze is a policy for people, the flag makes it reviewable.
    deployment.during_freeze = service_freeze(deployment.service).frozen
    deployment.save()
    return deployment


def deployment_finish(
    *,
    deployment: Deployment,
    status: str,
    user,
    finished_at=None,
    notes: str | None = None,
    actor_label: str = "",
) -> Deployment:
    """Close a running deployment (succeeded / failed / rolled_back), or mark one that went out
    as rolled back later. Raises ValidationError for a status change that cannot happen."""
    if status not in Deployment.Status.values:
        raise ValidationError(
            {
                "status": f"unknown status {status!r}; use one of {', '.join(Deployment.Status.values)}"
            }
        )
    if status not in Deployment.TRANSITIONS[deployment.status]:
        allowed = ", ".join(sorted(Deployment.TRANSITIONS[deployment.status])) or "nothing"
        raise ValidationError(
            {"status": f"cannot go from {deployment.status} to {status} (allowed: {allowed})"}
        )
    before = {
        "status": deployment.status,
        "finished_at": deployment.finished_at,
        "notes": deployment.notes,
    }
    deployment.status = status
    # A rollback of a deployment that had finished keeps the time it went out: lead time and
    # duration are about that release; the rollback time goes in the notes.
    if deployment.finished_at is None or finished_at is not None:
        deployment.finished_at = finished_at or timezone.now()
    if notes is not None and notes.strip():
        deployment.notes = (deployment.notes + "\n" + notes.strip()).strip()
    try:
        deployment.full_clean()
    except ValidationError:
        for field, value in before.items():
            setattr(deployment, field, value)
        raise
    _, label = _actor(user, actor_label)
    with transaction.atomic():
        deployment.save()
        audit(
            actor=user,
            action="deployment.finish",
            target=deployment,
            actor_label=label,
            changes={
                "status": {"from": before["status"], "to": status},
                "finished_at": {
                    "from": str(before["finished_at"]) if before["finished_at"] else None,
                    "to": str(deployment.finished_at),
                },
            },
        )
    return deployment


def prune_history(*, now: datetime | None = None) -> dict[str, int]:
    """Deployments older than ``RETENTION_DEPLOYMENTS_DAYS``, except those an incident names
    as its cause. Incidents themselves (postmortems, timelines) are records and are kept."""
    old = Deployment.objects.filter(
        created_at__lt=cutoff(settings.RETENTION_DEPLOYMENTS_DAYS, now),
        caused_incidents__isnull=True,
    )
    return {"deployments": delete_in_batches(old)}
