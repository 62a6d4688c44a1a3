"""What PenguinMon measures about the platform: services, their probes, status changes, hosts.

Per-run numbers go to the metric store (probe_up, probe_latency_ms, ...); the rows here keep
only the latest result per probe and the status transitions per service (like healthchecks'
Flip), so these tables stay small however often probes run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.signals import post_migrate
from django.utils import timezone

from collectors.monitoring.locations import DEFAULT_LOCATION, location_errors
from collectors.monitoring.probes import KIND_CHOICES, config_errors


class Status(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"
    # Never Healthy without a recent result: no enabled probe at all, or enabled probes whose
    # latest results are older than three intervals (or that never ran).
    NOT_MONITORED = "unmonitored", "Not monitored"
    STALE = "stale", "Stale"

    @classmethod
    def unseen(cls) -> frozenset[str]:
        """Statuses that say nothing about the service (no current result): their time is
        neither up nor down in uptime."""
        return frozenset({cls.UNKNOWN, cls.NOT_MONITORED, cls.STALE})


class Service(models.Model):
    class Kind(models.TextChoices):
        API = "api", "API server"
        SMTP = "smtp", "SMTP service"
        OLTP = "oltp", "OLTP database"
        OLAP = "olap", "OLAP database"
        CACHE = "cache", "Cache"
        SEARCH = "search", "Search"
        QUEUE = "queue", "Queue"
        COLLECTOR = "collector", "Collector"
        EXTERNAL = "external", "External dependency"

    name = models.SlugField(max_length=64, unique=True)
    display_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="Depends on this service: while the parent is down, this one's outage is "
        "attributed to the parent and not alerted on separately.",
    )
    down_after_failures = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A probe is down after this many consecutive failures.",
    )
    degraded_latency_ms = models.FloatField(
        default=1000,
        validators=[MinValueValidator(1)],
        help_text="A probe answering slower than this marks the service degraded.",
    )
    fail_locations_k = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A probe that runs at several locations is down when at least this many of "
        "them report it down (capped at its number of locations); fewer make it degraded. "
        "A probe can override it.",
    )
    position = models.PositiveSmallIntegerField(
        default=100, help_text="Order on the services page."
    )
    # Denormalised current status, updated by the runner when it changes (with a StatusChange).
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    status_since = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def health(self) -> Health:
        """Status from the latest results of this service's enabled probes (see collectors.monitoring.health)."""
        from collectors.monitoring.health import service_health

        return service_health(
            self, list(self.probes.filter(enabled=True).prefetch_related("location_results"))
        )

    def uptime_pct(self, window: timedelta, *, now: datetime | None = None) -> float | None:
        from collectors.monitoring.health import uptime_pct

        return uptime_pct(self, window, now=now)


@dataclass
class Health:
    status: str
    reason: str
    # Set when the parent service is down: this service's outage is the parent's.
    suppressed_by: str | None = None
    probes: dict[int, str] = field(default_factory=dict)


class RunResult(models.Model):
    """A schedule and the latest result at one location. The probe's own row holds the default
    location's (so a probe without locations works exactly as before locations existed);
    ``ProbeLocation`` rows hold every other location's. The history is in the metric store."""

    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_degraded = models.BooleanField(default=False)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_message = models.CharField(max_length=500, blank=True)
    last_details = models.JSONField(default=dict, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Counters from the previous run, for rates (e.g. table operations/hour).
    state = models.JSONField(default=dict, blank=True, editable=False)

    # What a run writes; all but ``state`` (the probe's memory between runs) is shown in admin.
    SHOWN_RESULT_FIELDS = (
        "last_run_at",
        "last_ok",
        "last_degraded",
        "last_latency_ms",
        "last_message",
        "last_details",
        "consecutive_failures",
    )
    RESULT_FIELDS = (*SHOWN_RESULT_FIELDS, "state")

    class Meta:
        abstract = True


class Probe(RunResult):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="probes")
    name = models.SlugField(max_length=64)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text="Kind-specific settings; see the probe module's docstring.",
    )
    interval_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(86_400)]
    )
    timeout_seconds = models.FloatField(
        default=5, validators=[MinValueValidator(0.1), MaxValueValidator(120)]
    )
    enabled = models.BooleanField(default=True)
    locations = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text="Locations whose workers run this probe (comma separated, e.g. eu,us). "
        "Empty: the default location only.",
    )
    location_overrides = models.JSONField(
        default=dict,
        blank=True,
        help_text='Config keys that differ at a location, e.g. {"eu": {"url": "http://lb-eu/"}} '
        "when a region reaches the target through its own address or resolver.",
    )
    fail_locations_k = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Down when this many locations report it down; empty: the service's setting.",
    )

    class Meta:
        ordering = ["service", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "name"], name="probe_unique_name_per_service"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service.name}/{self.name}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if config_problems := config_errors(self.kind, self.config):
            errors["config"] = config_problems
        if location_problems := location_errors(self.locations):
            errors["locations"] = location_problems
        elif override_problems := self.override_errors():
            errors["location_overrides"] = override_problems
        if errors:
            raise ValidationError(errors)

    def override_errors(self) -> list[str]:
        overrides = self.location_overrides
        if not isinstance(overrides, dict):
            return ['must be an object like {"eu": {"url": "..."}}']
        problems = []
        for location, changes in overrides.items():
            if location not in self.run_locations:
                problems.append(
                    f"{location!r} is not one of this probe's locations "
                    f"({', '.join(self.run_locations)})"
                )
            elif not isinstance(changes, dict):
                problems.append(f"{location}: must be an object of config keys")
            else:
                problems += [
                    f"{location}: {e}" for e in config_errors(self.kind, self.config_at(location))
                ]
        return problems

    @property
    def run_locations(self) -> list[str]:
        """Where this probe runs: its locations, or the default location when it has none."""
        return list(self.locations) or [DEFAULT_LOCATION]

    @property
    def multi_location(self) -> bool:
        """Tagged with locations: its results are kept and judged per location."""
        return bool(self.locations)

    def config_at(self, location: str) -> dict:
        """The config as run at ``location``: the probe's config with that location's overrides."""
        changes = (self.location_overrides or {}).get(location)
        return {**(self.config or {}), **changes} if isinstance(changes, dict) else self.config

    def k_of_n(self, service: Service | None = None) -> tuple[int, int]:
        """(k, n): down when k of its n locations report it down; k is capped at n."""
        n = len(self.run_locations)
        k = self.fail_locations_k or (service or self.service).fail_locations_k
        return min(k, n), n

    def results_by_location(self) -> dict[str, RunResult]:
        """The schedule/result row of each location the probe runs at (the default location's
        is the probe itself); a location that has not run yet has an empty row."""
        rows = {r.location: r for r in self.location_results.all()}
        out: dict[str, RunResult] = {}
        for location in self.run_locations:
            if location == DEFAULT_LOCATION:
                out[location] = self
            else:
                out[location] = rows.get(location) or ProbeLocation(probe=self, location=location)
        return out

    def due(self, now: datetime) -> bool:
        return self.enabled and (self.next_run_at is None or self.next_run_at <= now)


class ProbeLocation(RunResult):
    """A probe's schedule and latest result at one non-default location."""

    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="location_results")
    location = models.CharField(max_length=64)

    class Meta:
        ordering = ["probe", "location"]
        constraints = [
            models.UniqueConstraint(
                fields=["probe", "location"], name="probelocation_unique_per_probe"
            )
        ]
        indexes = [
            models.Index(fields=["location", "next_run_at"], name="probelocation_due"),
        ]

    def __str__(self) -> str:
        return f"{self.probe} @ {self.location}"


class StatusChange(models.Model):
    """A service changed status (a 'flip'); uptime % is computed from these."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="status_changes")
    at = models.DateTimeField(default=timezone.now)
    old_status = models.CharField(max_length=16, choices=Status.choices)
    new_status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["service", "at"], name="statuschange_service_at")]

    def __str__(self) -> str:
        return f"{self.service.name}: {self.old_status} → {self.new_status} at {self.at:%Y-%m-%d %H:%M}"


class Host(models.Model):
    """A machine whose CPU, memory, disk and network PenguinMon samples.

    A host with ``has_worker`` runs a Celery worker consuming queue ``host-<name>`` and beat
    sends it the sample task; others push with ``manage.py collect_host --push``. The latest
    top-process lists are kept here (updated in place) for the pages.
    """

    name = models.CharField(max_length=200, unique=True)
    enabled = models.BooleanField(default=True)
    has_worker = models.BooleanField(
        default=True, help_text="Runs a Celery worker on queue host-<name>."
    )
    last_sample_at = models.DateTimeField(null=True, blank=True)
    cpu_percent = models.FloatField(null=True, blank=True)
    memory_percent = models.FloatField(null=True, blank=True)
    process_count = models.PositiveIntegerField(null=True, blank=True)
    top_cpu = models.JSONField(default=list, blank=True)
    top_memory = models.JSONField(default=list, blank=True)
    disks = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"host-{self.name}"


def _create_default_services(sender, apps=None, **kwargs) -> None:
    """Recreate missing default services after migrate *and* after a flush (tests, resets);
    migration 0003 makes them on a fresh install, this keeps them from vanishing afterwards."""
    if getattr(sender, "name", None) != "collectors" or apps is None:
        return
    try:
        service_model = apps.get_model("collectors", "Service")
        probe_model = apps.get_model("collectors", "Probe")
    except LookupError:
        return  # migrated back to before these tables existed
    from collectors.monitoring.defaults import create_defaults

    create_defaults(service_model, probe_model)


post_migrate.connect(_create_default_services, dispatch_uid="collectors.default_services")
