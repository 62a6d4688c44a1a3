"""Service level objectives: a service, an SLI and an objective over a rolling window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models

from alerts.burn_rate import DEFAULT_WINDOWS, SEVERITY, BurnWindow
from collectors.sli import AVAILABILITY, LATENCY, SUCCESS_RATIO, SliSpec


def default_burn_alerts() -> list[dict]:
    return [
        {
            "severity": w.severity,
            "factor": w.factor,
            "long_seconds": w.long_seconds,
            "short_seconds": w.short_seconds,
        }
        for w in DEFAULT_WINDOWS
    ]


def burn_alert_errors(value) -> list[str]:
    """Problems of a burn_alerts list, each naming the entry and key."""
    if not isinstance(value, list):
        return ["must be a list of {severity, factor, long_seconds, short_seconds}"]
    problems = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            problems.append(f"[{i}]: must be an object")
            continue
        if entry.get("severity") not in SEVERITY:
            problems.append(f"[{i}].severity: page or ticket")
        factor = entry.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            problems.append(f"[{i}].factor: a burn rate above 0")
        long_s, short_s = entry.get("long_seconds"), entry.get("short_seconds")
        for key, seconds in (("long_seconds", long_s), ("short_seconds", short_s)):
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 60:
                problems.append(f"[{i}].{key}: whole seconds, at least 60")
        if isinstance(long_s, int) and isinstance(short_s, int) and short_s > long_s:
            problems.append(f"[{i}].short_seconds: not longer than long_seconds")
    return problems


class SLO(models.Model):
    class Kind(models.TextChoices):
        AVAILABILITY = AVAILABILITY, "Availability (probes, maintenance excluded)"
        SUCCESS_RATIO = SUCCESS_RATIO, "Request success ratio (non-5xx / all)"
        LATENCY = LATENCY, "Latency (requests faster than a threshold)"

    class Window(models.TextChoices):
        DAYS_28 = "28d", "28 days, rolling"
        DAYS_30 = "30d", "30 days, rolling"
        CALENDAR_MONTH = "month", "Calendar month"

    ROLLING = {Window.DAYS_28: timedelta(days=28), Window.DAYS_30: timedelta(days=30)}

    name = models.CharField(max_length=100, unique=True)
    service = models.ForeignKey("collectors.Service", on_delete=models.PROTECT, related_name="slos")
    description = models.TextField(blank=True)
    sli_kind = models.CharField(max_length=16, choices=Kind.choices)
    route = models.CharField(
        max_length=200, blank=True, help_text="Requests of one route only; empty: all routes."
    )
    threshold_ms = models.FloatField(
        null=True, blank=True, help_text="Latency SLIs: a request is good when this fast."
    )
    objective_pct = models.FloatField(help_text="Target share of good events, e.g. 99.9.")
    window = models.CharField(max_length=8, choices=Window.choices, default=Window.DAYS_30)
    burn_alerts = models.JSONField(
        default=default_burn_alerts,
        blank=True,
        help_text="Multi-window burn-rate alerts: [{severity: page|ticket, factor, "
        "long_seconds, short_seconds}]; empty: no alerts.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "incidents"
        ordering = ["service__position", "service__name", "name"]
        verbose_name = "SLO"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.objective_pct is None or not 0 < self.objective_pct < 100:
            errors["objective_pct"] = "the objective is a percentage strictly between 0 and 100"
        if self.window not in self.Window.values:
            errors["window"] = f"unsupported window; use one of {', '.join(self.Window.values)}"
        if self.sli_kind not in self.Kind.values:
            errors["sli_kind"] = f"unknown SLI kind; use one of {', '.join(self.Kind.values)}"
        if self.sli_kind == LATENCY and (self.threshold_ms is None or self.threshold_ms <= 0):
            errors["threshold_ms"] = "a latency SLI needs a threshold above 0 ms"
        if self.sli_kind != LATENCY and self.threshold_ms is not None:
            errors["threshold_ms"] = "only latency SLIs have a threshold"
        if self.sli_kind == AVAILABILITY and self.route:
            errors["route"] = "availability is per service (from its probes), not per route"
        if problems := burn_alert_errors(self.burn_alerts):
            errors["burn_alerts"] = "; ".join(problems)
        if errors:
            raise ValidationError(errors)

    @property
    def spec(self) -> SliSpec:
        return SliSpec(self.sli_kind, self.service.name, self.route, self.threshold_ms)

    @property
    def objective(self) -> float:
        return self.objective_pct / 100.0

    def window_start(self, now: datetime) -> datetime:
        if self.window == self.Window.CALENDAR_MONTH:
            return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return now - self.ROLLING[self.window]

    def window_length(self, now: datetime) -> timedelta:
        """The whole window: a calendar month's full length, not the part elapsed."""
        if self.window == self.Window.CALENDAR_MONTH:
            start = self.window_start(now)
            following = (start + timedelta(days=32)).replace(day=1)
            return following - start
        return self.ROLLING[self.window]

    @property
    def window_text(self) -> str:
        return self.get_window_display()

    def burn_windows(self) -> list[BurnWindow]:
        return [
            BurnWindow(a["severity"], float(a["factor"]), a["long_seconds"], a["short_seconds"])
            for a in self.burn_alerts or []
        ]

    def sli_text(self) -> str:
        where = f"{self.service.name}{' ' + self.route if self.route else ''}"
        if self.sli_kind == LATENCY:
            return f"requests of {where} under {self.threshold_ms:g} ms"
        if self.sli_kind == SUCCESS_RATIO:
            return f"non-5xx requests of {where}"
        return f"time {where} is up (maintenance excluded)"
