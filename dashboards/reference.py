"""Reference figures from seed 001 (performance monitoring): the expected traffic band of each
high-traffic table and the scaling projection by tenant count. These are planning bands the
measured values are compared against, not measurements."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableBand:
    category: str
    low: int  # operations per hour
    high: int
    level: str  # CRITICAL | HIGH | MEDIUM


TABLE_TRAFFIC: dict[str, TableBand] = {
    "email_messages": TableBand("Critical Content", 100_000, 1_000_000, "CRITICAL"),
    "content_inbox_message_refs": TableBand("Critical Content", 100_000, 1_000_000, "CRITICAL"),
    "inbox_message_refs": TableBand("Critical OLTP", 100_000, 1_000_000, "CRITICAL"),
    "content_objects": TableBand("Content DB", 200_000, 2_000_000, "CRITICAL"),
    "email_opens": TableBand("Content DB", 200_000, 2_000_000, "CRITICAL"),
    "email_clicks": TableBand("Content DB", 50_000, 500_000, "CRITICAL"),
    "campaign_sequence_steps": TableBand("High OLTP", 50_000, 500_000, "HIGH"),
    "campaigns": TableBand("High OLTP", 5_000, 50_000, "HIGH"),
    "attachments": TableBand("Content DB", 100_000, 500_000, "HIGH"),
    "jobs": TableBand("Queue System", 10_000, 100_000, "HIGH"),
    "job_logs": TableBand("Queue System", 5_000, 50_000, "HIGH"),
    "daily_analytics": TableBand("Analytics OLAP", 1_000, 10_000, "MEDIUM"),
    "campaign_analytics": TableBand("Analytics OLAP", 500, 5_000, "MEDIUM"),
    "billing_analytics": TableBand("Analytics OLAP", 100, 1_000, "MEDIUM"),
}

# How pages name the seed's tiers: they are traffic volumes, not alarm states, so "CRITICAL"
# (which reads like an alert at 3 a.m.) is shown as "very high". The tiers themselves come
# from collectors.monitoring.probes.postgres.traffic_level.
LEVEL_WORDS = {"CRITICAL": "very high", "HIGH": "high", "MEDIUM": "medium", "LOW": "low"}


@dataclass(frozen=True)
class ScaleTier:
    tenants: int
    emails_per_day: tuple[int, int]
    concurrent_users: tuple[int, int]


SCALING: list[ScaleTier] = [
    ScaleTier(100, (10_000, 50_000), (500, 2_500)),
    ScaleTier(1_000, (100_000, 500_000), (5_000, 25_000)),
    ScaleTier(2_000, (200_000, 1_000_000), (10_000, 50_000)),
    ScaleTier(3_000, (300_000, 1_500_000), (15_000, 75_000)),
    ScaleTier(4_000, (400_000, 2_000_000), (20_000, 100_000)),
    ScaleTier(5_000, (500_000, 2_500_000), (25_000, 150_000)),
]


def tier_for(tenants: float) -> ScaleTier:
    """The largest tier the tenant count has reached (the first tier below 100 tenants)."""
    chosen = SCALING[0]
    for tier in SCALING:
        if tenants >= tier.tenants:
            chosen = tier
    return chosen


def expected_band(tier: ScaleTier, tenants: float, which: str) -> tuple[float, float]:
    """The tier's band scaled linearly to the actual tenant count (the seed scales per tenant)."""
    low, high = getattr(tier, which)
    factor = tenants / tier.tenants
    return low * factor, high * factor
