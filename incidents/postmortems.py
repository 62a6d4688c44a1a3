"""Blameless postmortems of resolved incidents and their corrective actions. Defined here to
keep incidents/models.py about the incident itself; ``incidents.models`` re-exports them."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone


class Postmortem(models.Model):
    """What happened, what it cost, why, and what we change: written about systems and
    decisions, never about who is to blame. ``impact`` is computed from the store when the
    postmortem is created (and on request), the ``timeline`` is pre-filled from the
    incident's alerts, acknowledgements, updates and its service's deployments."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="postmortem"
    )
    summary = models.TextField()
    impact = models.JSONField(default=dict, blank=True)
    impact_notes = models.TextField(blank=True, help_text="Impact the data does not show.")
    timeline = models.TextField(blank=True, help_text="One entry per line: time (UTC) — event.")
    five_whys = models.JSONField(default=list, blank=True)
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    what_went_well = models.TextField(blank=True)
    review_meeting_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # The free-text fields written after the summary: the form, the API and their readers
    # take them as they are.
    TEXT_FIELDS = (
        "impact_notes",
        "timeline",
        "root_cause",
        "contributing_factors",
        "what_went_well",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Postmortem of incident #{self.incident_id}"

    def written(self) -> dict:
        """What the team wrote, field by field, as the form and the API show it (without the
        five whys, which each shows its own way, and the actions)."""
        fields = ("summary", *self.TEXT_FIELDS, "review_meeting_on")
        return {f: getattr(self, f) for f in fields}


class CorrectiveAction(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done"
        WONT_DO = "wont_do", "Won't do"

    OPEN_STATUSES = frozenset({Status.OPEN, Status.IN_PROGRESS})
    # What a writer gives for one action (``id`` names an existing one to change).
    WRITTEN_FIELDS = ("id", "title", "owner", "due_on", "status", "link")

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=300)
    owner = models.CharField(max_length=150, help_text="Who sees it through (a name or username).")
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    link = models.URLField(max_length=500, blank=True, help_text="Ticket or pull request.")
    done_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"], name="action_status_due_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, today: date | None = None) -> bool:
        return self.is_open and self.due_on < (today or timezone.localdate())

    def written(self) -> dict:
        """The action as its writer gave it, in the shape ``postmortem_save`` takes back."""
        return {"id": self.pk, **{f: getattr(self, f) for f in self.WRITTEN_FIELDS[1:]}}
