"""Error-budget arithmetic (the Google SRE workbook's), from good/total counts.

For an objective o (0.999 for 99.9%) and a window holding ``total`` events of which ``bad``
failed — events are requests, or seconds for an availability SLI:

- SLI = good / total;
- budget total = (1 − o) · total events; consumed = bad; remaining = total − consumed
  (negative once the budget is overspent); as % of the budget: 100 · remaining / budget;
- burn rate over a span = (bad / total in the span) / (1 − o): 1 spends exactly the budget
  over the window, 14.4 spends 2% of a 30-day budget in an hour;
- the budget runs out, at the last hour's burn rate b, after remaining% · window / b (the
  time a burn of b needs to spend what is left), never when b is 0.

Pure functions of numbers: the tests check them against hand-computed cases, and every page,
report and API answer gets its figures from ``incidents.slo.selectors`` which calls these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.sli import Counts

BURN_SPANS = {"1h": 3600, "6h": 6 * 3600, "1d": 86400, "3d": 3 * 86400}
CURRENT_RATE = "1h"  # the span whose burn rate dates the budget's end


def burn_rate(counts: Counts, objective: float) -> float | None:
    if counts.total <= 0:
        return None
    return (counts.bad / counts.total) / (1.0 - objective)


@dataclass
class Budget:
    objective_pct: float
    unit: str  # "seconds" or "requests"
    window_start: datetime
    window_end: datetime
    window_length: timedelta  # the whole window (a calendar month's full length)
    counts: Counts
    burn_rates: dict[str, float | None] = field(default_factory=dict)

    @property
    def objective(self) -> float:
        return self.objective_pct / 100.0

    @property
    def has_data(self) -> bool:
        return self.counts.total > 0

    @property
    def sli_pct(self) -> float | None:
        ratio = self.counts.ratio
        return None if ratio is None else 100.0 * ratio

    @property
    def budget_total(self) -> float:
        return (1.0 - self.objective) * self.counts.total

    @property
    def consumed(self) -> float:
        return self.counts.bad

    @property
    def remaining(self) -> float:
        return self.budget_total - self.consumed

    @property
    def consumed_pct(self) -> float | None:
        if not self.has_data:
            return None
        return 100.0 * self.consumed / self.budget_total

    @property
    def remaining_pct(self) -> float | None:
        consumed = self.consumed_pct
        return None if consumed is None else 100.0 - consumed

    @property
    def exhausted(self) -> bool:
        return self.has_data and self.remaining <= 0

    def in_minutes(self, events: float) -> float | None:
        """Seconds of an availability budget as minutes (None for request budgets)."""
        return events / 60.0 if self.unit == "seconds" else None

    @property
    def current_burn_rate(self) -> float | None:
        return self.burn_rates.get(CURRENT_RATE)

    @property
    def exhausted_at(self) -> datetime | None:
        """When the budget runs out if the last hour's burn rate holds; None when it is
        already spent, when nothing burns, or without data."""
        rate, left = self.current_burn_rate, self.remaining_pct
        if not rate or left is None or left <= 0:
            return None
        return self.window_end + self.window_length * (left / 100.0) / rate

    def share_of_budget(self, bad: float) -> float | None:
        """``bad`` events (an incident's) as % of this window's budget."""
        if self.budget_total <= 0:
            return None
        return 100.0 * bad / self.budget_total


def budget_from_counts(
    *,
    objective_pct: float,
    unit: str,
    window_start: datetime,
    window_end: datetime,
    window_length: timedelta,
    counts: Counts,
    spans: dict[str, Counts],
) -> Budget:
    objective = objective_pct / 100.0
    return Budget(
        objective_pct=objective_pct,
        unit=unit,
        window_start=window_start,
        window_end=window_end,
        window_length=window_length,
        counts=counts,
        burn_rates={name: burn_rate(c, objective) for name, c in spans.items()},
    )
