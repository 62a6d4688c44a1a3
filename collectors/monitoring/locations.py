"""Probe locations: where a worker runs from, and which queue carries its probe runs.

Each worker is started with ``PENGUINMON_LOCATION`` (default "default") and consumes the
queue ``probes-<location>``; beat sends one ``run_due_probes`` per location to that queue, so
a probe tagged with locations ["eu", "us"] is measured from both vantage points and nowhere
else. A probe with no locations runs at the default location only, as every probe did before
locations existed.
"""

from __future__ import annotations

import os
import re

from django.conf import settings

DEFAULT_LOCATION = "default"
# Part of a queue name and a metric label value: keep it short and shell/URL safe.
LOCATION_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
QUEUE_PREFIX = "probes-"


def current_location() -> str:
    """This process's location: the PENGUINMON_LOCATION setting, else the environment."""
    value = getattr(settings, "PENGUINMON_LOCATION", None) or os.environ.get(
        "PENGUINMON_LOCATION", ""
    )
    return value.strip() or DEFAULT_LOCATION


def queue_for(location: str) -> str:
    return f"{QUEUE_PREFIX}{location}"


def location_errors(locations: object) -> list[str]:
    """Why a ``locations`` value is unusable (empty list = fine)."""
    if not isinstance(locations, list):
        return ["locations must be a list of location names"]
    errors = [
        f"location {name!r} must be 1-64 characters of a-z, 0-9, '-' or '_'"
        for name in locations
        if not isinstance(name, str) or not LOCATION_RE.match(name)
    ]
    if len(set(map(str, locations))) != len(locations):
        errors.append("locations must not repeat")
    return errors
