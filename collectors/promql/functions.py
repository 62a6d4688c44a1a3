"""Range-vector functions and ``histogram_quantile``, computed as Prometheus 2.42 does.

Each range function gets one series' samples and the windows [ref − range, ref] of every step
(both ends included, as in Prometheus 2.x), and returns a value or None (no output) per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def divide(a: float, b: float) -> float:
    """Float division as Go does it: ±Inf or NaN for a zero divisor, never an exception."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


class RangeSeries:
    """One series' samples as arrays, for the range functions evaluated at every step at once
    (numpy: a 30-day range at 1,441 steps is one pass instead of 1,441 Python calls)."""

    def __init__(self, ts: list[int], values: list[float]):
        self.ts = ts
        self.values = values
        self.ts_arr = np.asarray(ts, dtype=np.int64)
        self.values_arr = np.asarray(values, dtype=np.float64)

    def bounds(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per step, the index range [lo, hi) of the samples in [start, end]."""
        return (
            np.searchsorted(self.ts_arr, starts, side="left"),
            np.searchsorted(self.ts_arr, ends, side="right"),
        )

    def reset_prefix(self) -> np.ndarray:
        """R[k]: what counter resets before index k add back (Prometheus adds the value
        before each drop), so a window [lo, hi) adds R[hi] − R[lo + 1]."""
        v = self.values_arr
        drops = np.zeros(len(v))
        if len(v) > 1:
            drops[1:] = np.where(v[1:] < v[:-1], v[:-1], 0.0)
        return np.concatenate(([0.0], np.cumsum(drops)))


def _to_values(out: np.ndarray, ok: np.ndarray) -> list[float | None]:
    return [float(x) if keep else None for x, keep in zip(out.tolist(), ok.tolist(), strict=True)]


@np.errstate(all="ignore")  # ±Inf and NaN are values here, as in Go
def extrapolated(
    s: RangeSeries,
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    counter: bool,
    per_second: bool,
    range_ms: int,
) -> list[float | None]:
    """Prometheus' ``extrapolatedRate`` (rate, increase) at every step: the increase between
    the window's first and last samples (plus what counter resets lost), extrapolated to the
    window's edges when the samples reach near them, never below the counter's zero point."""
    lo, hi = s.bounds(starts, ends)
    ok = hi - lo >= 2
    if not ok.any():
        return [None] * len(starts)
    # Steps without two samples compute on indexes 0 and 1 (there are ≥ 2 samples, since
    # some step has them) and are dropped at the end.
    lo, hi = np.where(ok, lo, 0), np.where(ok, hi, 2)
    last = hi - 1
    ts, v = s.ts_arr, s.values_arr
    first_v, last_v = v[lo], v[last]
    result = last_v - first_v
    if counter:
        prefix = s.reset_prefix()
        result = result + (prefix[hi] - prefix[lo + 1])
    duration_to_start = (ts[lo] - starts) / 1000
    duration_to_end = (ends - ts[last]) / 1000
    sampled = (ts[last] - ts[lo]) / 1000
    sampled = np.where(sampled > 0, sampled, 1.0)  # only where ok is False
    average = sampled / (hi - lo - 1)
    if counter:
        # A counter cannot go below 0: extrapolate no further back than its zero point.
        zero_possible = (result > 0) & (first_v >= 0)
        duration_to_zero = sampled * (first_v / np.where(zero_possible, result, 1.0))
        duration_to_start = np.where(
            zero_possible & (duration_to_zero < duration_to_start),
            duration_to_zero,
            duration_to_start,
        )
    threshold = average * 1.1
    interval = (
        sampled
        + np.where(duration_to_start < threshold, duration_to_start, average / 2)
        + np.where(duration_to_end < threshold, duration_to_end, average / 2)
    )
    factor = interval / sampled
    if per_second:
        factor = factor / (range_ms / 1000)
    return _to_values(result * factor, ok)


@np.errstate(all="ignore")
def irate(s: RangeSeries, starts: np.ndarray, ends: np.ndarray) -> list[float | None]:
    """Prometheus' ``instantValue`` for irate at every step: the window's last two samples."""
    lo, hi = s.bounds(starts, ends)
    ok = hi - lo >= 2
    if not ok.any():
        return [None] * len(starts)
    hi = np.where(ok, hi, 2)
    ts, v = s.ts_arr, s.values_arr
    last, previous = v[hi - 1], v[hi - 2]
    result = np.where(last < previous, last, last - previous)
    return _to_values(result / ((ts[hi - 1] - ts[hi - 2]) / 1000), ok)


def mean(values: list[float]) -> float:
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


def minimum(values: list[float]) -> float:
    out = values[0]
    for v in values[1:]:
        if v < out or math.isnan(out):
            out = v
    return out


def maximum(values: list[float]) -> float:
    out = values[0]
    for v in values[1:]:
        if v > out or math.isnan(out):
            out = v
    return out


OVER_TIME: dict[str, Callable[[list[float]], float]] = {
    "avg_over_time": mean,
    "min_over_time": minimum,
    "max_over_time": maximum,
    "sum_over_time": math.fsum,
    "count_over_time": lambda values: float(len(values)),
    "last_over_time": lambda values: values[-1],
}


def over_time(
    name: str, s: RangeSeries, starts: np.ndarray, ends: np.ndarray
) -> list[float | None]:
    fn = OVER_TIME[name]
    values = s.values
    lo, hi = s.bounds(starts, ends)
    return [
        fn(values[a:b]) if b > a else None for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
    ]


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
