"""Scheduled reports: a dashboard page's panels (and the SLA table) e-mailed as a workbook.

When a report is due is decided here, on the model (``latest_occurrence`` / ``is_due``), so
the beat task, the admin and the reports page agree; building and sending live in
``dashboards.reports``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, validate_email
from django.db import models
from django.utils import timezone

from dashboards.pages import PAGES, page_by_slug

MAX_RECIPIENTS = 50


def add_months(at: datetime, months: int) -> datetime:
    """``at`` moved by whole months; only used on day 1, so every month has the day."""
    index = at.year * 12 + at.month - 1 + months
    return at.replace(year=index // 12, month=index % 12 + 1)


def quarter_start(at: datetime) -> datetime:
    """Midnight of day 1 of ``at``'s calendar quarter (same time zone)."""
    return at.replace(
        month=(at.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )


def split_recipients(value: str) -> list[str]:
    """The addresses of a comma-separated list (blank entries from "a@x, , b@y" dropped)."""
    return [part.strip() for part in (value or "").replace(";", ",").split(",") if part.strip()]


def validate_recipients(value: str) -> None:
    addresses = split_recipients(value)
    if not addresses:
        raise ValidationError("Give at least one e-mail address.")
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationError(f"At most {MAX_RECIPIENTS} addresses.")
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(
            "Not e-mail addresses: %(bad)s", params={"bad": ", ".join(bad)}, code="invalid"
        )


class ScheduledReport(models.Model):
    class Range(models.TextChoices):
        DAY = "24h", "last 24 hours"
        WEEK = "7d", "last 7 days"
        MONTH = "30d", "last 30 days"
        PREVIOUS_MONTH = "previous-month", "previous calendar month"
        PREVIOUS_QUARTER = "previous-quarter", "previous calendar quarter"

    class Frequency(models.TextChoices):
        DAILY = "daily", "daily"
        WEEKLY = "weekly", "weekly, on the weekday below"
        MONTHLY = "monthly", "monthly, on day 1"
        QUARTERLY = "quarterly", "quarterly, on day 1 of January, April, July and October"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel workbook, one sheet per panel"
        CSV_ZIP = "csv-zip", "zip of CSV files, one per panel"

    name = models.CharField(max_length=100)
    page = models.CharField(max_length=32, choices=[(p.slug, p.title) for p in PAGES])
    range = models.CharField(max_length=16, choices=Range.choices, default=Range.WEEK)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices,
        null=True,
        blank=True,
        help_text="Weekly reports only: the day they are sent.",
    )
    hour_utc = models.PositiveSmallIntegerField(
        default=7,
        validators=[MaxValueValidator(23)],
        help_text="Hour of the day (UTC, 0–23) the report is sent.",
    )
    recipients = models.TextField(
        validators=[validate_recipients], help_text="E-mail addresses, separated by commas."
    )
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.XLSX)
    enabled = models.BooleanField(default=True)
    # Set when a send is claimed (compare-and-set), cleared back on failure so the next tick
    # retries; only the newest occurrence after it is ever sent.
    last_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Occurrences before a report existed are not owed: a report made at 10:00 for 08:00 daily
    # is first sent tomorrow, not at once.
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(frequency="weekly") | models.Q(weekday__isnull=False),
                name="scheduledreport_weekly_has_weekday",
            ),
            models.CheckConstraint(
                condition=models.Q(hour_utc__lte=23), name="scheduledreport_hour_utc_0_23"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.frequency == self.Frequency.WEEKLY and self.weekday is None:
            raise ValidationError({"weekday": "A weekly report needs the weekday it is sent on."})
        if self.frequency != self.Frequency.WEEKLY:
            self.weekday = None

    @property
    def recipient_list(self) -> list[str]:
        return split_recipients(self.recipients)

    @property
    def dashboard(self):
        """The dashboards.pages.Page this report is of (None if the page no longer exists)."""
        return page_by_slug(self.page)

    @property
    def schedule_text(self) -> str:
        at = f"{self.hour_utc:02d}:00 UTC"
        if self.frequency == self.Frequency.WEEKLY and self.weekday is not None:
            return f"every {self.Weekday(self.weekday).label} at {at}"
        if self.frequency == self.Frequency.MONTHLY:
            return f"on day 1 of every month at {at}"
        if self.frequency == self.Frequency.QUARTERLY:
            return f"on day 1 of every quarter at {at}"
        return f"every day at {at}"

    def latest_occurrence(self, now: datetime) -> datetime:
        """The newest scheduled send time at or before ``now`` (UTC)."""
        now = now.astimezone(UTC)
        at = now.replace(hour=self.hour_utc, minute=0, second=0, microsecond=0)
        if self.frequency == self.Frequency.QUARTERLY:
            at = quarter_start(at).replace(hour=self.hour_utc)
            return at if at <= now else add_months(at, -3)
        if self.frequency == self.Frequency.MONTHLY:
            at = at.replace(day=1)
            if at > now:  # day 1 of this month is still ahead: the previous month's day 1
                at = (at - timedelta(days=1)).replace(day=1)
            return at
        if self.frequency == self.Frequency.WEEKLY:
            at -= timedelta(days=(at.weekday() - (self.weekday or 0)) % 7)
            return at if at <= now else at - timedelta(days=7)
        return at if at <= now else at - timedelta(days=1)

    def next_occurrence(self, now: datetime) -> datetime:
        """The first scheduled send time after ``now`` (UTC)."""
        latest = self.latest_occurrence(now)
        if self.frequency == self.Frequency.QUARTERLY:
            return add_months(latest, 3)
        if self.frequency == self.Frequency.MONTHLY:
            return (latest.replace(day=28) + timedelta(days=4)).replace(day=1)
        return latest + timedelta(days=7 if self.frequency == self.Frequency.WEEKLY else 1)

    def is_due(self, now: datetime) -> bool:
        """Enabled, and its newest occurrence (since it was created) has not been sent."""
        if not self.enabled:
            return False
        occurrence = self.latest_occurrence(now)
        if occurrence < self.created_at:
            return False
        return self.last_sent_at is None or self.last_sent_at < occurrence
