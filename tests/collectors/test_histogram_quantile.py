"""The one quantile estimator of latency histograms against numpy's exact percentiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.store import histogram

QS = (0.5, 0.95, 0.99)
LOW, HIGH = 1 / (1 + histogram.MAX_RELATIVE_ERROR), 1 + histogram.MAX_RELATIVE_ERROR


@pytest.mark.parametrize("per_minute", [30, 140, 1000, 10_000])
def test_per_minute_percentiles_of_lognormal_latencies_are_close_to_numpy(per_minute):
    rng = np.random.default_rng(per_minute)
    minutes = 300 if per_minute <= 1000 else 60
    errors = {q: [] for q in QS}
    for _ in range(minutes):
        durations = rng.lognormal(np.log(80), 0.8, per_minute)
        counts = histogram.from_values(durations)
        for q in QS:
            exact = float(np.percentile(durations, 100 * q))
            got = histogram.quantile(counts, q)
            assert LOW - 1e-9 <= got / exact <= HIGH + 1e-9, (q, got, exact)
            errors[q].append(got / exact - 1)
    for q, errs in errors.items():
        errs = np.array(errs)
        assert abs(np.median(errs)) <= 0.015, (q, np.median(errs))
        assert np.percentile(np.abs(errs), 99) <= 0.12, (q, np.percentile(np.abs(errs), 99))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=0.06, max_value=500_000), min_size=1, max_size=300),
    st.floats(min_value=0, max_value=1),
)
def test_any_estimate_is_within_one_bucket_factor_of_numpy(durations, q):
    exact = float(np.percentile(durations, 100 * q))
    got = histogram.quantile(histogram.from_values(durations), q)
    assert LOW * (1 - 1e-6) <= got / exact <= HIGH * (1 + 1e-6)


def test_merging_adds_counts_so_the_merged_quantile_is_the_pooled_one():
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(3, 1, 500), rng.lognormal(6, 0.5, 200)
    merged = [
        x + y for x, y in zip(histogram.from_values(a), histogram.from_values(b), strict=True)
    ]
    assert merged == histogram.from_values(np.concatenate([a, b]))
    exact = float(np.percentile(np.concatenate([a, b]), 95))
    assert histogram.quantile(merged, 0.95) == pytest.approx(exact, rel=0.05)


def test_empty_and_single_value_vectors():
    assert histogram.quantile(histogram.empty(), 0.5) is None
    one = histogram.from_values([100.0])
    i = histogram.bucket_index(100.0)
    # A lone value is placed at its bucket's geometric centre.
    centre = (histogram.lower_bound(i) * histogram.upper_bound(i)) ** 0.5
    assert histogram.quantile(one, 0.0) == pytest.approx(centre)
    assert histogram.quantile(one, 1.0) == pytest.approx(centre)
    huge = histogram.from_values([10**9])
    assert histogram.quantile(huge, 0.99) == pytest.approx(histogram.upper_bound(94))
