"""Sending IPs and domains, the DNS blocklists they are checked against, and the history of
those checks (every result, listing periods, scores over time, rotations)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from reputation import conf
from reputation.scoring import ScoreBreakdown, compute_score


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


class SendingIP(models.Model):
    class Pool(models.TextChoices):
        PRIMARY = "primary", "Primary"
        BACKUP = "backup", "Backup"
        WARMUP = "warm-up", "Warm-up"

    class Status(models.TextChoices):
        GOOD = "good", "Good"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    address = models.GenericIPAddressField(unique=True, unpack_ipv4=True)
    provider = models.CharField(max_length=64, help_text="AWS, SendGrid, Hostwind, …")
    pool = models.CharField(max_length=16, choices=Pool.choices, default=Pool.PRIMARY)
    daily_volume = models.PositiveIntegerField(default=0, help_text="emails sent per day")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.GOOD)
    active = models.BooleanField(default=True, help_text="currently sending traffic")
    # The score of the last check run; the history is in ReputationSnapshot.
    last_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]
        verbose_name = "sending IP"

    def __str__(self) -> str:
        return f"{self.address} ({self.provider}, {self.pool})"

    def open_listings(self):
        return self.listings.filter(delisted_at__isnull=True).select_related("zone")

    def score(self) -> ScoreBreakdown | None:
        """The breakdown of the last check's score (None if never checked): the one shown
        with ``last_score``, computed from the inputs that check stored."""
        snapshot = self.snapshots.order_by("-taken_at", "-id").first()
        return snapshot.breakdown() if snapshot is not None else None


class BlocklistZone(models.Model):
    class Kind(models.TextChoices):
        IP = "ip", "IP addresses"
        DOMAIN = "domain", "Domains"

    name = models.CharField(max_length=80, help_text="display name, e.g. Spamhaus ZEN")
    zone = models.CharField(max_length=253, unique=True, help_text="e.g. zen.spamhaus.org")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IP)
    major = models.BooleanField(
        default=False, help_text="a listing here caps the score and raises a critical alert"
    )
    weight = models.PositiveSmallIntegerField(default=10, help_text="points taken off the score")
    delisting_url = models.URLField(blank=True)
    delisting_instructions = models.TextField(blank=True)
    return_codes = models.JSONField(
        default=dict,
        blank=True,
        help_text='answer -> meaning, e.g. {"127.0.0.2": "SBL"}; for bitmask zones the keys '
        'are bit values of the last octet, e.g. {"8": "phishing"}',
    )
    error_codes = models.JSONField(
        default=dict,
        blank=True,
        help_text="answers that mean the query was refused (never a listing), with their meaning",
    )
    bitmask_codes = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["-major", "name"]
        verbose_name = "blocklist zone"

    def __str__(self) -> str:
        return f"{self.name} ({self.zone})"

    def clean(self) -> None:
        problems = self.config_problems()
        if problems:
            raise ValidationError(problems)

    def config_problems(self) -> dict[str, str]:
        """Field -> what is wrong with this zone's answer tables. Admin refuses to save such a
        zone; a check run skips one saved before this check existed, and checks the others."""
        problems = {}
        for field_name in ("return_codes", "error_codes"):
            table = getattr(self, field_name)
            bits = self.bitmask_codes and field_name == "return_codes"
            shape = '{"8": "phishing"}' if bits else '{"127.0.0.2": "listed as spam source"}'
            if not isinstance(table, dict):
                problems[field_name] = f"must be a JSON object of answer -> meaning, e.g. {shape}"
                continue
            for key, meaning in table.items():
                if not isinstance(meaning, str):
                    problems[field_name] = f"the meaning of {key!r} must be text"
                elif bits and not (key.isdigit() and 0 < int(key) < 256):
                    problems[field_name] = f"{key!r} is not a bit value of the last octet (1-255)"
                elif not bits and not _is_ipv4(key):
                    problems[field_name] = f"{key!r} is not an answer address such as 127.0.0.2"
                if field_name in problems:
                    break
        return problems

    def query_zone(self) -> str:
        """The zone actually queried: Spamhaus zones go through DQS when a key is configured,
        because Spamhaus refuses queries that arrive through public resolvers."""
        key = conf.spamhaus_dqs_key()
        if key and self.zone.endswith(".spamhaus.org"):
            return f"{key}.{self.zone.removesuffix('.spamhaus.org')}.dq.spamhaus.net"
        return self.zone


class SendingDomain(models.Model):
    class Check(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        VALID = "valid", "Valid"
        PERMISSIVE = "permissive", "Too permissive"
        MISSING = "missing", "Missing"
        INVALID = "invalid", "Syntax error"
        UNKNOWN = "unknown", "Look-up failed"

    domain = models.CharField(max_length=253, unique=True)
    dkim_selectors = models.CharField(
        max_length=300, blank=True, help_text="comma-separated, e.g. s1, google"
    )
    spf_status = models.CharField(max_length=12, choices=Check.choices, default=Check.UNCHECKED)
    spf_record = models.TextField(blank=True)
    spf_findings = models.JSONField(default=list, blank=True)
    dkim_status = models.CharField(max_length=12, choices=Check.choices, default=Check.UNCHECKED)
    dkim_results = models.JSONField(default=list, blank=True)
    dmarc_status = models.CharField(max_length=12, choices=Check.choices, default=Check.UNCHECKED)
    dmarc_record = models.TextField(blank=True)
    dmarc_findings = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def selectors(self) -> list[str]:
        return [s.strip() for s in self.dkim_selectors.split(",") if s.strip()]


class ListingCheck(models.Model):
    """One look-up: one IP (or domain) against one zone at one time. Kept 90 days."""

    class Result(models.TextChoices):
        LISTED = "listed", "Listed"
        CLEAN = "clean", "Not listed"
        UNKNOWN = "unknown", "Unknown"

    checked_at = models.DateTimeField(db_index=True)
    ip = models.ForeignKey(
        SendingIP, null=True, blank=True, on_delete=models.CASCADE, related_name="checks"
    )
    domain = models.ForeignKey(
        SendingDomain, null=True, blank=True, on_delete=models.CASCADE, related_name="checks"
    )
    zone = models.ForeignKey(BlocklistZone, on_delete=models.CASCADE, related_name="checks")
    result = models.CharField(max_length=8, choices=Result.choices)
    codes = models.JSONField(default=list, blank=True)
    meanings = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, help_text="the list's TXT record")
    detail = models.CharField(max_length=300, blank=True, help_text="why a result is unknown")
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["ip", "-checked_at"], name="rep_check_ip_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ip__isnull=False, domain__isnull=True)
                | Q(ip__isnull=True, domain__isnull=False),
                name="rep_check_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.target()} on {self.zone.zone}: {self.result} at {self.checked_at:%Y-%m-%d %H:%M}"

    def target(self) -> str:
        return self.ip.address if self.ip_id else self.domain.domain


class Listing(models.Model):
    """A period during which an IP or domain was on a zone: listed_at until delisted_at."""

    ip = models.ForeignKey(
        SendingIP, null=True, blank=True, on_delete=models.CASCADE, related_name="listings"
    )
    domain = models.ForeignKey(
        SendingDomain, null=True, blank=True, on_delete=models.CASCADE, related_name="listings"
    )
    zone = models.ForeignKey(BlocklistZone, on_delete=models.CASCADE, related_name="listings")
    listed_at = models.DateTimeField()
    delisted_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField()
    codes = models.JSONField(default=list, blank=True)
    meanings = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-listed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["ip", "zone"],
                condition=Q(delisted_at__isnull=True),
                name="rep_one_open_ip_listing",
            ),
            models.UniqueConstraint(
                fields=["domain", "zone"],
                condition=Q(delisted_at__isnull=True),
                name="rep_one_open_domain_listing",
            ),
        ]

    def __str__(self) -> str:
        target = self.ip.address if self.ip_id else self.domain.domain
        until = f" until {self.delisted_at:%Y-%m-%d %H:%M}" if self.delisted_at else ""
        return f"{target} on {self.zone.zone} since {self.listed_at:%Y-%m-%d %H:%M}{until}"

    @property
    def is_open(self) -> bool:
        return self.delisted_at is None


class ReputationSnapshot(models.Model):
    ip = models.ForeignKey(SendingIP, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=SendingIP.Status.choices)
    listed_zones = models.JSONField(default=list, blank=True)
    # The score's inputs as the check saw them: [zone, weight, major] of each zone the IP was
    # on (weights may change later in admin; the score must stay reproducible).
    listings = models.JSONField(default=list, blank=True)
    major_listed = models.BooleanField(default=False)
    bounce_rate_pct = models.FloatField(null=True, blank=True)
    complaint_rate_pct = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["ip", "taken_at"], name="rep_snapshot_ip_time")]

    def __str__(self) -> str:
        return f"{self.ip.address}: {self.score} at {self.taken_at:%Y-%m-%d %H:%M}"

    @classmethod
    def scored(
        cls,
        *,
        ip: SendingIP,
        taken_at,
        listings: list[tuple[str, int, bool]],
        bounce_rate_pct: float | None,
        complaint_rate_pct: float | None,
    ) -> ReputationSnapshot:
        """An unsaved snapshot (for bulk_create) scored by ``scoring.compute_score`` from
        these inputs, which it keeps; ``ip`` gets the same score and status."""
        snapshot = cls(
            ip=ip,
            taken_at=taken_at,
            listings=[[zone, weight, major] for zone, weight, major in listings],
            bounce_rate_pct=bounce_rate_pct,
            complaint_rate_pct=complaint_rate_pct,
        )
        breakdown = snapshot.breakdown()
        snapshot.score, snapshot.status = breakdown.score, breakdown.status
        snapshot.listed_zones, snapshot.major_listed = (
            breakdown.listed_zones,
            breakdown.major_listed,
        )
        ip.last_score, ip.status, ip.last_checked_at = breakdown.score, breakdown.status, taken_at
        return snapshot

    def breakdown(self) -> ScoreBreakdown:
        """``scoring.compute_score`` of this snapshot's stored inputs."""
        return compute_score(
            listings=[(zone, weight, major) for zone, weight, major in self.listings],
            bounce_rate_pct=self.bounce_rate_pct,
            complaint_rate_pct=self.complaint_rate_pct,
        )


class RotationEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    from_ip = models.ForeignKey(
        SendingIP, null=True, on_delete=models.SET_NULL, related_name="rotations_out"
    )
    to_ip = models.ForeignKey(
        SendingIP, null=True, on_delete=models.SET_NULL, related_name="rotations_in"
    )
    # Addresses copied so the record stays readable if an IP row is deleted later.
    from_address = models.CharField(max_length=45)
    to_address = models.CharField(max_length=45)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200)
    reason = models.TextField()
    webhook_url = models.CharField(max_length=500, blank=True)
    webhook_status = models.PositiveSmallIntegerField(null=True, blank=True)
    webhook_response = models.TextField(blank=True)
    webhook_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.from_address} → {self.to_address} by {self.actor_label} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def webhook_ok(self) -> bool:
        return self.webhook_status is not None and 200 <= self.webhook_status < 300


class CheckRun(models.Model):
    """A check asked for from the page or the API and run by a worker: its identity is what
    the 202 answer returns, and the worker records here how it went."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        SKIPPED = "skipped"  # another full run held the lock
        FAILED = "failed"

    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.CharField(max_length=200)
    # Empty: every IP and sending domain (and their SPF/DKIM/DMARC); else these IP ids.
    ip_ids = models.JSONField(default=list, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"check #{self.pk} ({self.status})"
