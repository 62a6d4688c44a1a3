"""Silences and maintenance windows: one-off or weekly, with the weekday and time-zone helpers
only they use. Defined here to keep alerts/models.py readable; ``alerts.models`` re-exports
every name, so Django registers the model in the alerts app and old imports keep working."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC as dt_utc
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from alerts.labels import label_key

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekdays(values) -> list[int]:
    """Days as 0-6 (Monday first) from numbers or names ("mon", "Tuesday"); ValueError if not."""
    if isinstance(values, str):
        values = [v for v in values.replace(";", ",").split(",") if v.strip()]
    days = set()
    for value in values or []:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
            days.add(value)
            continue
        text = str(value).strip().lower()
        if text.isdigit() and 0 <= int(text) <= 6:
            days.add(int(text))
        elif text[:3] in WEEKDAYS and WEEKDAYS_FULL[WEEKDAYS.index(text[:3])].startswith(text):
            days.add(WEEKDAYS.index(text[:3]))
        else:
            raise ValueError(f"unknown day {value!r}; use mon … sun or 0 (Monday) … 6 (Sunday)")
    return sorted(days)


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Window:
    """One concrete stretch of time a silence is in force: the whole of a one-off silence, or
    one occurrence of a weekly one (clipped to the silence's own start and end)."""

    silence: Silence
    starts_at: datetime
    ends_at: datetime

    @property
    def pk(self) -> int:
        return self.silence.pk

    id = pk

    @property
    def matchers(self) -> dict:
        return self.silence.matchers

    @property
    def everything(self) -> bool:
        return self.silence.everything

    @property
    def comment(self) -> str:
        return self.silence.comment

    @property
    def created_by(self):
        return self.silence.created_by

    @property
    def recurring(self) -> bool:
        return self.silence.recurring

    @property
    def schedule(self) -> str:
        return self.silence.schedule

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.starts_at < end and self.ends_at > start


class SilenceQuerySet(models.QuerySet):
    def overlapping(self, start: datetime, end: datetime):
        """Silences whose validity overlaps [start, end): one-off ones entirely, weekly ones
        between their first day and their "until" (occurrences are computed in Python)."""
        return self.filter(
            models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=start), starts_at__lt=end
        )


class Silence(models.Model):
    """A silence or maintenance window: alerts whose labels match all ``matchers`` while it is
    in force still change state but send no notifications.

    One-off: in force from ``starts_at`` to ``ends_at``. Weekly: in force on ``weekdays`` from
    ``local_start`` (wall-clock time in ``timezone``) for ``duration_minutes``, from
    ``starts_at`` until ``ends_at`` (blank: for ever). ``everything`` is whole-platform
    maintenance: no matchers, matches every alert and every service.
    """

    class Repeat(models.TextChoices):
        ONCE = "once", "one-off (start to end)"
        WEEKLY = "weekly", "weekly"

    matchers = models.JSONField(
        default=dict,
        blank=True,
        help_text='Label equality matchers, e.g. {"service": "smtp"}; alertname and severity work too.',
    )
    everything = models.BooleanField(
        default=False,
        help_text="Whole-platform maintenance: every alert and service (leave matchers empty).",
    )
    starts_at = models.DateTimeField(
        default=timezone.now, help_text="One-off: the start. Weekly: the first day it applies."
    )
    ends_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="One-off: the end (required). Weekly: repeat until (blank: no end).",
    )
    repeat = models.CharField(max_length=10, choices=Repeat.choices, default=Repeat.ONCE)
    weekdays = models.JSONField(
        default=list, blank=True, help_text="Weekly: days, 0 = Monday … 6 = Sunday."
    )
    local_start = models.TimeField(
        null=True, blank=True, help_text="Weekly: start time on the wall clock of the time zone."
    )
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="Weekly: IANA time zone, e.g. Europe/Berlin."
    )
    comment = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        what = "everything" if self.everything else label_key(self.matchers or {})
        if self.recurring:
            return f"silence {what} {self.schedule}"
        end = f"{self.ends_at:%Y-%m-%d %H:%M}" if self.ends_at else "?"
        return f"silence {what} until {end}"

    @property
    def recurring(self) -> bool:
        return self.repeat == self.Repeat.WEEKLY

    @property
    def weekday_names(self) -> list[str]:
        return [WEEKDAYS[d] for d in sorted(self.weekdays or []) if 0 <= d < 7]

    @property
    def schedule(self) -> str:
        """Readable schedule: "weekly Sat, Sun 02:00 Europe/Berlin for 120 min"."""
        if not self.recurring:
            return "one-off"
        days = ", ".join(n.capitalize() for n in self.weekday_names)
        start = f"{self.local_start:%H:%M}" if self.local_start else "?"
        text = f"weekly {days} {start} {self.timezone} for {self.duration_minutes} min"
        if self.ends_at:
            text += f" until {self.ends_at:%Y-%m-%d}"
        return text

    def clean(self) -> None:
        errors = {}
        matchers_ok = isinstance(self.matchers, dict) and all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in self.matchers.items()
        )
        if self.everything:
            if self.matchers:
                errors["matchers"] = "leave matchers empty for whole-platform maintenance"
        elif not matchers_ok or not self.matchers:
            errors["matchers"] = (
                "at least one label matcher, as a JSON object of non-empty strings "
                "(or mark it whole-platform maintenance)"
            )
        if self.repeat == self.Repeat.WEEKLY:
            days = self.weekdays
            if (
                not isinstance(days, list)
                or not days
                or not all(isinstance(d, int) and 0 <= d <= 6 for d in days)
            ):
                errors["weekdays"] = "pick at least one day (0 = Monday … 6 = Sunday)"
            if self.local_start is None:
                errors["local_start"] = "a weekly window needs a start time"
            if not self.duration_minutes or self.duration_minutes > 7 * 24 * 60:
                errors["duration_minutes"] = "between 1 minute and 7 days"
            if not valid_timezone(self.timezone or ""):
                errors["timezone"] = f"unknown time zone {self.timezone!r} (e.g. Europe/Berlin)"
        elif self.ends_at is None:
            errors["ends_at"] = "a one-off silence needs an end"
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "the end must be after the start"
        if not (self.comment or "").strip():
            errors["comment"] = "say why (a maintenance ticket, a known issue)"
        if errors:
            raise ValidationError(errors)

    def occurrences(self, start: datetime, end: datetime) -> list[Window]:
        """The windows of this silence overlapping [start, end), in time order."""
        if not self.recurring:
            if self.ends_at is None:
                return []
            window = Window(self, self.starts_at, self.ends_at)
            return [window] if window.overlaps(start, end) else []
        if not (self.weekdays and self.local_start and self.duration_minutes):
            return []
        lo = max(start, self.starts_at)
        hi = min(end, self.ends_at) if self.ends_at else end
        if lo >= hi:
            return []
        zone = ZoneInfo(self.timezone)
        length = timedelta(minutes=self.duration_minutes)
        days = set(self.weekdays)
        # Start early enough to catch an occurrence that began before ``lo`` and still runs.
        day = (lo - length).astimezone(zone).date() - timedelta(days=1)
        last = hi.astimezone(zone).date()
        out = []
        while day <= last:
            if day.weekday() in days:
                # Wall-clock start in the zone (so 02:00 stays 02:00 across DST); the duration
                # is real elapsed time.
                begin = datetime.combine(day, self.local_start, tzinfo=zone).astimezone(dt_utc)
                window = Window(
                    self,
                    max(begin, self.starts_at),
                    min(begin + length, self.ends_at) if self.ends_at else begin + length,
                )
                if window.starts_at < window.ends_at and window.overlaps(start, end):
                    out.append(window)
            day += timedelta(days=1)
        return out

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return bool(self.occurrences(at, at + timedelta(microseconds=1)))

    def next_window(self, at=None) -> Window | None:
        """The window in force at ``at`` or the next one to start (within 8 days for weekly)."""
        at = at or timezone.now()
        found = self.occurrences(at, at + timedelta(days=8))
        return found[0] if found else None

    def matches(self, labels: dict) -> bool:
        if self.everything:
            return True
        return bool(self.matchers) and all(labels.get(k) == v for k, v in self.matchers.items())

    def covers_service(self, service: str) -> bool:
        """Maintenance of the whole service: whole-platform, or matching on service alone (a
        silence of one alert or one host of the service is not maintenance of the service)."""
        return self.everything or self.matchers == {"service": service}
