"""KPI definitions (seed 000 §3): how each number is read from the store, its target, and
how a value is judged — the tiles, their previous-period deltas and the risk list all use it.

A KPI with a seed target is flagged when it misses the target (warning between the goal and
the hard limit where the seed gives both, e.g. API p95: goal 200 ms, KPI limit 2 s). A KPI
without a target (MRR, MAU, NPS, …) is flagged when it moved the wrong way by more than
``TREND_RISK_PCT`` against the previous period — the "early warning" of §8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dashboards import memo, selectors
from incidents import selectors as incident_selectors

TREND_RISK_PCT = 5.0

Reader = Callable[[datetime, datetime], float | None]


@dataclass(frozen=True)
class KpiDef:
    key: str
    label: str
    read: Reader
    unit: str = ""
    higher_is_better: bool = True
    goal: float | None = None  # meeting it is "good"
    limit: float | None = None  # missing the goal but within the limit is "warning"
    decimals: int = 0
    target_text: str = ""
    # Store metrics ``read`` uses: ``compute`` reads them for all KPIs in one query first.
    metrics: tuple[str, ...] = ()


@dataclass
class Kpi:
    definition: KpiDef
    value: float | None
    previous: float | None
    status: str  # good | warning | critical | unknown
    reason: str

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def label(self) -> str:
        return self.definition.label

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def delta_pct(self) -> float | None:
        if self.delta is None or not self.previous:
            return None
        return 100.0 * self.delta / abs(self.previous)

    @property
    def delta_good(self) -> bool | None:
        """Whether the change since the previous period is an improvement."""
        if not self.delta:
            return None
        return (self.delta > 0) == self.definition.higher_is_better

    def fmt(self, value: float | None) -> str:
        if value is None:
            return "no data"
        d = self.definition
        text = f"{value:,.{d.decimals}f}"
        if d.unit == "USD":
            return f"${text}"
        return f"{text}{' ' if d.unit not in ('%', '') else ''}{d.unit}"

    @property
    def display(self) -> str:
        return self.fmt(self.value)

    @property
    def previous_display(self) -> str:
        return self.fmt(self.previous)

    @property
    def delta_display(self) -> str:
        if self.delta is None:
            return ""
        d = self.definition
        sign = "+" if self.delta >= 0 else "−"
        text = f"{sign}{abs(self.delta):,.{d.decimals}f}"
        if self.delta_pct is not None and d.unit != "%":
            text += f" ({sign}{abs(self.delta_pct):.1f}%)"
        elif d.unit == "%":
            text += " pts"
        return text


def judge(d: KpiDef, value: float | None, previous: float | None) -> tuple[str, str]:
    if value is None:
        return "unknown", "no data in this period"
    better = (lambda a, b: a >= b) if d.higher_is_better else (lambda a, b: a <= b)
    if d.goal is not None:
        if better(value, d.goal):
            return "good", ""
        if d.limit is not None and better(value, d.limit):
            return "warning", f"misses the goal ({d.target_text})"
        return "critical", f"misses the target ({d.target_text})"
    if previous:
        change = 100.0 * (value - previous) / abs(previous)
        adverse = -change if d.higher_is_better else change
        if adverse > TREND_RISK_PCT:
            word = "down" if change < 0 else "up"
            return "warning", f"{word} {abs(change):.1f}% against the previous period"
    return "good", ""


def _gauge(metric: str, agg: str = "last", combine: str = "avg") -> Reader:
    def read(start: datetime, end: datetime) -> float | None:
        return selectors.scalar(metric, start, end, agg=agg, combine=combine)

    read.metrics = (metric,)  # type: ignore[attr-defined]
    return read


def _api_p95(start: datetime, end: datetime) -> float | None:
    return selectors.latency_ms(start, end)["p95"]


def _arr(start: datetime, end: datetime) -> float | None:
    mrr = selectors.scalar("mrr_usd", start, end, agg="last")
    return None if mrr is None else 12 * mrr


def _incident_stat(field: str) -> Reader:
    def read(start: datetime, end: datetime) -> float | None:
        # The incident count and MTTR tiles come from one read of the period.
        stats = memo.cached(
            ("incident_stats", start, end),
            lambda: incident_selectors.incident_stats(start=start, end=end),
        )
        value = stats.get(field)
        return None if value is None else float(value)

    return read


EXECUTIVE_KPIS: list[KpiDef] = [
    KpiDef(
        "uptime",
        "Uptime",
        selectors.uptime_pct,
        "%",
        True,
        99.9,
        None,
        3,
        "≥ 99.9% SLA",
    ),
    KpiDef(
        "api_p95",
        "API p95 latency",
        _api_p95,
        "ms",
        False,
        200,
        2000,
        0,
        "goal < 200 ms, KPI < 2 s",
        metrics=(selectors.HIST,),
    ),
    KpiDef(
        "error_rate",
        "Error rate (5xx)",
        selectors.error_rate_pct,
        "%",
        False,
        0.1,
        1.0,
        2,
        "goal < 0.1%, KPI < 1%",
        metrics=("http_requests",),
    ),
    KpiDef("mau", "Monthly active users", _gauge("mau")),
    KpiDef("dau", "Daily active users", _gauge("dau")),
    KpiDef("mrr", "MRR", _gauge("mrr_usd"), "USD"),
    KpiDef("arr", "ARR (12 × MRR)", _arr, "USD", metrics=("mrr_usd",)),
    KpiDef("churn", "Churn", _gauge("churn_rate_pct"), "%", False, decimals=2),
    KpiDef("arpu", "ARPU", _gauge("arpu_usd"), "USD", decimals=2),
    KpiDef("ltv", "LTV", _gauge("ltv_usd"), "USD"),
    KpiDef(
        "deliverability",
        "Inbox placement",
        _gauge("inbox_placement_pct", agg="avg"),
        "%",
        True,
        95,
        None,
        1,
        "≥ 95%",
    ),
    KpiDef("nps", "NPS", _gauge("nps")),
    KpiDef("trial_conversion", "Trial → paid", _gauge("trial_conversion_pct"), "%", decimals=1),
    KpiDef("incidents", "Incidents", _incident_stat("count"), "", False),
    KpiDef("mttr", "MTTR", _incident_stat("mttr_hours"), "h", False, 4, None, 1, "< 4 h"),
]


def _metrics(d: KpiDef) -> tuple[str, ...]:
    return d.metrics or getattr(d.read, "metrics", ())


def compute(defs: list[KpiDef], start: datetime, end: datetime, prev_start: datetime) -> list[Kpi]:
    if memo.current() is None:
        with memo.scope():
            return compute(defs, start, end, prev_start)
    # The KPI tiles and the risk list of a page show the same KPIs: computed once.
    key = ("kpis", tuple(d.key for d in defs), start, end, prev_start)
    return memo.cached(key, lambda: _compute(defs, start, end, prev_start))


def _compute(defs: list[KpiDef], start: datetime, end: datetime, prev_start: datetime) -> list[Kpi]:
    periods = [(start, end), (prev_start, start)]
    selectors.prefetch({m for d in defs for m in _metrics(d)}, periods)
    if any(selectors.HIST in _metrics(d) for d in defs):
        selectors.hist_windows(selectors.HIST, periods)
    out = []
    for d in defs:
        value = d.read(start, end)
        previous = d.read(prev_start, start)
        status, reason = judge(d, value, previous)
        out.append(Kpi(d, value, previous, status, reason))
    return out
