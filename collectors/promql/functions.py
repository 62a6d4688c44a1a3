"""Range-vector functions and ``histogram_quantile``, computed as Prometheus 2.42 does.

Each range function sees one series' samples in a window [ref − range, ref] (both ends
included, as in Prometheus 2.x) as index bounds into its sample lists, and returns a value or
None (no output for that step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def divide(a: float, b: float) -> float:
    """Float division as Go does it: ±Inf or NaN for a zero divisor, never an exception."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _resets(values: list[float]) -> list[float]:
    """At i: the value before a counter reset at i (what Prometheus adds back), else 0."""
    out = [0.0] * len(values)
    for i in range(1, len(values)):
        if values[i] < values[i - 1]:
            out[i] = values[i - 1]
    return out


class RangeSeries:
    """One series' samples with what the range functions precompute once for all steps."""

    def __init__(self, ts: list[int], values: list[float]):
        self.ts = ts
        self.values = values
        self._resets: list[float] | None = None

    @property
    def resets(self) -> list[float]:
        if self._resets is None:
            self._resets = _resets(self.values)
        return self._resets


def extrapolated(
    s: RangeSeries,
    lo: int,
    hi: int,
    range_start: int,
    range_end: int,
    *,
    counter: bool,
    per_second: bool,
    range_ms: int,
) -> float | None:
    """Prometheus' ``extrapolatedRate`` (rate, increase; delta without ``counter``)."""
    if hi - lo < 2:
        return None
    ts, values = s.ts, s.values
    first_t, last_t = ts[lo], ts[hi - 1]
    first_v = values[lo]
    result = values[hi - 1] - first_v
    if counter:
        result += sum(s.resets[lo + 1 : hi])
    duration_to_start = (first_t - range_start) / 1000
    duration_to_end = (range_end - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / (hi - lo - 1)
    if counter and result > 0 and first_v >= 0:
        # A counter cannot go below 0: extrapolate no further back than its zero point.
        duration_to_zero = sampled * (first_v / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero
    threshold = average * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else average / 2
    interval += duration_to_end if duration_to_end < threshold else average / 2
    factor = interval / sampled
    if per_second:
        factor /= range_ms / 1000
    return result * factor


def irate(s: RangeSeries, lo: int, hi: int) -> float | None:
    """Prometheus' ``instantValue`` for irate: the last two samples of the window."""
    if hi - lo < 2:
        return None
    last, previous = s.values[hi - 1], s.values[hi - 2]
    interval = s.ts[hi - 1] - s.ts[hi - 2]
    if interval == 0:
        return None
    result = last if last < previous else last - previous
    return result / (interval / 1000)


def _avg(values: list[float]) -> float:
    # Prometheus' incremental mean, which stays finite where a plain sum would overflow.
    mean = 0.0
    count = 0.0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean += v / count - mean / count
    return mean


def _min(values: list[float]) -> float:
    out = values[0]
    for v in values[1:]:
        if v < out or math.isnan(out):
            out = v
    return out


def _max(values: list[float]) -> float:
    out = values[0]
    for v in values[1:]:
        if v > out or math.isnan(out):
            out = v
    return out


OVER_TIME: dict[str, Callable[[list[float]], float]] = {
    "avg_over_time": _avg,
    "min_over_time": _min,
    "max_over_time": _max,
    "sum_over_time": math.fsum,
    "count_over_time": lambda values: float(len(values)),
    "last_over_time": lambda values: values[-1],
}


def over_time(name: str, s: RangeSeries, lo: int, hi: int) -> float | None:
    if hi <= lo:
        return None
    return OVER_TIME[name](s.values[lo:hi])


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' ``bucketQuantile`` over (upper bound, cumulative count) pairs."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan
    # Buckets with the same bound (e.g. "1" and "1.0") are one bucket.
    merged: list[list[float]] = []
    for bound, count in ordered:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    # Cumulative counts must not decrease (precision loss in rates can make them).
    top = -math.inf
    for b in merged:
        if b[1] > top:
            top = b[1]
        elif b[1] < top:
            b[1] = top
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * divide(rank, count)
