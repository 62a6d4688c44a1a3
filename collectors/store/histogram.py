"""Fixed log-scaled latency buckets, mergeable by adding counts.

Bucket 0 holds values <= BASE_MS; bucket i (1..N-2) holds (BASE·G^(i-1), BASE·G^i]; the last
bucket holds everything larger. With G = 2^(1/4) a bucket spans +19%, so a percentile read
from merged buckets (linear inside the bucket) is within about ±9% of the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BASE_MS = 0.05
GROWTH = 2**0.25
N_BUCKETS = 96
_LOG_G = math.log(GROWTH)


def upper_bound(i: int) -> float:
    return math.inf if i >= N_BUCKETS - 1 else BASE_MS * GROWTH**i


def bucket_index(value_ms: float) -> int:
    if value_ms <= BASE_MS:
        return 0
    if value_ms > BASE_MS * GROWTH ** (N_BUCKETS - 2):  # also inf, whose log has no ceil
        return N_BUCKETS - 1
    i = math.ceil(math.log(value_ms / BASE_MS) / _LOG_G - 1e-9)
    return min(i, N_BUCKETS - 1)


def quantile(counts: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of a bucket-count vector, or None when it is empty."""
    total = sum(counts)
    if total == 0:
        return None
    target = q * total
    seen = 0
    for i, c in enumerate(counts):
        if c and seen + c >= target:
            lower = 0.0 if i == 0 else BASE_MS * GROWTH ** (i - 1)
            upper = upper_bound(i)
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * max(0.0, (target - seen)) / c
        seen += c
    return upper_bound(N_BUCKETS - 2)


def empty() -> list[int]:
    return [0] * N_BUCKETS


def trimmed(counts: list[int]) -> list[int]:
    """Drop trailing empty buckets before storing (merging pads shorter vectors with zeros)."""
    end = len(counts)
    while end > 1 and counts[end - 1] == 0:
        end -= 1
    return counts[:end]
