"""Alert rules, alerts (an explicit state machine), their timeline, silences, channels,
escalation policies and delivery attempts."""

from __future__ import annotations

import operator
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from alerts.channels import TRANSPORTS
from alerts.labels import label_key

# Silences live in their own module; re-exported so ``alerts.models.Silence`` (and Django's
# registry of the alerts app's models) and existing imports keep working.
from alerts.silences import WEEKDAYS as WEEKDAYS
from alerts.silences import WEEKDAYS_FULL as WEEKDAYS_FULL
from alerts.silences import Silence as Silence
from alerts.silences import SilenceQuerySet as SilenceQuerySet
from alerts.silences import Window as Window
from alerts.silences import parse_weekdays as parse_weekdays
from alerts.silences import valid_timezone as valid_timezone
from collectors.store.catalog import METRICS


class Severity(models.TextChoices):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


# The feed shows severities with the words of the infrastructure seed (ERROR / WARNING / INFO).
SEVERITY_LABELS = {Severity.CRITICAL: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}

COMPARATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

# Aggregations the store computes per series, plus error_ratio which the evaluator derives
# from two sums (5xx requests / all requests) per service.
STORE_AGGREGATIONS = ("avg", "min", "max", "sum", "last", "count", "rate", "p50", "p95", "p99")
ERROR_RATIO = "error_ratio"
# An SLO's burn rate over a long and a short window (alerts/burn_rate.py).
BURN_RATE = "burn_rate"


# The label key of a rule's own "cannot evaluate" alert. Label names never start with "!"
# (ingest allows [a-zA-Z_][a-zA-Z0-9_]*), so no series can produce this key.
EVAL_ERROR_KEY = "!cannot-evaluate"
# Label values are up to this long at ingest (collectors.store.ingest.MAX_LABEL_VALUE); the
# columns a label value lands in (Alert.service, Incident.service) hold as much.
LABEL_VALUE_MAX = 200


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name

    def snapshot(self) -> list[dict]:
        """The chain as plain data: one entry per step order (steps sharing an order notify
        together), each with its wait and its channels."""
        chain: dict[int, dict] = {}
        for step in self.steps.select_related("channel").order_by("order", "id"):
            entry = chain.setdefault(
                step.order, {"wait_minutes": step.wait_minutes, "channels": []}
            )
            entry["channels"].append({"id": step.channel_id, "name": step.channel.name})
        return list(chain.values())


class Channel(models.Model):
    """Where notifications go. ``kind`` picks a transport from alerts.channels.TRANSPORTS;
    ``config`` holds that transport's settings (URL, recipients, secrets)."""

    class Kind(models.TextChoices):
        SLACK = "slack"
        EMAIL = "email"
        SMS = "sms"
        PAGERDUTY = "pagerduty"
        WEBHOOK = "webhook"
        POSTHOG = "posthog"
        APPRISE = "apprise"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text="slack: webhook_url · email: to (list) · sms: base_url, account_sid, auth_token, "
        "from_number, to_numbers · pagerduty: routing_key, url · webhook: url, secret · "
        "posthog: host, api_key · apprise: urls (list of Apprise URLs)",
    )
    enabled = models.BooleanField(default=True)
    on_call = models.BooleanField(
        default=False,
        help_text="Receives critical alerts immediately (all on-call channels at once).",
    )
    chat = models.BooleanField(
        default=False,
        help_text="Receives warnings (at most one per rule per hour unless state changes).",
    )
    digest = models.BooleanField(
        default=False, help_text="Receives the daily digest of info alerts (email channels)."
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        transport = TRANSPORTS.get(self.kind)
        if transport is None:
            raise ValidationError({"kind": f"unknown channel kind {self.kind!r}"})
        errors = transport.validate(self.config or {})
        if errors:
            raise ValidationError({"config": errors})
        if self.digest and self.kind != self.Kind.EMAIL:
            raise ValidationError({"digest": "only email channels send the daily digest"})


class EscalationStep(models.Model):
    """Wait ``wait_minutes`` (after firing, or after the previous step), then notify the
    step's channel if the alert is still unacknowledged."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=0)
    wait_minutes = models.PositiveIntegerField(default=10)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="escalation_steps")

    class Meta:
        ordering = ["policy", "order", "id"]

    def __str__(self) -> str:
        return f"{self.policy}: step {self.order} after {self.wait_minutes} min → {self.channel}"


class NoData(models.TextChoices):
    OK = "ok", "ok (resolve)"
    ALERTING = "alerting", "alerting (fire)"
    KEEP_STATE = "keep_state", "keep state"


class AlertRule(models.Model):
    class Source(models.TextChoices):
        # Evaluated by PenguinMon's own engine from the metric store.
        NATIVE = "native"
        # Fired and resolved by another system (Prometheus Alertmanager, Grafana Alerting)
        # through the webhook receiver; the evaluator never touches these rules.
        EXTERNAL = "external"

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.NATIVE, editable=False
    )
    metric = models.CharField(
        max_length=200, blank=True, help_text="Metric name from collectors/catalog.py."
    )
    label_filters = models.JSONField(
        default=dict,
        blank=True,
        help_text='Series must carry these labels, e.g. {"service": "api"}.',
    )
    aggregation = models.CharField(
        max_length=20,
        choices=[(a, a) for a in (*STORE_AGGREGATIONS, ERROR_RATIO, BURN_RATE)],
        default="last",
        help_text="error_ratio = sum of http_requests{status_class=5xx} / sum of http_requests, "
        "per service. burn_rate = an SLO's error-budget burn rate (rules generated by SLOs).",
    )
    window_seconds = models.PositiveIntegerField(default=300, help_text="Aggregation window.")
    # Burn-rate rules only (alerts/burn_rate.py): the SLI, the objective and the short window.
    short_window_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="burn_rate: the short window that must burn too."
    )
    sli = models.JSONField(
        default=dict, blank=True, help_text="burn_rate: kind, service, route, threshold_ms."
    )
    objective_pct = models.FloatField(null=True, blank=True, help_text="burn_rate: the SLO.")
    managed_by = models.CharField(
        max_length=50,
        blank=True,
        db_index=True,
        help_text="Generated rules (slo:<id>): edits here are overwritten when the SLO is saved.",
    )
    comparator = models.CharField(max_length=2, choices=[(c, c) for c in COMPARATORS], default=">")
    threshold = models.FloatField()
    for_seconds = models.PositiveIntegerField(
        default=0, help_text="The condition must hold this long before the alert fires."
    )
    k_of_n_k = models.PositiveSmallIntegerField(
        default=1,
        help_text="Condition true in at least k of the last n evaluations (1 of 1 = plain).",
    )
    k_of_n_n = models.PositiveSmallIntegerField(default=1)
    on_no_data = models.CharField(
        max_length=10,
        choices=NoData.choices,
        default=NoData.OK,
        help_text="When a series stops reporting: ok = the condition is false (resolves), "
        "alerting = the condition is true (a silent series fires), keep_state = leave the "
        "alert as it is until data returns.",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    service = models.CharField(
        max_length=100,
        blank=True,
        help_text="Shown in the feed when the series has no service label.",
    )
    parent_service = models.CharField(
        max_length=100,
        blank=True,
        help_text="While this service's service-down alert fires, this rule does not notify.",
    )
    runbook_url = models.URLField(blank=True)
    message_template = models.CharField(
        max_length=300,
        blank=True,
        help_text="Python format string: {rule} {metric} {value} {threshold} {comparator} {service} and any label.",
    )
    escalation_policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="rules"
    )
    # Notification pacing lives on the rule (not on the escalation policy): warnings and most
    # criticals have no policy, the warning limit is already per-rule state, and a rule is
    # our unit of routing (Alertmanager sets repeat_interval per route).
    repeat_interval_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Remind every N minutes while firing and unacknowledged. Blank: the "
        "severity's default (critical 60, warning 240). 0: never remind.",
    )
    notify_limit_minutes = models.PositiveIntegerField(
        default=60,
        help_text="Warnings: at most one chat notification per rule per N minutes "
        "(0: no limit). Resolutions always go out.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Rate limit for warnings: when this rule last notified chat channels.
    last_warning_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why the last cycle could not evaluate this rule (or one of its series), and since when;
    # empty when it evaluates. Shown on the rules page and the health grid, and raised as the
    # rule's own "cannot evaluate" alert (label key EVAL_ERROR_KEY).
    eval_error = models.TextField(blank=True, editable=False)
    eval_error_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.source == self.Source.NATIVE and not self.metric:
            errors["metric"] = "a rule evaluated by PenguinMon needs a metric"
        if self.metric and self.metric not in METRICS:
            errors["metric"] = f"unknown metric {self.metric!r}; see collectors/store/catalog.py"
        if self.aggregation == ERROR_RATIO and self.metric != "http_requests":
            errors["aggregation"] = "error_ratio is computed from the http_requests metric"
        if not isinstance(self.label_filters, dict) or not all(
            isinstance(v, str) for v in (self.label_filters or {}).values()
        ):
            errors["label_filters"] = "a JSON object of label name to string value"
        if self.k_of_n_k < 1 or self.k_of_n_n < self.k_of_n_k or self.k_of_n_n > 60:
            errors["k_of_n_n"] = "need 1 ≤ k ≤ n ≤ 60"
        if self.aggregation == BURN_RATE and not (
            isinstance(self.sli, dict) and self.sli.get("kind") and self.objective_pct
        ):
            errors["aggregation"] = "burn_rate rules are generated by SLOs (incidents → SLOs)"
        if self.window_seconds < 15:
            errors["window_seconds"] = "at least 15 seconds (one collection interval)"
        if errors:
            raise ValidationError(errors)

    @property
    def service_name(self) -> str:
        """The service this rule watches: its own field, else its service label filter."""
        return self.service or (self.label_filters or {}).get("service", "")

    def condition(self, value: float) -> bool:
        return COMPARATORS[self.comparator](value, self.threshold)

    def repeat_interval(self, severity: str | None = None) -> timedelta | None:
        """How long after the last notification a still-firing alert is sent again (None:
        never)."""
        if self.repeat_interval_minutes is not None:
            return timedelta(minutes=self.repeat_interval_minutes) or None
        return REPEAT_INTERVAL.get(severity or self.severity)

    @property
    def notify_limit(self) -> timedelta:
        return timedelta(minutes=self.notify_limit_minutes)

    def describe(self) -> str:
        if self.source == self.Source.EXTERNAL:
            return self.description or "fired and resolved by an external alerting system"
        if self.aggregation == BURN_RATE:
            short = self.short_window_seconds or self.window_seconds
            return (
                f"burn rate of {self.sli.get('kind')} SLO ({self.objective_pct:g}%) "
                f"> {self.threshold:g}× over {self.window_seconds}s and {short}s"
            )
        agg = f"{self.aggregation}({self.metric})"
        if self.label_filters:
            agg += "{" + label_key(self.label_filters) + "}"
        text = f"{agg} over {self.window_seconds}s {self.comparator} {self.threshold:g}"
        if self.for_seconds:
            text += f" for {self.for_seconds}s"
        if self.k_of_n_n > 1:
            text += f" in {self.k_of_n_k} of {self.k_of_n_n} evaluations"
        return text


class AlertQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(state=Alert.State.RESOLVED)

    def active(self):
        return self.filter(state__in=[Alert.State.FIRING, Alert.State.ACKNOWLEDGED])


class Alert(models.Model):
    """One occurrence of a rule's condition for one label set. Only one unresolved alert may
    exist per rule and label set (partial unique constraint); evaluations update it."""

    class State(models.TextChoices):
        PENDING = "pending"
        FIRING = "firing"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    # The state machine: every transition anywhere in the code goes through this table.
    TRANSITIONS: dict[str, frozenset[str]] = {
        State.PENDING: frozenset({State.FIRING}),
        State.FIRING: frozenset({State.ACKNOWLEDGED, State.RESOLVED}),
        State.ACKNOWLEDGED: frozenset({State.RESOLVED}),
        State.RESOLVED: frozenset(),
    }

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    labels = models.JSONField(default=dict)
    label_key = models.TextField()
    state = models.CharField(max_length=14, choices=State.choices, default=State.PENDING)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    service = models.CharField(max_length=LABEL_VALUE_MAX, blank=True)
    message = models.CharField(max_length=500)
    value = models.FloatField(null=True, help_text="Value when the alert fired.")
    last_value = models.FloatField(null=True)
    started_at = models.DateTimeField(help_text="When the condition first held.")
    fired_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField()
    # Condition results of the last n evaluations, oldest first ("1" true, "0" false).
    history = models.CharField(max_length=60, default="")
    notified = models.BooleanField(default=False, help_text="A firing notification went out.")
    last_notified_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)
    false_positive = models.BooleanField(default=False)
    escalation_step = models.PositiveSmallIntegerField(default=0)
    escalation_due_at = models.DateTimeField(null=True, blank=True)
    escalation_token = models.UUIDField(null=True, blank=True)
    # The policy's steps copied when escalation starts, so later edits of the policy do not
    # change an alert already escalating: [{"wait_minutes": 10, "channels": [{"id", "name"}]}].
    escalation_chain = models.JSONField(default=list, blank=True)
    # Demo rows are tagged so the demo loader can replace them without touching real ones.
    is_demo = models.BooleanField(default=False, editable=False)
    # Where notification grouping (alerts.grouping) put the alert: its group's key, or why it
    # is held back ("suppressed: parent db down (alert #12)", "silenced by silence #3").
    group_key = models.CharField(max_length=300, blank=True, editable=False)

    objects = AlertQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "label_key"],
                condition=~models.Q(state="resolved"),
                name="alert_one_open_per_rule_labels",
            )
        ]
        indexes = [
            models.Index(fields=["-started_at"], name="alert_started_idx"),
            models.Index(fields=["state", "severity"], name="alert_state_sev_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message}"

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.severity, self.severity.upper())

    @property
    def runbook_url(self) -> str:
        return self.rule.runbook_url

    @property
    def timestamp(self):
        return self.fired_at or self.started_at

    def can_transition(self, new_state: str) -> bool:
        return new_state in self.TRANSITIONS[self.state]

    def transition(
        self,
        new_state: str,
        *,
        at=None,
        actor=None,
        actor_label: str = "",
        message: str = "",
        extra: dict | None = None,
    ) -> bool:
        """Move to ``new_state`` with a compare-and-set update; write the timeline entry.

        Returns False (and changes nothing) when the row is no longer in the state this object
        holds, e.g. someone acknowledged it or another evaluator resolved it meanwhile.
        """
        if not self.can_transition(new_state):
            raise InvalidTransition(f"alert #{self.pk}: {self.state} → {new_state} is not allowed")
        at = at or timezone.now()
        fields = {"state": new_state, **(extra or {})}
        if new_state == self.State.FIRING:
            fields.setdefault("fired_at", at)
        elif new_state == self.State.ACKNOWLEDGED:
            fields.update(
                acknowledged_at=at,
                acknowledged_by=actor if _is_user(actor) else None,
                escalation_due_at=None,
            )
        elif new_state == self.State.RESOLVED:
            fields.update(resolved_at=at, escalation_due_at=None)
        won = Alert.objects.filter(pk=self.pk, state=self.state).update(**fields) == 1
        if not won:
            return False
        old = self.state
        for k, v in fields.items():
            setattr(self, k, v)
        AlertEvent.objects.create(
            alert=self,
            at=at,
            kind=AlertEvent.Kind.STATE,
            from_state=old,
            to_state=new_state,
            actor=actor if _is_user(actor) else None,
            actor_label=actor_label or (actor.get_username() if _is_user(actor) else "system"),
            message=message,
        )
        return True

    def log(
        self, kind: str, message: str, *, actor=None, actor_label: str = "", at=None
    ) -> AlertEvent:
        return AlertEvent.objects.create(
            alert=self,
            at=at or timezone.now(),
            kind=kind,
            message=message[:1000],
            actor=actor if _is_user(actor) else None,
            actor_label=actor_label or (actor.get_username() if _is_user(actor) else "system"),
        )

    def match_labels(self) -> dict[str, str]:
        """Labels silences match against: the series labels plus alertname/severity/service."""
        return {
            **self.labels,
            "alertname": self.rule.name,
            "severity": self.severity,
            "service": self.service,
        }


def _is_user(actor) -> bool:
    return getattr(actor, "is_authenticated", False)


class InvalidTransition(Exception):
    pass


class AlertEvent(models.Model):
    """The alert's timeline: state changes, notes, notifications, escalations, with who and when."""

    class Kind(models.TextChoices):
        STATE = "state"
        NOTE = "note"
        NOTIFY = "notify"
        SUPPRESSED = "suppressed"
        ESCALATION = "escalation"
        FALSE_POSITIVE = "false_positive"
        INCIDENT = "incident"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_state = models.CharField(max_length=14, blank=True)
    to_state = models.CharField(max_length=14, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, default="system")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.message}"


class Delivery(models.Model):
    """One attempt to send one notification to one channel. Retries add rows."""

    class Status(models.TextChoices):
        SENT = "sent"
        FAILED = "failed"  # permanent, or retries exhausted
        RETRYING = "retrying"  # failed; another attempt is scheduled

    class Event(models.TextChoices):
        TRIGGER = "trigger"
        REPEAT = "repeat"
        ACKNOWLEDGE = "acknowledge"
        RESOLVE = "resolve"
        ESCALATE = "escalate"
        DIGEST = "digest"
        SUMMARY = "summary"  # one message for many transitions after an evaluation gap
        GROUP = "group"  # one message for the firing alerts of one notification group

    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The daily digest covers many alerts; their ids are kept here.
    alert_ids = models.JSONField(default=list, blank=True)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=12, choices=Event.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.channel.name}: {self.status} (attempt {self.attempt})"


class GroupingPolicy(models.Model):
    """How firing alerts are gathered into notifications, as Alertmanager routes do: alerts
    with the same values of ``group_by`` (within one severity route) make one group; a new
    group waits ``group_wait`` for its siblings, then is sent again at most every
    ``group_interval`` when new alerts join it, and every ``repeat_interval`` while it still
    fires unacknowledged. One row; the defaults are Alertmanager's."""

    group_by = models.JSONField(
        default=list,
        blank=True,
        help_text='Label names, e.g. ["service", "severity"] (the default when empty). '
        "alertname, severity and service work as well as series labels.",
    )
    group_wait_seconds = models.PositiveIntegerField(default=30)
    group_interval_seconds = models.PositiveIntegerField(default=300)
    repeat_interval_minutes = models.PositiveIntegerField(default=240)

    DEFAULT_GROUP_BY = ("service", "severity")

    class Meta:
        verbose_name_plural = "grouping policy"

    def __str__(self) -> str:
        return (
            f"group by {', '.join(self.labels)}: wait {self.group_wait_seconds} s, "
            f"interval {self.group_interval_seconds} s, repeat {self.repeat_interval_minutes} min"
        )

    def clean(self) -> None:
        if not isinstance(self.group_by, list) or not all(
            isinstance(x, str) and x for x in self.group_by
        ):
            raise ValidationError({"group_by": 'a JSON list of label names, e.g. ["service"]'})

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.group_by or self.DEFAULT_GROUP_BY)

    @property
    def group_wait(self) -> timedelta:
        return timedelta(seconds=self.group_wait_seconds)

    @property
    def group_interval(self) -> timedelta:
        return timedelta(seconds=self.group_interval_seconds)

    @property
    def repeat_interval(self) -> timedelta:
        return timedelta(minutes=self.repeat_interval_minutes)

    @classmethod
    def current(cls) -> GroupingPolicy:
        """The saved policy, or the defaults when nobody has saved one."""
        return cls.objects.order_by("pk").first() or cls()


class NotificationGroup(models.Model):
    """One notification group and its notification log: what was last sent and when, so a
    group is sent again only when its firing set grows, or after the repeat interval."""

    key = models.CharField(max_length=300, unique=True)
    route = models.CharField(max_length=10, help_text="The severity route: critical or warning.")
    labels = models.JSONField(default=dict)
    first_seen_at = models.DateTimeField()
    next_flush_at = models.DateTimeField()
    last_flushed_at = models.DateTimeField(null=True, blank=True)
    notified_ids = models.JSONField(default=list, blank=True)
    # Children held back because their parent service is down, named in the notification.
    suppressed = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class OutboxMessage(models.Model):
    """A notification decided but not yet finished: written in the same transaction as the
    alert change it announces (a state change, a group flush, an escalation step), so it
    exists exactly when that change does. The delivery task marks it done (sent, or failed for
    good: a Delivery row says which); a beat task re-queues any that are due and unfinished,
    e.g. because Redis was down at enqueue time or a worker died holding the task. ``token``
    changes on each hand-over, so a stale copy of the task finds it has been replaced and does
    nothing (no double notification)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=12)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    alert_ids = models.JSONField(default=list, blank=True)
    # A group notification's group; a plain id: the group row goes when its alerts resolve,
    # and the message is still worth sending (it lists the alerts by alert_ids).
    group_id = models.BigIntegerField(null=True, blank=True)
    recipients = models.JSONField(null=True, blank=True)  # after a partial failure: who is left
    attempts = models.PositiveSmallIntegerField(default=0)
    token = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="When the drain may hand it to a worker (again).")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"], name="outbox_due_idx", condition=models.Q(done_at__isnull=True)
            ),
            models.Index(fields=["done_at"], name="outbox_done_idx"),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.pk}: {self.event} → channel {self.channel_id}"


class EvaluatorState(models.Model):
    """One row: when the evaluation loop last ran a full cycle, so the next cycle can tell
    that the monitor itself was down (workers stopped, beat dead) and for how long."""

    last_cycle_at = models.DateTimeField(null=True, blank=True)
    last_gap_at = models.DateTimeField(
        null=True, blank=True, help_text="The last cycle that came after a gap."
    )
    last_gap_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = "evaluator state"

    def __str__(self) -> str:
        return f"evaluator: last cycle {self.last_cycle_at}"


def new_token() -> uuid.UUID:
    return uuid.uuid4()


# A rule without its own repeat_interval_minutes repeats at its severity's interval.
REPEAT_INTERVAL = {Severity.CRITICAL: timedelta(hours=1), Severity.WARNING: timedelta(hours=4)}
