"""What the outside world is told: status-page components and incident updates. Defined here
to keep incidents/models.py about the incident itself; ``incidents.models`` re-exports both,
so Django registers them in the incidents app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class StatusComponent(models.Model):
    """One line of the public status page: a public name over internal services. Only
    ``name`` and ``description`` are ever shown; the services behind it stay internal."""

    name = models.CharField(
        max_length=100, unique=True, help_text="Public name, e.g. 'Email sending'."
    )
    description = models.CharField(max_length=300, blank=True, help_text="Public, one sentence.")
    services = models.ManyToManyField(
        "collectors.Service",
        related_name="status_components",
        blank=True,
        help_text="Internal services whose health and uptime this component shows.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    visible = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class IncidentUpdate(models.Model):
    """A message about an incident by the people working on it. Public ones appear on the
    status page and in its feed; each can be sent to the stakeholders' channels."""

    class Status(models.TextChoices):
        INVESTIGATING = "investigating"
        IDENTIFIED = "identified"
        MONITORING = "monitoring"
        RESOLVED = "resolved"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="updates"
    )
    status = models.CharField(max_length=13, choices=Status.choices)
    message = models.TextField()
    public = models.BooleanField(default=False)
    channels = models.ManyToManyField("alerts.Channel", related_name="+", blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=200, default="system")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["public", "created_at"], name="update_public_idx")]

    def __str__(self) -> str:
        return f"#{self.incident_id} {self.status}: {self.message[:60]}"
