"""Who hears about an alert, and the delivery of one notification to one channel.

Routing by severity (seed 000 §6): critical → every on-call channel at once; warning → chat
channels, at most once per rule per hour (resolutions always go out); info → the daily digest
email. Silences and a firing parent service suppress notifications, never state changes.
Each notification is an outbox row per channel, written in the transaction of the change it
announces and handed to Celery (one task per row) after that commits, so a slow or failing
channel never holds up another; a beat drain re-queues rows whose hand-over or task was lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import grouping
from alerts.channels import TRANSPORTS, Notification, TransportError
from alerts.models import (
    REPEAT_INTERVAL,
    SEVERITY_LABELS,
    Alert,
    AlertEvent,
    AlertRule,
    Channel,
    Delivery,
    EscalationPolicy,
    NotificationGroup,
    OutboxMessage,
    Silence,
    new_token,
)
from penguinmon.redact import mask_secrets, secret_values

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SERVICE_DOWN_METRIC = "probe_up"


def backoff_seconds(attempt: int) -> int:
    """Exponential backoff after failed attempt ``attempt`` (1-based): 5 s, 20 s, 80 s, 320 s."""
    return min(5 * 4 ** (attempt - 1), 900)


def base_url() -> str:
    return getattr(settings, "PENGUINMON_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


# --- suppression -------------------------------------------------------------------------


def active_silence(alert: Alert, at: datetime) -> Silence | None:
    labels = alert.match_labels()
    for silence in Silence.objects.overlapping(at, at + timedelta(microseconds=1)):
        if silence.matches(labels) and silence.is_active(at):
            return silence
    return None


def parent_down(alert: Alert) -> Alert | None:
    """The firing service-down alert of the rule's parent service, if there is one."""
    parent = alert.rule.parent_service
    if not parent:
        return None
    return (
        Alert.objects.active()
        .filter(rule__metric=SERVICE_DOWN_METRIC, service=parent)
        .exclude(pk=alert.pk)
        .first()
    )


def suppression_reason(alert: Alert, at: datetime) -> str:
    silence = active_silence(alert, at)
    if silence is not None:
        return f"silenced by silence #{silence.pk} ({silence.comment})"
    parent = parent_down(alert)
    if parent is not None:
        return f"parent service {alert.rule.parent_service} is down (alert #{parent.pk})"
    return ""


# --- routing ------------------------------------------------------------------------------


def channels_for(alert: Alert, event: str) -> list[Channel]:
    enabled = Channel.objects.filter(enabled=True)
    if alert.severity == "critical":
        channels = list(enabled.filter(on_call=True))
        if event == "acknowledge":
            # Only PagerDuty tracks acknowledgement; chat and SMS need not hear it.
            channels = [c for c in channels if c.kind == Channel.Kind.PAGERDUTY]
        return channels
    if alert.severity == "warning" and event != "acknowledge":
        return list(enabled.filter(chat=True))
    return []  # info alerts go out in the daily digest


def _claim_warning_slot(rule: AlertRule, at: datetime) -> bool:
    """Compare-and-set on the rule: True for the one caller that may notify within the
    rule's limit (notify_limit_minutes, default an hour)."""
    return (
        AlertRule.objects.filter(pk=rule.pk)
        .filter(
            Q(last_warning_notified_at__isnull=True)
            | Q(last_warning_notified_at__lte=at - rule.notify_limit)
        )
        .update(last_warning_notified_at=at)
        == 1
    )


def on_transition(alert: Alert, event: str, *, now: datetime | None = None) -> list[int]:
    """Decide and queue the notifications for ``event`` on ``alert``; returns channel ids."""
    now = now or timezone.now()
    if event == "trigger" and alert.severity in grouping.ROUTES and grouping.enabled():
        return []  # the next grouping flush sends it with its group (alerts.grouping)
    if event in ("resolve", "acknowledge") and not alert.notified:
        return []  # nobody was told it fired, so nobody needs to hear it stopped
    if event in ("trigger", "repeat"):
        reason = suppression_reason(alert, now)
        if reason:
            alert.log(AlertEvent.Kind.SUPPRESSED, f"{event} not sent: {reason}", at=now)
            return []
    channels = channels_for(alert, event)
    if alert.severity == "info" and event == "trigger":
        alert.log(AlertEvent.Kind.NOTIFY, "queued for the daily info digest", at=now)
        return []
    if not channels:
        if event == "trigger":
            alert.log(
                AlertEvent.Kind.NOTIFY,
                f"no enabled channel receives {alert.severity} alerts",
                at=now,
            )
        return []
    if (
        alert.severity == "warning"
        and event in ("trigger", "repeat")
        and not _claim_warning_slot(alert.rule, now)
    ):
        alert.log(
            AlertEvent.Kind.SUPPRESSED,
            f"{event} not sent: rule {alert.rule.name} already notified within "
            + (
                "the hour"
                if alert.rule.notify_limit_minutes == 60
                else f"{alert.rule.notify_limit_minutes} min"
            ),
            at=now,
        )
        return []
    if event in ("trigger", "repeat"):
        Alert.objects.filter(pk=alert.pk).update(notified=True, last_notified_at=now)
        alert.notified, alert.last_notified_at = True, now
    alert.log(AlertEvent.Kind.NOTIFY, f"{event} → " + ", ".join(c.name for c in channels), at=now)
    queue_deliveries([c.pk for c in channels], event, alert_id=alert.pk)
    return [c.pk for c in channels]


class GapSummary:
    """Transitions of the first cycle after the evaluator was down, sent as one summary per
    channel instead of one notification per alert. Routing, silences and parent suppression
    apply per alert as usual; PagerDuty still gets per-alert resolves (they page nobody and
    close the incidents it holds under each alert's dedup key)."""

    def __init__(self, *, gap: timedelta, now: datetime):
        self.gap, self.now = gap, now
        self.changes: list[tuple[Alert, str]] = []

    def add(self, alert: Alert, event: str) -> None:
        self.changes.append((alert, event))

    def send(self) -> int:
        """Queue the summaries; returns how many (one per channel that has something)."""
        now = self.now
        gap_text = _duration(self.gap)
        per_channel: dict[int, list[int]] = {}
        names: dict[int, str] = {}
        for alert, event in self.changes:
            if event == "trigger":
                reason = suppression_reason(alert, now)
                if reason:
                    alert.log(AlertEvent.Kind.SUPPRESSED, f"trigger not sent: {reason}", at=now)
                    continue
                if alert.severity == "info":
                    alert.log(AlertEvent.Kind.NOTIFY, "queued for the daily info digest", at=now)
                    continue
            elif not alert.notified:
                continue  # nobody was told it fired
            channels = channels_for(alert, event)
            if not channels:
                continue
            if event == "trigger":
                Alert.objects.filter(pk=alert.pk).update(notified=True, last_notified_at=now)
                alert.notified, alert.last_notified_at = True, now
                if alert.severity == "warning":  # the summary uses up the rule's warning slot
                    AlertRule.objects.filter(pk=alert.rule_id).update(last_warning_notified_at=now)
            for channel in channels:
                if event == "resolve" and channel.kind == Channel.Kind.PAGERDUTY:
                    queue_deliveries([channel.pk], "resolve", alert_id=alert.pk)
                    continue
                per_channel.setdefault(channel.pk, []).append(alert.pk)
                names[channel.pk] = channel.name
            alert.log(
                AlertEvent.Kind.NOTIFY,
                f"{event} → in the summary after a {gap_text} evaluation gap: "
                + ", ".join(c.name for c in channels),
                at=now,
            )
        for channel_id, alert_ids in per_channel.items():
            queue_deliveries([channel_id], "summary", alert_ids=alert_ids)
        if per_channel:
            log.warning(
                "evaluation gap of %s: %d transition(s) summarised to %s",
                gap_text,
                len(self.changes),
                ", ".join(names.values()),
            )
        return len(per_channel)


def _duration(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes < 1:
        return f"{int(gap.total_seconds())} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


# How long a handed-over delivery may take before the drain assumes its task was lost
# (longer than any channel's timeout: HTTP 10 s, SMTP 10 s).
HANDOVER_GRACE = timedelta(seconds=120)


def queue_deliveries(
    channel_ids: list[int],
    event: str,
    *,
    alert_id: int | None = None,
    alert_ids: list[int] | None = None,
    group_id: int | None = None,
) -> list[OutboxMessage]:
    """Write one outbox row per channel in the current transaction (with the alert change it
    announces), and hand them to Celery once that commits. If the hand-over fails (Redis
    down), the rows stay due and ``drain_outbox`` sends them when the queue is back."""
    now = timezone.now()
    rows = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                channel_id=channel_id,
                event=event,
                alert_id=alert_id,
                alert_ids=alert_ids or [],
                group_id=group_id,
                due_at=now + HANDOVER_GRACE,
            )
            for channel_id in channel_ids
        ]
    )
    if rows:
        transaction.on_commit(lambda: hand_over(rows))
    return rows


def hand_over(rows: list[OutboxMessage]) -> int:
    """Queue a delivery task for each row; returns how many were queued. Stops at the first
    failure to reach the queue and marks the rest due now, for the drain to retry."""
    from alerts.tasks import deliver_notification

    queued = 0
    for i, row in enumerate(rows):
        try:
            deliver_notification.apply_async(
                args=(row.channel_id, row.event),
                kwargs={"outbox_id": row.pk, "token": str(row.token)},
                retry=False,  # fail fast: the outbox keeps it, the drain retries
            )
            queued += 1
        except Exception as exc:  # noqa: BLE001 - any broker failure: leave it to the drain
            log.warning(
                "could not queue %d notification(s), the outbox keeps them: %r", len(rows) - i, exc
            )
            try:
                OutboxMessage.objects.filter(
                    pk__in=[r.pk for r in rows[i:]], done_at__isnull=True
                ).update(due_at=timezone.now())
            except Exception:  # noqa: BLE001 - database down too: due_at passes by itself
                log.warning("could not mark the outbox rows due now")
            break
    return queued


def drain_outbox(*, now: datetime | None = None, limit: int = 500) -> int:
    """Hand over every unfinished outbox row that is due (its hand-over failed, or its task
    vanished with a worker or a Redis restart). Each row gets a new token by compare-and-set,
    so the copy of the task that may still exist cannot deliver it a second time."""
    now = now or timezone.now()
    due = list(
        OutboxMessage.objects.filter(done_at__isnull=True, due_at__lte=now).order_by("due_at")[
            :limit
        ]
    )
    claimed = []
    for row in due:
        fresh = uuid.uuid4()
        won = OutboxMessage.objects.filter(pk=row.pk, token=row.token, done_at__isnull=True).update(
            token=fresh, due_at=now + HANDOVER_GRACE
        )
        if won == 1:
            row.token = fresh
            claimed.append(row)
    if claimed:
        log.info("re-queueing %d notification(s) from the outbox", len(claimed))
    return hand_over(claimed)


def deliver_from_outbox(task, *, outbox_id: int, token: str | None) -> str:
    """One attempt at an outbox row, from its Celery task: claim it (token compare-and-set),
    deliver, then mark it done, or schedule the retry (the row stays due for the drain in
    case that retry is lost too)."""
    row = OutboxMessage.objects.filter(pk=outbox_id, done_at__isnull=True).first()
    if row is None or str(row.token) != token:
        return "skipped"  # finished, deleted with its alert or channel, or handed over again
    fresh, attempt = uuid.uuid4(), row.attempts + 1
    claimed = OutboxMessage.objects.filter(pk=row.pk, token=row.token, done_at__isnull=True)
    if not claimed.update(token=fresh, attempts=attempt, due_at=timezone.now() + HANDOVER_GRACE):
        return "skipped"
    mine = OutboxMessage.objects.filter(pk=row.pk, token=fresh)
    try:
        delivery = deliver(
            channel_id=row.channel_id,
            event=row.event,
            alert_id=row.alert_id,
            alert_ids=row.alert_ids or None,
            group_id=row.group_id,
            attempt=attempt,
            recipients=row.recipients,
        )
    except (Channel.DoesNotExist, Alert.DoesNotExist):
        mine.update(done_at=timezone.now())
        return "skipped"
    if delivery.status != Delivery.Status.RETRYING:
        mine.update(done_at=timezone.now())
        return delivery.status
    countdown = backoff_seconds(attempt)
    mine.update(
        recipients=delivery.retry_recipients,
        due_at=timezone.now() + timedelta(seconds=countdown) + HANDOVER_GRACE,
    )
    raise task.retry(
        args=(row.channel_id, row.event),
        kwargs={"outbox_id": row.pk, "token": str(fresh)},
        countdown=countdown,
        max_retries=None,  # the row counts attempts; deliver() gives up after MAX_ATTEMPTS
    )


# --- building and sending one notification -------------------------------------------------


# The state a notification reports is the one its event announced, even if the alert has
# moved on by the time a (retried) delivery runs.
EVENT_STATE = {
    "trigger": "firing",
    "repeat": "firing",
    "escalate": "firing",
    "acknowledge": "acknowledged",
    "resolve": "resolved",
}


def note_for_alert(alert: Alert, event: str) -> Notification:
    return Notification(
        event=event,
        alert_id=alert.pk,
        title=f"{alert.severity_label} {alert.service}: {alert.message}",
        severity=alert.severity,
        severity_label=alert.severity_label,
        service=alert.service,
        state=EVENT_STATE.get(event, alert.state),
        message=alert.message,
        labels=alert.labels,
        value=alert.last_value,
        threshold=alert.rule.threshold,
        rule=alert.rule.name,
        runbook_url=alert.rule.runbook_url,
        url=f"{base_url()}/alerts/{alert.pk}/",
        dedup_key=f"penguinmon-alert-{alert.pk}",
        at=timezone.now().isoformat(),
    )


def note_for_digest(alerts: list[Alert]) -> Notification:
    lines = tuple(
        f"- {a.timestamp:%Y-%m-%d %H:%M} UTC  {a.service or '-'}: {a.message}  [{a.state}] {base_url()}/alerts/{a.pk}/"
        for a in alerts
    )
    return Notification(
        event="digest",
        alert_id=None,
        title=f"PenguinMon daily digest: {len(alerts)} info alert(s)",
        severity="info",
        severity_label=SEVERITY_LABELS["info"],
        service="",
        state="",
        message=f"{len(alerts)} info alert(s)",
        lines=lines,
        url=f"{base_url()}/alerts/?severity=info",
        at=timezone.now().isoformat(),
    )


def note_for_summary(alerts: list[Alert]) -> Notification:
    """Many alerts' changes in one message, worst first: firing ones, then the resolved."""
    firing = [a for a in alerts if a.state != Alert.State.RESOLVED]
    resolved = [a for a in alerts if a.state == Alert.State.RESOLVED]
    order = {"critical": 0, "warning": 1, "info": 2}
    firing.sort(key=lambda a: (order.get(a.severity, 3), a.pk))
    lines = tuple(
        f"- [{'RESOLVED' if a.state == Alert.State.RESOLVED else 'FIRING'}] {a.severity_label} "
        f"{a.service or '-'}: {a.message}  {base_url()}/alerts/{a.pk}/"
        for a in [*firing, *resolved]
    )
    worst = firing[0].severity if firing else "info"
    return Notification(
        event="summary",
        alert_id=None,
        title=(
            f"PenguinMon resumed after an evaluation gap: {len(firing)} firing, "
            f"{len(resolved)} resolved"
        ),
        severity=worst,
        severity_label=SEVERITY_LABELS.get(worst, worst.upper()),
        service="",
        state="firing" if firing else "resolved",
        message=f"{len(firing)} alert(s) firing, {len(resolved)} resolved while evaluation was down",
        lines=lines,
        url=f"{base_url()}/alerts/",
        dedup_key=f"penguinmon-summary-{min(a.pk for a in alerts)}" if alerts else "",
        at=timezone.now().isoformat(),
    )


def note_for_group(alerts: list[Alert], group: NotificationGroup | None) -> Notification:
    """One message for a notification group: its firing alerts, worst first, and the alerts
    its parent-down alert suppresses (named, not listed one by one)."""
    order = {"critical": 0, "warning": 1, "info": 2}
    alerts = sorted(alerts, key=lambda a: (order.get(a.severity, 3), a.pk))
    firing = [a for a in alerts if a.state != Alert.State.RESOLVED]
    lines = [
        f"- [{a.state.upper()}] {a.severity_label} {a.service or '-'}: {a.message}  "
        f"{base_url()}/alerts/{a.pk}/"
        for a in alerts
    ]
    suppressed = (group.suppressed if group else None) or {}
    if suppressed:
        lines.append(
            f"- suppressed while {suppressed['parent']} is down: {suppressed['alerts']} alert(s) "
            f"on {suppressed['services']} child service(s)"
        )
    worst = alerts[0] if alerts else None
    severity = worst.severity if worst else "info"
    labels = (group.labels if group else {}) or {}
    what = ", ".join(f"{k}={v}" for k, v in labels.items() if v) or "all"
    title = f"[FIRING:{len(firing)}] {SEVERITY_LABELS.get(severity, severity.upper())} {what}"
    if worst is not None:
        title += f": {worst.message}"
    if suppressed:
        title += f" (+{suppressed['alerts']} suppressed)"
    return Notification(
        event="group",
        alert_id=None,
        title=title[:300],
        severity=severity,
        severity_label=SEVERITY_LABELS.get(severity, severity.upper()),
        service=worst.service if worst else "",
        state="firing" if firing else "resolved",
        message=f"{len(firing)} alert(s) firing in group {what}",
        lines=tuple(lines),
        labels=labels,
        url=f"{base_url()}/alerts/",
        dedup_key=f"penguinmon-group-{group.pk}" if group else "",
        at=timezone.now().isoformat(),
    )


def deliver(
    *,
    channel_id: int,
    event: str,
    alert_id: int | None = None,
    alert_ids: list[int] | None = None,
    group_id: int | None = None,
    attempt: int = 1,
    recipients: list[str] | None = None,
) -> Delivery:
    """Send one notification to one channel now and record the attempt as a Delivery row.

    ``recipients`` (a retry after a partial failure) narrows a per-recipient channel to the
    ones that failed; the returned row's ``retry_recipients`` says whom a retry should reach.
    """
    channel = Channel.objects.get(pk=channel_id)
    alert = Alert.objects.select_related("rule").get(pk=alert_id) if alert_id else None
    if alert is not None:
        note = note_for_alert(alert, event)
    else:
        listed = list(
            Alert.objects.filter(pk__in=alert_ids or [])
            .select_related("rule")
            .order_by("started_at")
        )
        if event == "group":
            note = note_for_group(listed, NotificationGroup.objects.filter(pk=group_id).first())
        elif event == "summary":
            note = note_for_summary(listed)
        else:
            note = note_for_digest(listed)
    result = send_to_channel(channel, note, attempt=attempt, recipients=recipients)
    delivery = Delivery.objects.create(
        alert=alert,
        alert_ids=alert_ids or [],
        channel=channel,
        event=event,
        attempt=attempt,
        status=result.status,
        response_code=result.response_code,
        error=result.error[:2000],
        duration_ms=result.duration_ms,
    )
    delivery.retry_recipients = result.retry_recipients
    return delivery


@dataclass
class SendResult:
    status: str  # a Delivery.Status
    response_code: int | None
    error: str
    duration_ms: float
    retry_recipients: list[str] | None


def send_to_channel(
    channel: Channel, note: Notification, *, attempt: int = 1, recipients: list[str] | None = None
) -> SendResult:
    """Send ``note`` through ``channel``'s transport once; the result says whether to retry
    (``Delivery.Status.RETRYING``) and whom. Used for alerts and for incident updates."""
    final = attempt >= MAX_ATTEMPTS
    code, error, status = None, "", Delivery.Status.SENT
    retry_recipients = recipients
    t0 = time.perf_counter()
    try:
        transport = TRANSPORTS[channel.kind]
        config = dict(channel.config or {})
        problems = transport.validate(config)
        if problems:
            raise TransportError("channel config: " + "; ".join(problems), permanent=True)
        key = getattr(transport, "RECIPIENTS", None)
        if recipients is not None and key:
            config[key] = [r for r in config[key] if r in recipients]
        code = transport.send(config, note)
    except TransportError as exc:
        code, error = exc.status_code, str(exc)
        status = Delivery.Status.FAILED if exc.permanent or final else Delivery.Status.RETRYING
        if exc.retry_only is not None:
            retry_recipients = exc.retry_only
    except Exception as exc:  # a bug in one transport must be recorded, not lost with the task
        log.exception("channel %s failed", channel)
        error = f"{exc.__class__.__name__}: {exc}"
        status = Delivery.Status.FAILED if final else Delivery.Status.RETRYING
    if status == Delivery.Status.RETRYING:
        error += f" (retry {attempt + 1} of {MAX_ATTEMPTS} in {backoff_seconds(attempt)} s)"
        if retry_recipients is not None:
            # Some recipients are credentials (an Apprise URL): the transport says how to show them.
            label = getattr(TRANSPORTS.get(channel.kind), "recipient_label", str)
            error += " to " + ", ".join(label(r) for r in retry_recipients)
    # The error is shown to every role that reads alerts (and on incident timelines); the URL
    # it failed on is the channel's credential (Slack, webhook) and must not be.
    error = mask_secrets(error, secret_values(channel.config))
    return SendResult(status, code, error, (time.perf_counter() - t0) * 1000, retry_recipients)


# --- periodic work: escalation, repeats, digest ---------------------------------------------


def escalation_chain(alert: Alert) -> list[dict]:
    """The alert's snapshot of its chain. Alerts that started escalating before snapshots
    existed take the policy as it is now, once, and keep that copy."""
    if alert.escalation_chain or not alert.rule.escalation_policy_id:
        return alert.escalation_chain or []
    chain = EscalationPolicy.objects.get(pk=alert.rule.escalation_policy_id).snapshot()
    Alert.objects.filter(pk=alert.pk, escalation_chain=[]).update(escalation_chain=chain)
    alert.escalation_chain = chain
    return chain


def escalate_due(*, now: datetime | None = None) -> int:
    """Notify the next escalation step of every critical alert still unacknowledged past its
    deadline, following the chain copied onto the alert when it fired. Each step is claimed
    with a compare-and-set on (step, token), so a duplicated or retried run never notifies a
    step twice."""
    now = now or timezone.now()
    done = 0
    due = Alert.objects.filter(state=Alert.State.FIRING, escalation_due_at__lte=now).select_related(
        "rule"
    )
    for alert in due:
        # The step's claim and its outbox rows commit together: a claimed step is a sent one.
        with transaction.atomic():
            done += _escalate_one(alert, now)
    return done


def _escalate_one(alert: Alert, now: datetime) -> int:
    """Claim and queue the alert's next escalation step; 1 if it was sent."""
    steps = escalation_chain(alert)
    index = alert.escalation_step
    claim = Alert.objects.filter(
        pk=alert.pk,
        state=Alert.State.FIRING,
        escalation_step=index,
        escalation_token=alert.escalation_token,
    )
    if index >= len(steps):
        claim.update(escalation_due_at=None)
        return 0
    following = steps[index + 1] if index + 1 < len(steps) else None
    next_due = now + timedelta(minutes=following["wait_minutes"]) if following else None
    if (
        claim.update(
            escalation_step=index + 1, escalation_due_at=next_due, escalation_token=new_token()
        )
        != 1
    ):
        return 0  # acknowledged, resolved or escalated by someone else meanwhile
    wanted = steps[index]["channels"]
    found = Channel.objects.in_bulk([c["id"] for c in wanted])
    channels = [found[c["id"]] for c in wanted if c["id"] in found and found[c["id"]].enabled]
    gone = [c["name"] for c in wanted if c["id"] not in found]
    waited = int((now - (alert.fired_at or alert.started_at)).total_seconds() // 60)
    reason = suppression_reason(alert, now)
    if reason:
        alert.log(
            AlertEvent.Kind.SUPPRESSED,
            f"escalation step {index + 1} not sent: {reason}",
            at=now,
        )
        return 0
    alert.log(
        AlertEvent.Kind.ESCALATION,
        f"not acknowledged after {waited} min: step {index + 1} → "
        + (", ".join(c.name for c in channels) or "no enabled channel")
        + (f" (deleted since: {', '.join(gone)})" if gone else ""),
        at=now,
    )
    queue_deliveries([c.pk for c in channels], "escalate", alert_id=alert.pk)
    return 1


def send_repeats(*, now: datetime | None = None) -> int:
    """Remind about alerts still firing and unacknowledged (an ack stops reminders). With
    grouping on, reminders are the groups' repeat_interval instead (alerts.grouping)."""
    if grouping.enabled():
        return 0
    now = now or timezone.now()
    sent = 0
    stale = Alert.objects.filter(
        state=Alert.State.FIRING,
        severity__in=list(REPEAT_INTERVAL),
        notified=True,
        last_notified_at__isnull=False,
    ).select_related("rule")
    for alert in stale:
        interval = alert.rule.repeat_interval(alert.severity)
        if interval is None or alert.last_notified_at > now - interval:
            continue
        # Claim the reminder so a second beat run does not send it again; the claim and the
        # reminder's outbox rows commit together.
        with transaction.atomic():
            if (
                Alert.objects.filter(pk=alert.pk, last_notified_at=alert.last_notified_at).update(
                    last_notified_at=now
                )
                != 1
            ):
                continue
            alert.last_notified_at = now
            if on_transition(alert, "repeat", now=now):
                sent += 1
    return sent


def send_info_digest(*, now: datetime | None = None) -> int:
    """One email per digest channel listing the info alerts not yet included in a digest."""
    now = now or timezone.now()
    channels = list(Channel.objects.filter(enabled=True, digest=True))
    if not channels:
        return 0
    candidates = list(
        Alert.objects.filter(
            severity="info",
            fired_at__isnull=False,
            digested_at__isnull=True,
            fired_at__gte=now - timedelta(days=7),
        ).values_list("pk", flat=True)
    )
    if not candidates:
        return 0
    with transaction.atomic():
        claimed = list(
            Alert.objects.select_for_update(skip_locked=True)
            .filter(pk__in=candidates, digested_at__isnull=True)
            .values_list("pk", flat=True)
        )
        Alert.objects.filter(pk__in=claimed).update(digested_at=now)
        if claimed:
            queue_deliveries([c.pk for c in channels], "digest", alert_ids=sorted(claimed))
    return len(claimed)
