"""Fixed log-scaled latency buckets, mergeable by adding counts, and the one quantile estimator.

Bucket 0 holds values <= BASE_MS; bucket i (1..N-2) holds (BASE·G^(i-1), BASE·G^i]; the last
bucket holds everything larger. G = 2^(1/4): each bucket spans +19%.

``quantile`` is the only percentile function of the store: the query API, the dashboards'
batched reads, alert rules and reports all call it. It follows numpy's default ``percentile``
(position h = q·(n−1) among the n sorted values, linear between the values ⌊h⌋ and ⌈h⌉) and
estimates each sorted value inside its bucket log-linearly, at the centre of its slot (values
are taken as spread evenly in log space across a bucket only 19% wide, as latencies are).

Error bound, against numpy's exact percentile of the same durations: every estimated sorted
value lies in the bucket of the true one, so it is within a factor G of it, and so is a linear
mix of two of them. Hence for durations between BASE_MS and the last finite bound the estimate
is always within −16% … +19% of the exact value (``MAX_RELATIVE_ERROR``). On lognormal
latencies (tests/collectors/test_histogram_quantile.py, seeded, 30 to 10,000 requests a
minute) the median error of a per-minute p50/p95/p99 is within ±1.5% and 99% of them are
within ±12%. Bucket 0 (<= 0.05 ms) is interpolated linearly from 0; values past the last finite
bound (BASE·G^94 ≈ 593 s) are reported as that bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BASE_MS = 0.05
GROWTH = 2**0.25
N_BUCKETS = 96
_LOG_G = math.log(GROWTH)
# estimate / exact stays within [1 / (1 + MAX_RELATIVE_ERROR), 1 + MAX_RELATIVE_ERROR].
MAX_RELATIVE_ERROR = GROWTH - 1


def upper_bound(i: int) -> float:
    return math.inf if i >= N_BUCKETS - 1 else BASE_MS * GROWTH**i


def lower_bound(i: int) -> float:
    return 0.0 if i <= 0 else BASE_MS * GROWTH ** (i - 1)


def bucket_index(value_ms: float) -> int:
    if value_ms <= BASE_MS:
        return 0
    if value_ms > BASE_MS * GROWTH ** (N_BUCKETS - 2):  # also inf, whose log has no ceil
        return N_BUCKETS - 1
    i = math.ceil(math.log(value_ms / BASE_MS) / _LOG_G - 1e-9)
    return min(i, N_BUCKETS - 1)


def _in_bucket(i: int, frac: float) -> float:
    """The value at ``frac`` (0..1) of bucket i: log-linear, linear in bucket 0."""
    if i == 0:
        return BASE_MS * frac
    if i >= N_BUCKETS - 1:
        return BASE_MS * GROWTH ** (N_BUCKETS - 2)
    return BASE_MS * GROWTH ** (i - 1 + frac)


def centre(i: int) -> float:
    """Bucket i's central value (log-linear), the estimate of a value known only by bucket."""
    return _in_bucket(i, 0.5)


def quantile(counts: Sequence[int | float], q: float) -> float | None:
    """The q-quantile (0..1) of a bucket-count vector, or None when it is empty."""
    total = sum(counts)
    if total <= 0:
        return None
    # numpy's default: position h = q·(n−1) between the sorted values ⌊h⌋ and ⌈h⌉, linearly.
    # Sorted value j sits at the centre of its slot [j, j+1) inside its bucket.
    h = min(max(q, 0.0), 1.0) * (total - 1)
    j = math.floor(h)
    frac_h = h - j
    seen = 0.0
    v_lo = None
    for i, c in enumerate(counts):
        if not c:
            continue
        if v_lo is None and seen + c > j:
            v_lo = _in_bucket(i, (j - seen + 0.5) / c)
            if frac_h == 0.0:
                return v_lo
        if v_lo is not None and seen + c > j + 1:
            return v_lo + (_in_bucket(i, (j + 1 - seen + 0.5) / c) - v_lo) * frac_h
        seen += c
    return v_lo


def quantiles(counts: Sequence[int | float], qs: Sequence[float]) -> dict[float, float | None]:
    """Several quantiles of one vector (one definition: ``quantile``)."""
    return {q: quantile(counts, q) for q in qs}


def empty() -> list[int]:
    return [0] * N_BUCKETS


def from_values(values_ms) -> list[int]:
    """Bucket counts of raw durations (what ingest does per minute)."""
    counts = empty()
    for v in values_ms:
        counts[bucket_index(v)] += 1
    return counts


def trimmed(counts: list[int]) -> list[int]:
    """Drop trailing empty buckets before storing (merging pads shorter vectors with zeros)."""
    end = len(counts)
    while end > 1 and counts[end - 1] == 0:
        end -= 1
    return counts[:end]
