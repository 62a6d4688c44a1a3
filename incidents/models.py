"""Incidents and their timeline. An incident groups alerts and tracks the human response."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Incident(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "critical"
        WARNING = "warning"
        INFO = "info"

    class Status(models.TextChoices):
        OPEN = "open"
        MITIGATED = "mitigated"
        RESOLVED = "resolved"

    # Allowed status changes, in one place. Reopening is allowed: a fix that did not hold.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.MITIGATED, Status.RESOLVED}),
        Status.MITIGATED: frozenset({Status.OPEN, Status.RESOLVED}),
        Status.RESOLVED: frozenset({Status.OPEN}),
    }

    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    service = models.CharField(max_length=100, blank=True)
    summary = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    alerts = models.ManyToManyField("alerts.Alert", related_name="incidents", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Demo rows are tagged so the demo loader can replace them without touching real ones.
    is_demo = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["started_at"], name="incident_started_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def duration(self):
        end = self.resolved_at or timezone.now()
        return end - self.started_at

    @property
    def duration_text(self) -> str:
        minutes = int(self.duration.total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class IncidentEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created"
        STATUS = "status"
        UPDATE = "update"
        NOTE = "note"
        ALERT = "alert"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, default="system")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.message}"
