"""The time range a dashboard shows, parsed from the query string, and the period before it.

``?range=24h`` (1h, 24h, 7d, 30d, 90d) or ``?range=custom&start=…&end=…`` (ISO dates or
datetimes, as a ``datetime-local`` input sends them; naive values are read in the site's time
zone). Every panel of a page gets the same ``TimeRange``; ``previous()`` is the equally long
period that ends where this one starts, which is what the comparison deltas and the dashed
previous-period traces show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_RANGE = "24h"
CUSTOM = "custom"
# A chart wider than this many points draws no more detail on a 1280 px screen, and each
# point costs render time; the step is chosen so a range has at most this many.
MAX_POINTS = 240
NICE_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MIN_CUSTOM = timedelta(minutes=5)
MAX_CUSTOM = timedelta(days=400)  # the 1-hour rollups are kept this long


class RangeError(ValueError):
    """The requested range cannot be shown; the message says why, for the user."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# Labels a page can be narrowed to, like Grafana's dashboard variables; kept in the URL
# (?service=api&route=/v1/send) so a link, a refresh and an export show the same slice.
PICKERS = ("service", "route", "host", "tenant")


@dataclass(frozen=True)
class TimeRange:
    key: str  # a PRESETS key or "custom"
    start: datetime
    end: datetime
    # Picked label values, e.g. (("host", "db-1"),): charts of metrics carrying the label
    # show only those series.
    filters: tuple[tuple[str, str], ...] = ()

    def filter(self, label: str) -> str:
        return dict(self.filters).get(label, "")

    def filters_for(self, labels: frozenset[str] | set[str]) -> dict[str, str]:
        return {k: v for k, v in self.filters if k in labels}

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def step(self) -> int:
        """Seconds per chart point: the smallest nice step that keeps ≤ MAX_POINTS points."""
        seconds = self.length.total_seconds()
        for step in NICE_STEPS:
            if seconds / step <= MAX_POINTS:
                return step
        return int(seconds // MAX_POINTS // 86400 + 1) * 86400

    def previous(self) -> TimeRange:
        return TimeRange(
            key=self.key, start=self.start - self.length, end=self.start, filters=self.filters
        )

    @property
    def label(self) -> str:
        if self.key in PRESETS:
            return f"last {self.key}"
        fmt = "%Y-%m-%d %H:%M"
        local_start = timezone.localtime(self.start).strftime(fmt)
        local_end = timezone.localtime(self.end).strftime(fmt)
        return f"{local_start} – {local_end}"

    def params(self) -> dict[str, str]:
        """Query parameters that reproduce this range and its picks (export and refresh links)."""
        if self.key in PRESETS:
            params = {"range": self.key}
        else:
            params = {
                "range": CUSTOM,
                "start": timezone.localtime(self.start).strftime("%Y-%m-%dT%H:%M"),
                "end": timezone.localtime(self.end).strftime("%Y-%m-%dT%H:%M"),
            }
        return {**params, **dict(self.filters)}

    def querystring(self) -> str:
        return urlencode(self.params())


def _parse_moment(value: str, field: str) -> datetime:
    value = (value or "").strip()
    if not value:
        raise RangeError(field, f"{field} is required for a custom range")
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is not None:
                moment = datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise RangeError(
            field, f"{field} {value!r} is not a date or date-time (e.g. 2025-01-31T14:00)"
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_range(params: Mapping[str, str], *, now: datetime | None = None) -> TimeRange:
    """Read ``range`` (and ``start``/``end`` for custom) from request parameters."""
    now = now or timezone.now()
    filters = _parse_filters(params)
    key = (params.get("range") or DEFAULT_RANGE).strip()
    if key in PRESETS:
        return TimeRange(key=key, start=now - PRESETS[key], end=now, filters=filters)
    if key != CUSTOM:
        choices = ", ".join([*PRESETS, CUSTOM])
        raise RangeError("range", f"range {key!r} is not one of {choices}")
    start = _parse_moment(params.get("start", ""), "start")
    end = _parse_moment(params.get("end", ""), "end")
    if end <= start:
        raise RangeError("end", "end must be after start")
    if end - start < MIN_CUSTOM:
        raise RangeError("end", "a custom range must be at least 5 minutes long")
    if end - start > MAX_CUSTOM:
        raise RangeError("start", "a custom range can be at most 400 days long")
    if start >= now:
        raise RangeError("start", "start is in the future")
    if start.year < 1970:  # nothing is stored before; previous() must stay in range too
        raise RangeError("start", "start is before 1970")
    return TimeRange(key=CUSTOM, start=start, end=min(end, now), filters=filters)


def _parse_filters(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    out = []
    for label in PICKERS:
        value = (params.get(label) or "").strip()
        if not value:
            continue
        if len(value) > 200 or any(ord(c) < 32 for c in value):
            raise RangeError(label, f"{label} must be a label value of at most 200 characters")
        out.append((label, value))
    return tuple(out)
