"""Alertmanager / Grafana Alerting webhook receiver: their alerts become PenguinMon alerts.

Both send the Alertmanager webhook shape (``version: "4"``; Grafana adds fields of its own,
which are ignored): a group with ``alerts: [{status, labels, annotations, startsAt, endsAt,
fingerprint, generatorURL}]``. Each alert maps onto one PenguinMon alert:

- rule: one ``AlertRule`` with ``source=external`` per sender and ``alertname`` (created on
  first sight, named ``"<alertname> [alertmanager]"`` or ``[grafana]``); admins can set its
  escalation policy, parent service or disable it (disabling resolves its open alerts).
- identity: the label set, which is what Alertmanager's fingerprint hashes, so re-sent
  notifications of a group (every ``repeat_interval``) update the open alert instead of
  duplicating it;
- severity from the ``severity`` label (critical/page/error/... → critical, warning/ticket →
  warning, info/none → info; absent → warning), service from ``service`` or else ``job``,
  message from the ``summary`` annotation, else ``description``, else the alertname.
- ``status: firing`` fires it at once (the sender already applied its ``for:``) and routes,
  escalates and notifies it like a native alert; ``status: resolved`` resolves it.
  Acknowledging it in PenguinMon is PenguinMon's own state: the sender is not told.

Values are checked against the columns they land in before anything is written: a bad alert
is a 422 naming ``alerts[i].<field>`` and nothing of the request is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import notify
from alerts.evaluation import escalation_start
from alerts.models import Alert, AlertRule, EscalationPolicy, Severity, label_key

MAX_ALERTS = 1000
MAX_LABELS = 64
MAX_LABEL_VALUE = 1000
MAX_ALERTNAME = 120  # "<alertname> [alertmanager]" fits AlertRule.name (150)
MAX_SERVICE = 100  # Alert.service
MAX_MESSAGE = 500  # Alert.message
LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

SEVERITY_WORDS = {
    Severity.CRITICAL: {"critical", "crit", "page", "error", "high", "p1", "p2", "emergency"},
    Severity.WARNING: {"warning", "warn", "ticket", "medium", "p3", "major", "minor"},
    Severity.INFO: {"info", "information", "low", "none", "p4", "p5"},
}


class PayloadError(ValueError):
    """The request does not hold a valid Alertmanager/Grafana webhook; names the field."""


@dataclass
class ExternalAlert:
    firing: bool
    alertname: str
    labels: dict[str, str]
    severity: str
    service: str
    message: str
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass
class ReceiveResult:
    received: int = 0
    fired: int = 0
    updated: int = 0
    resolved: int = 0
    unknown_resolved: int = 0  # resolved alerts PenguinMon had no open alert for

    def as_dict(self) -> dict:
        return {
            "status": "success",
            "received": self.received,
            "fired": self.fired,
            "updated": self.updated,
            "resolved": self.resolved,
            "unknown_resolved": self.unknown_resolved,
        }


def _text(value, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{where}: must be a string")
    if len(value) > limit:
        raise PayloadError(f"{where}: at most {limit} characters")
    if _CONTROL_RE.search(value):
        raise PayloadError(f"{where}: control characters are not allowed")
    return value


def _time(value, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}: must be an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Alertmanager sends the zero time (0001-01-01) for "no end yet".
    return None if parsed.year < 1970 else parsed


def severity_of(labels: dict[str, str]) -> str:
    word = labels.get("severity", "").strip().lower()
    for severity, words in SEVERITY_WORDS.items():
        if word in words:
            return severity
    return Severity.WARNING


def parse(payload) -> list[ExternalAlert]:
    """Check a decoded webhook body; every problem names its field."""
    if not isinstance(payload, dict):
        raise PayloadError("body: must be a JSON object (the Alertmanager webhook payload)")
    items = payload.get("alerts")
    if not isinstance(items, list):
        raise PayloadError("alerts: must be a list")
    if len(items) > MAX_ALERTS:
        raise PayloadError(f"alerts: at most {MAX_ALERTS} alerts per request")
    parsed = []
    for i, item in enumerate(items):
        where = f"alerts[{i}]"
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: must be an object")
        status = item.get("status", payload.get("status"))
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status: must be 'firing' or 'resolved'")
        labels = item.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise PayloadError(f"{where}.labels: must be a non-empty object")
        if len(labels) > MAX_LABELS:
            raise PayloadError(f"{where}.labels: at most {MAX_LABELS} labels")
        clean: dict[str, str] = {}
        for name, value in labels.items():
            if not LABEL_NAME_RE.match(str(name)):
                raise PayloadError(f"{where}.labels: {str(name)[:40]!r} is not a label name")
            clean[name] = _text(value, f"{where}.labels.{name}", MAX_LABEL_VALUE)
        alertname = clean.get("alertname", "")
        if not alertname:
            raise PayloadError(f"{where}.labels.alertname: required")
        _text(alertname, f"{where}.labels.alertname", MAX_ALERTNAME)
        service = clean.get("service") or clean.get("job") or ""
        field = "service" if clean.get("service") else "job"
        _text(service, f"{where}.labels.{field}", MAX_SERVICE)
        annotations = item.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise PayloadError(f"{where}.annotations: must be an object")
        message = ""
        for key in ("summary", "description", "message"):
            if annotations.get(key):
                message = _text(annotations[key], f"{where}.annotations.{key}", 10_000)
                break
        message = " ".join(message.split()) or alertname
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        parsed.append(
            ExternalAlert(
                firing=status == "firing",
                alertname=alertname,
                labels=clean,
                severity=severity_of(clean),
                service=service,
                message=message,
                starts_at=_time(item.get("startsAt"), f"{where}.startsAt"),
                ends_at=_time(item.get("endsAt"), f"{where}.endsAt"),
            )
        )
    return parsed


def sender_of(payload: dict) -> str:
    # Grafana's webhook notifier adds orgId/state/title to Alertmanager's shape.
    return "grafana" if isinstance(payload, dict) and "orgId" in payload else "alertmanager"


def _rule_for(alertname: str, sender: str, cache: dict) -> AlertRule:
    name = f"{alertname} [{sender}]"
    if name not in cache:
        rule, _ = AlertRule.objects.get_or_create(
            name=name,
            defaults={
                "source": AlertRule.Source.EXTERNAL,
                "description": f"Fired and resolved by {sender} (webhook receiver).",
                "aggregation": "last",
                "threshold": 0,
                "severity": Severity.WARNING,
                "escalation_policy": EscalationPolicy.objects.filter(
                    name="On-call escalation"
                ).first(),
            },
        )
        cache[name] = rule
    return cache[name]


def receive(payload, *, now: datetime | None = None) -> ReceiveResult:
    """Apply one webhook request: fire, refresh or resolve each of its alerts."""
    alerts = parse(payload)
    sender = sender_of(payload)
    now = now or timezone.now()
    result = ReceiveResult(received=len(alerts))
    rules: dict[str, AlertRule] = {}
    with transaction.atomic():
        for ext in alerts:
            rule = _rule_for(ext.alertname, sender, rules)
            if not rule.enabled:
                continue  # an admin switched this alert off
            key = label_key(ext.labels)
            alert = Alert.objects.open().filter(rule=rule, label_key=key).first()
            if ext.firing:
                if alert is None:
                    _fire_new(rule, ext, key, now)
                    result.fired += 1
                else:
                    Alert.objects.filter(pk=alert.pk).update(last_evaluated_at=now)
                    result.updated += 1
            elif alert is None:
                result.unknown_resolved += 1
            else:
                if alert.state == Alert.State.PENDING:
                    alert.delete()
                    continue
                at = min(ext.ends_at or now, now)
                alert.rule = rule
                if alert.transition(Alert.State.RESOLVED, at=at, message=f"resolved by {sender}"):
                    notify.on_transition(alert, "resolve", now=now)
                    result.resolved += 1
    return result


def _fire_new(rule: AlertRule, ext: ExternalAlert, key: str, now: datetime) -> Alert | None:
    started = min(ext.starts_at or now, now)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                labels=ext.labels,
                label_key=key,
                state=Alert.State.PENDING,
                severity=ext.severity,
                service=ext.service,
                message=ext.message,
                started_at=started,
                last_evaluated_at=now,
                history="1",
            )
    except IntegrityError:
        return None  # a concurrent request for the same alert created it a moment ago
    extra = escalation_start(rule, now) if ext.severity == Severity.CRITICAL else {}
    if alert.transition(Alert.State.FIRING, at=now, extra=extra, message="fired by sender"):
        notify.on_transition(alert, "trigger", now=now)
    return alert
