"""Incidents and their timeline. An incident groups alerts and tracks the human response."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
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
    # As long as a label value (an incident opened from an alert takes the alert's service).
    service = models.CharField(max_length=200, blank=True)
    summary = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    alerts = models.ManyToManyField("alerts.Alert", related_name="incidents", blank=True)
    # The release that caused this incident: a "change failure" in the DORA figures.
    caused_by_deployment = models.ForeignKey(
        "incidents.Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="caused_incidents",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Who answers for it now: reminded when it goes without an update (default: its creator).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The name the status page shows once a public update is posted; the title may hold
    # internal names (hosts, alert text) and is never shown publicly.
    public_title = models.CharField(max_length=200, blank=True)
    # When the owner was last reminded that nobody posted an update (compare-and-set claim).
    update_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
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

    def log(
        self, kind: str, message: str, *, actor=None, actor_label: str = "system", at=None
    ) -> IncidentEvent:
        """One line on the incident's timeline (the message cut at 5,000 characters)."""
        return IncidentEvent.objects.create(
            incident=self,
            kind=kind,
            actor=actor,
            actor_label=actor_label,
            at=at or timezone.now(),
            message=message[:5000],
        )


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


class Deployment(models.Model):
    """One release of one service to one environment, as a CI pipeline reports it.

    The DORA figures are read from these rows: how often we release, how long a change takes
    from commit to production (``commit_at`` → ``finished_at``), and how many releases fail,
    are rolled back or cause an incident (``Incident.caused_by_deployment``).
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        ROLLED_BACK = "rolled_back"

    FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK})
    # A deployment that went out can still be rolled back later (after an incident, say);
    # one that failed may be rolled back to the previous version. Nothing goes back to running.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.IN_PROGRESS: FINISHED,
        Status.SUCCEEDED: frozenset({Status.ROLLED_BACK}),
        Status.FAILED: frozenset({Status.ROLLED_BACK}),
        Status.ROLLED_BACK: frozenset(),
    }

    service = models.CharField(max_length=100)
    environment = models.CharField(max_length=50, default="production")
    version = models.CharField(max_length=100, blank=True)
    commit_sha = models.CharField(
        max_length=64,
        blank=True,
        validators=[
            RegexValidator(r"^[0-9a-fA-F]{7,64}$", "a commit sha is 7 to 64 hexadecimal digits")
        ],
    )
    commit_at = models.DateTimeField(
        null=True, blank=True, help_text="When the change was committed (for lead time)."
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    deployed_by = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True, help_text="The CI run.")
    notes = models.TextField(blank=True)
    # Recorded while an SLO of the service had no error budget left (incidents/slo/freeze.py):
    # accepted, and flagged so the release can be reviewed against the freeze policy.
    during_freeze = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    is_demo = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["started_at"], name="deployment_started_idx"),
            models.Index(fields=["service", "started_at"], name="deployment_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.version or self.commit_sha[:12] or '#' + str(self.pk)}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        finished = self.status in self.FINISHED
        if self.finished_at is not None and not finished:
            add(
                "finished_at",
                "a deployment still in progress has no finished_at; "
                "send status succeeded, failed or rolled_back with it",
            )
        if finished and self.finished_at is None:
            add("finished_at", f"a {self.status} deployment needs finished_at")
        if self.finished_at and self.started_at and self.finished_at < self.started_at:
            add("finished_at", "finished_at is before started_at")
        if self.commit_at and self.started_at and self.commit_at > self.started_at:
            add("commit_at", "commit_at is after started_at: the change must exist first")
        if errors:
            raise ValidationError(errors)

    @property
    def lead_time_hours(self) -> float | None:
        """Commit to running in production; only a deployment that succeeded delivered it."""
        if self.status != self.Status.SUCCEEDED or not (self.commit_at and self.finished_at):
            return None
        return round((self.finished_at - self.commit_at).total_seconds() / 3600, 2)

    @property
    def duration_text(self) -> str:
        if self.finished_at is None:
            return "running"
        seconds = int((self.finished_at - self.started_at).total_seconds())
        return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


# SLOs live in their own package; imported here so Django registers the model with the app.
from incidents.communication import IncidentUpdate, StatusComponent  # noqa: E402
from incidents.postmortems import CorrectiveAction, Postmortem  # noqa: E402
from incidents.slo.models import SLO as SLO  # noqa: E402

__all__ = [
    "SLO",
    "CorrectiveAction",
    "Deployment",
    "Incident",
    "IncidentEvent",
    "IncidentUpdate",
    "Postmortem",
    "StatusComponent",
]
