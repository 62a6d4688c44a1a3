"""Writes on alerts made by people: acknowledge, notes, false-positive marks, silences.

Each service validates, writes and records its side effects (timeline, audit log,
notifications) in one transaction; views, the API and admin actions only call these.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts import notify
from alerts.models import Alert, AlertEvent, Delivery, OutboxMessage, Silence
from penguinmon.audit import audit, field_diff, save_audited
from penguinmon.retention import cutoff, delete_in_batches


class AlertActionError(Exception):
    """The action cannot be applied to this alert in its current state (a 409 / form error)."""


def alert_acknowledge(*, alert: Alert, user, actor_label: str = "", comment: str = "") -> Alert:
    """firing → acknowledged. Evaluation continues; repeats and escalation stop until recovery."""
    if alert.state == Alert.State.ACKNOWLEDGED:
        who = alert.acknowledged_by.get_username() if alert.acknowledged_by else "someone"
        raise AlertActionError(
            f"already acknowledged by {who} at {alert.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if not alert.can_transition(Alert.State.ACKNOWLEDGED):
        raise AlertActionError(f"a {alert.state} alert cannot be acknowledged")
    with transaction.atomic():
        if not alert.transition(
            Alert.State.ACKNOWLEDGED, actor=user, actor_label=actor_label, message=comment
        ):
            raise AlertActionError("the alert changed meanwhile; reload and try again")
        audit(
            actor=user,
            action="alert.acknowledge",
            target=alert,
            actor_label=actor_label,
            changes={"state": {"from": Alert.State.FIRING, "to": Alert.State.ACKNOWLEDGED}},
            comment=comment,
        )
        notify.on_transition(alert, "acknowledge")
    return alert


def alert_add_note(*, alert: Alert, user, text: str, actor_label: str = "") -> AlertEvent:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "a note needs some text"})
    if len(text) > 5000:
        raise ValidationError({"text": "keep notes under 5,000 characters"})
    return alert.log(AlertEvent.Kind.NOTE, text, actor=user, actor_label=actor_label)


def alert_mark_false_positive(
    *, alert: Alert, user, false_positive: bool = True, actor_label: str = "", comment: str = ""
) -> Alert:
    """Feeds calibration: how often a rule fired for nothing."""
    if alert.fired_at is None:
        raise AlertActionError("only an alert that fired can be marked a false positive")
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(false_positive=false_positive)
        alert.false_positive = false_positive
        word = "marked a false positive" if false_positive else "false-positive mark removed"
        alert.log(
            AlertEvent.Kind.FALSE_POSITIVE,
            word + (f": {comment}" if comment else ""),
            actor=user,
            actor_label=actor_label,
        )
        audit(
            actor=user,
            action="alert.false_positive",
            target=alert,
            actor_label=actor_label,
            changes={"false_positive": {"from": not false_positive, "to": false_positive}},
            comment=comment,
        )
    return alert


SILENCE_FIELDS = (
    "matchers",
    "everything",
    "starts_at",
    "ends_at",
    "repeat",
    "weekdays",
    "local_start",
    "duration_minutes",
    "timezone",
    "comment",
)


def _silence_snapshot(silence: Silence) -> dict:
    return {f: _plain(getattr(silence, f)) for f in SILENCE_FIELDS}


def _plain(value):
    return value if isinstance(value, (str, int, bool, list, dict)) or value is None else str(value)


def silence_create(
    *,
    matchers: dict,
    comment: str,
    user,
    ends_at: datetime | None = None,
    starts_at: datetime | None = None,
    actor_label: str = "",
    **schedule,
) -> Silence:
    """A one-off silence (``ends_at``) or, with ``repeat="weekly"``, a recurring maintenance
    window (``weekdays``, ``local_start``, ``duration_minutes``, ``timezone``)."""
    unknown = set(schedule) - set(SILENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown silence fields: {', '.join(sorted(unknown))}")
    silence = Silence(
        matchers=matchers,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
        comment=(comment or "").strip(),
        created_by=user if getattr(user, "is_authenticated", False) else None,
        **schedule,
    )
    silence.full_clean()
    with transaction.atomic():
        silence.save()
        audit(
            actor=user,
            action="silence.create",
            target=silence,
            actor_label=actor_label,
            changes=_silence_snapshot(silence),
            comment=silence.comment,
        )
    return silence


def silence_update(*, silence: Silence, user, actor_label: str = "", **fields) -> Silence:
    """Change a silence's matchers, times, schedule or comment; validated, then audited with
    before/after of what changed. Nothing is written when validation fails."""
    unknown = set(fields) - set(SILENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown silence fields: {', '.join(sorted(unknown))}")
    before = _silence_snapshot(silence)
    for name, value in fields.items():
        setattr(silence, name, value.strip() if name == "comment" and value else value)
    try:
        silence.full_clean()
    except ValidationError:
        silence.refresh_from_db()
        raise
    changes = field_diff(before, _silence_snapshot(silence))
    if not changes:
        return silence
    save_audited(
        silence, diff=changes, actor=user, action="silence.update", actor_label=actor_label
    )
    return silence


def silence_expire(*, silence: Silence, user, actor_label: str = "") -> Silence:
    """End a silence now; for a weekly window this also stops every future occurrence."""
    now = timezone.now()
    if silence.ends_at is not None and silence.ends_at <= now:
        raise AlertActionError("this silence has already ended")
    with transaction.atomic():
        old = silence.ends_at
        silence.ends_at = max(now, silence.starts_at)
        silence.save(update_fields=["ends_at"])
        audit(
            actor=user,
            action="silence.expire",
            target=silence,
            actor_label=actor_label,
            changes={"ends_at": {"from": str(old), "to": str(silence.ends_at)}},
        )
    return silence


def prune_history(*, now: datetime | None = None) -> dict[str, int]:
    """Deliveries (and finished outbox rows) older than ``RETENTION_DELIVERIES_DAYS``; alerts resolved more than
    ``RETENTION_ALERTS_DAYS`` ago with their timeline and deliveries, unless an incident
    holds them (the incident is the record and keeps its alerts)."""
    deliveries = Delivery.objects.filter(
        created_at__lt=cutoff(settings.RETENTION_DELIVERIES_DAYS, now)
    )
    alerts = Alert.objects.filter(
        state=Alert.State.RESOLVED,
        resolved_at__lt=cutoff(settings.RETENTION_ALERTS_DAYS, now),
        incidents__isnull=True,
    )
    # Finished outbox rows are kept as long as the deliveries they produced.
    outbox = OutboxMessage.objects.filter(
        done_at__lt=cutoff(settings.RETENTION_DELIVERIES_DAYS, now)
    )
    return {
        "deliveries": delete_in_batches(deliveries),
        "outbox": delete_in_batches(outbox),
        "alerts": delete_in_batches(alerts),
    }
