"""Multi-window, multi-burn-rate rules (the Google SRE workbook, ch. 5): generated for an SLO,
evaluated by the rule engine like every rule.

A burn-rate rule carries its SLI (``AlertRule.sli``: kind, service, route, threshold_ms), the
objective, a long window (``window_seconds``) and a short one (``short_window_seconds``). Its
value is the smaller of the two windows' burn rates — (bad / total) / (1 − objective) — so
"value > factor" holds exactly when both windows burn faster than the factor: the long window
makes the alert significant, the short one makes it reset soon after the burning stops.

The SLO code (incidents, above us in the stack) owns the rules: it calls
``sync_burn_rate_rules`` whenever an SLO is saved, and deletes them with the SLO; the rules
are tagged ``managed_by="slo:<id>"`` and edits made to them in admin are overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.models import BURN_RATE, AlertRule
from collectors.sli import AVAILABILITY, LATENCY, SliSpec, sli_counts

# severity "page" -> critical, "ticket" -> warning: routed like every alert.
SEVERITY = {"page": "critical", "ticket": "warning"}
METRIC = {
    AVAILABILITY: "probe_up",
    LATENCY: "http_request_duration_ms",
    "success_ratio": "http_requests",
}


@dataclass(frozen=True)
class BurnWindow:
    severity: str  # "page" or "ticket"
    factor: float
    long_seconds: int
    short_seconds: int


# The workbook's table for a 30-day window: 2% of the budget in 1 h, 5% in 6 h (page);
# 10% in 1 d, 10% in 3 d (ticket).
DEFAULT_WINDOWS = (
    BurnWindow("page", 14.4, 3600, 300),
    BurnWindow("page", 6.0, 6 * 3600, 1800),
    BurnWindow("ticket", 3.0, 86400, 7200),
    BurnWindow("ticket", 1.0, 3 * 86400, 6 * 3600),
)


def duration_text(seconds: int) -> str:
    """3600 -> "1h", 300 -> "5m", 259200 -> "3d"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rule_name(slo_name: str, window: BurnWindow) -> str:
    return (
        f"SLO {slo_name}: {window.severity} burn {window.factor:g}× "
        f"({duration_text(window.long_seconds)}/{duration_text(window.short_seconds)})"
    )[:150]


def sync_burn_rate_rules(
    *,
    owner: str,
    slo_name: str,
    sli: dict,
    objective_pct: float,
    windows: Sequence[BurnWindow],
    enabled: bool = True,
    rule_model=AlertRule,
) -> list:
    """Make the rules tagged ``owner`` exactly one per window (created, updated or deleted).
    ``rule_model`` lets a data migration pass its historical model."""
    # Matched by window, not name: renaming the SLO keeps its rules and their open alerts.
    existing = {
        (r.severity, r.threshold, r.window_seconds, r.short_window_seconds): r
        for r in rule_model.objects.filter(managed_by=owner)
    }
    kept = []
    for window in windows:
        name = rule_name(slo_name, window)
        key = (SEVERITY[window.severity], window.factor, window.long_seconds, window.short_seconds)
        fields = {
            "metric": METRIC[sli["kind"]],
            "aggregation": BURN_RATE,
            "label_filters": {"service": sli["service"]},
            "sli": sli,
            "objective_pct": objective_pct,
            "window_seconds": window.long_seconds,
            "short_window_seconds": window.short_seconds,
            "comparator": ">",
            "threshold": window.factor,
            "severity": SEVERITY[window.severity],
            "service": sli["service"],
            "enabled": enabled,
            "for_seconds": 0,
            "k_of_n_k": 1,
            "k_of_n_n": 1,
            "description": f"Generated for the SLO {slo_name!r}; edit the SLO, not this rule.",
        }
        rule = existing.pop(key, None)
        if rule is None:
            # A rule of the same name owned by nobody (or another SLO) would clash on the
            # unique name: take it over rather than fail the SLO's save.
            rule = rule_model.objects.filter(name=name).first() or rule_model(name=name)
        for key, value in fields.items():
            setattr(rule, key, value)
        rule.name = name
        rule.managed_by = owner
        rule.save()
        kept.append(rule)
    for rule in existing.values():
        rule.delete()
    return kept


def delete_burn_rate_rules(*, owner: str) -> None:
    AlertRule.objects.filter(managed_by=owner).delete()


def _spec(rule: AlertRule) -> SliSpec:
    sli = rule.sli or {}
    return SliSpec(
        kind=sli.get("kind", ""),
        service=sli.get("service", ""),
        route=sli.get("route", "") or "",
        threshold_ms=sli.get("threshold_ms"),
    )


def burn_rate(bad: float, total: float, objective_pct: float) -> float | None:
    """How many times faster than "exactly the budget over the window" errors arrive."""
    if total <= 0:
        return None
    return (bad / total) / (1.0 - objective_pct / 100.0)


def burn_rate_values(
    rules: Sequence[AlertRule], now: datetime, end: datetime
) -> dict[int, list[tuple[dict, float]]]:
    """Per rule id: ``[({"service": ...}, min(long burn, short burn))]``, or ``[]`` when either
    window has no data. All rules' SLIs over all their windows come from one batched read."""
    specs: list[SliSpec] = []
    spec_index: dict[SliSpec, int] = {}
    periods: list[tuple[datetime, datetime]] = []
    period_index: dict[int, int] = {}
    for rule in rules:
        spec = _spec(rule)
        if spec not in spec_index:
            spec_index[spec] = len(specs)
            specs.append(spec)
        for seconds in (rule.window_seconds, rule.short_window_seconds or rule.window_seconds):
            if seconds not in period_index:
                period_index[seconds] = len(periods)
                periods.append((now - timedelta(seconds=seconds), end))
    counts = sli_counts(specs, periods)
    out: dict[int, list[tuple[dict, float]]] = {}
    for rule in rules:
        i = spec_index[_spec(rule)]
        rates = []
        for seconds in (rule.window_seconds, rule.short_window_seconds or rule.window_seconds):
            c = counts[(i, period_index[seconds])]
            rates.append(burn_rate(c.bad, c.total, rule.objective_pct or 0.0))
        if None in rates:
            out[rule.id] = []
            continue
        labels = {"service": specs[i].service}
        if specs[i].route:
            labels["route"] = specs[i].route
        out[rule.id] = [(labels, min(rates))]
    return out


def render_burn_message(rule: AlertRule, value: float | None) -> str:
    """ "SLO API availability: budget burning 16.2× too fast over both 1h and 5m (page above
    14.4×, objective 99.9%)"."""
    slo = rule.name.removeprefix("SLO ").split(": ", 1)[0]
    severity = "page" if rule.severity == SEVERITY["page"] else "ticket"
    burn = "n/a" if value is None else f"{value:.1f}×"
    return (
        f"SLO {slo}: error budget burning {burn} too fast over both "
        f"{duration_text(rule.window_seconds)} and "
        f"{duration_text(rule.short_window_seconds or rule.window_seconds)} "
        f"({severity} above {rule.threshold:g}×, objective {rule.objective_pct:g}%)"
    )[:500]
