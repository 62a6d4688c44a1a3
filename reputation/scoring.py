"""The reputation score (0-100) of a sending IP. The same text is shown on /reputation/.

    score = 100
          - sum of the weights of the zones the IP is listed on now
          - bounce penalty     = min(30, 5 x (bounce rate % - 2))        when above 2 %
          - complaint penalty  = min(30, 100 x (complaint rate % - 0.1)) when above 0.1 %
    then capped at 40 while the IP is on any major list (Spamhaus ZEN, Barracuda), and
    clamped to 0..100.

Rates are the last 24 hours of emails_bounced / emails_sent and emails_complained /
emails_sent from the metric store: the IP's own series (label ip) when the platform pushes
them, the platform-wide totals otherwise; no penalty when nothing was sent. Look-ups whose
result is unknown (refused, timed out) change nothing: they are neither listings nor clean.

Status: Critical on a major list or below 40; Warning below 70 or on any list; Good otherwise.

A check run computes the score once (``compute_score``) and stores it with its inputs (the
zones with their weights, the two rates) in a ReputationSnapshot; every page, export, API
and the metric store show that stored score, and the breakdown beside it is
``compute_score`` of the same stored inputs, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.store.query import window_values

MAJOR_CAP = 40
WARNING_BELOW = 70
CRITICAL_BELOW = 40
BOUNCE_FREE_PCT, BOUNCE_POINTS_PER_PCT, BOUNCE_MAX = 2.0, 5.0, 30.0
COMPLAINT_FREE_PCT, COMPLAINT_POINTS_PER_PCT, COMPLAINT_MAX = 0.1, 100.0, 30.0
RATE_WINDOW = timedelta(hours=24)

FORMULA = __doc__


@dataclass
class ScoreBreakdown:
    score: int
    status: str  # good | warning | critical
    listed_zones: list[str] = field(default_factory=list)
    major_listed: bool = False
    listing_penalty: float = 0.0
    bounce_rate_pct: float | None = None
    complaint_rate_pct: float | None = None
    bounce_penalty: float = 0.0
    complaint_penalty: float = 0.0


def compute_score(
    *,
    listings: list[tuple[str, int, bool]],
    bounce_rate_pct: float | None = None,
    complaint_rate_pct: float | None = None,
) -> ScoreBreakdown:
    """``listings``: (zone, weight, major) for each zone the IP is on now."""
    listing_penalty = float(sum(weight for _, weight, _ in listings))
    major = any(is_major for _, _, is_major in listings)
    bounce_penalty = 0.0
    if bounce_rate_pct is not None and bounce_rate_pct > BOUNCE_FREE_PCT:
        bounce_penalty = min(
            BOUNCE_MAX, BOUNCE_POINTS_PER_PCT * (bounce_rate_pct - BOUNCE_FREE_PCT)
        )
    complaint_penalty = 0.0
    if complaint_rate_pct is not None and complaint_rate_pct > COMPLAINT_FREE_PCT:
        complaint_penalty = min(
            COMPLAINT_MAX, COMPLAINT_POINTS_PER_PCT * (complaint_rate_pct - COMPLAINT_FREE_PCT)
        )
    raw = 100.0 - listing_penalty - bounce_penalty - complaint_penalty
    if major:
        raw = min(raw, MAJOR_CAP)
    score = int(round(max(0.0, min(100.0, raw))))
    if major or score < CRITICAL_BELOW:
        status = "critical"
    elif score < WARNING_BELOW or listings:
        status = "warning"
    else:
        status = "good"
    return ScoreBreakdown(
        score=score,
        status=status,
        listed_zones=sorted(zone for zone, _, _ in listings),
        major_listed=major,
        listing_penalty=listing_penalty,
        bounce_rate_pct=bounce_rate_pct,
        complaint_rate_pct=complaint_rate_pct,
        bounce_penalty=round(bounce_penalty, 2),
        complaint_penalty=round(complaint_penalty, 2),
    )


def _sums_by_ip(metric: str, start: datetime, end: datetime) -> tuple[dict[str, float], float]:
    """Per-IP totals (series labelled ip) and the platform-wide total of a counter."""
    per_ip: dict[str, float] = {}
    total = 0.0
    for labels, value in window_values(metric=metric, start=start, end=end, agg="sum"):
        total += value
        if labels.get("ip"):
            per_ip[labels["ip"]] = per_ip.get(labels["ip"], 0.0) + value
    return per_ip, total


def sending_rates(
    addresses: list[str], *, now: datetime
) -> dict[str, tuple[float | None, float | None]]:
    """address -> (bounce %, complaint %) over the last 24 h: the IP's own series when the
    platform labels them with ``ip``, else the platform-wide rates; (None, None) if nothing
    was sent. Three store queries for all IPs together."""
    start = now - RATE_WINDOW
    sent_ip, sent_all = _sums_by_ip("emails_sent", start, now)
    bounced_ip, bounced_all = _sums_by_ip("emails_bounced", start, now)
    complained_ip, complained_all = _sums_by_ip("emails_complained", start, now)
    platform = (
        (100.0 * bounced_all / sent_all, 100.0 * complained_all / sent_all)
        if sent_all
        else (None, None)
    )
    rates = {}
    for address in addresses:
        sent = sent_ip.get(address)
        if sent:
            rates[address] = (
                100.0 * bounced_ip.get(address, 0.0) / sent,
                100.0 * complained_ip.get(address, 0.0) / sent,
            )
        else:
            rates[address] = platform
    return rates
