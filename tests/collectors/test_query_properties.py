"""The query engine against numpy on the raw points: random ranges, steps, aggregations and
groupings, over data partly rolled up and partly not (written after the last rollup run).

`make test` runs a short profile; `make test-query-properties` runs the long one
(HYPOTHESIS_PROFILE=query-long).
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.store import histogram, write_request_timings, write_samples
from collectors.store.query import series_query, window_values
from collectors.store.rollups import run_rollups

pytestmark = pytest.mark.django_db(transaction=True)

settings.register_profile(
    "query-short",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "query-long",
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "query-short")
if PROFILE not in ("query-short", "query-long"):
    PROFILE = "query-short"

HOSTS = [("h0", "x"), ("h1", "x"), ("h2", "y"), ("h3", "y")]
STEPS = [15, 30, 60, 90, 120, 300, 900, 1800, 3600, 5400, 7200, 10800]
SPAN_S = 4 * 3600
GAUGE_AGGS = ["avg", "min", "max", "sum", "count", "last", "p50", "p95"]
GROUPINGS = [None, (), ("dc",)]


def _base() -> float:
    # Four hours ending 10 minutes ago, starting at a whole hour minus 7 s: every edge kind.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (now - timedelta(hours=5)).timestamp() - 7


def _gauge_points(base: float, seed: int):
    rng = np.random.default_rng(seed)
    points = []
    for host, dc in HOSTS:
        ts = base + float(rng.uniform(0, 20))
        while ts < base + SPAN_S:
            points.append(({"host": host, "dc": dc}, round(ts, 3), float(rng.normal(50, 20))))
            ts += float(rng.uniform(3, 40))
    return points


def _write(points) -> None:
    items = [{"metric": "prop_gauge", "labels": lbl, "value": v, "ts": ts} for lbl, ts, v in points]
    for i in range(0, len(items), 5000):
        write_samples(items[i : i + 5000])


@pytest.fixture
def gauge_data():
    """Samples over four hours; the rollup job ran after the first 80%, so the rest (and a few
    late samples inside the rolled-up part) are only in raw samples and the dirty ranges."""
    base = _base()
    points = _gauge_points(base, 11)
    early = [p for p in points if p[1] < base + 0.8 * SPAN_S]
    late = [p for p in points if p[1] >= base + 0.8 * SPAN_S]
    _write(early[::2])
    _write(early[1::2][:-40])
    run_rollups()
    _write(early[1::2][-40:] + late)
    return base, points


def _group(labels: dict, by):
    if by is None:
        return tuple(sorted(labels.items()))
    return tuple((k, labels[k]) for k in by if k in labels)


def _expected(points, start: float, end: float, step: int | None, agg: str, by):
    """{(group, stamp): value} computed with numpy from the raw points."""
    cells: dict[tuple, list[tuple[float, float, tuple]]] = defaultdict(list)
    for labels, ts, v in points:
        if not start <= ts < end:
            continue
        t = 0 if step is None else (int(np.floor(ts)) // step) * step
        cells[(_group(labels, by), t)].append((ts, v, tuple(sorted(labels.items()))))
    out = {}
    for (g, t), rows in cells.items():
        values = np.array([v for _, v, _ in rows])
        stamp = start if step is None else max(start, t)
        if agg == "avg":
            value = values.mean()
        elif agg == "min":
            value = values.min()
        elif agg == "max":
            value = values.max()
        elif agg == "sum":
            value = values.sum()
        elif agg == "count":
            value = float(len(values))
        elif agg == "last":  # each series' latest value, added up across a group
            latest: dict[tuple, tuple[float, float]] = {}
            for ts, v, series in rows:
                if series not in latest or ts > latest[series][0]:
                    latest[series] = (ts, v)
            value = sum(v for _, v in latest.values())
        else:
            value = float(np.percentile(values, {"p50": 50, "p95": 95}[agg]))
        out[(g, stamp)] = value
    return out


def _got(result, by) -> dict:
    out = {}
    for s in result.series:
        g = _group(s.labels, by) if by is not None else tuple(sorted(s.labels.items()))
        for ts, v in s.points:
            out[(g, ts.timestamp())] = v
    return out


def _assert_same(got: dict, expected: dict) -> None:
    assert set(got) == set(expected), (sorted(set(got) ^ set(expected))[:5], len(got))
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


queries = st.tuples(
    st.integers(min_value=-600, max_value=SPAN_S),  # start offset (s) from the data's base
    st.integers(min_value=1, max_value=SPAN_S + 1200),  # length (s)
    st.sampled_from([0, 0, 0.25, 0.5]),  # sub-second part of start
    st.sampled_from(STEPS),
    st.sampled_from(GAUGE_AGGS),
    st.sampled_from(GROUPINGS),
)


def test_series_query_matches_numpy_on_the_raw_points(gauge_data):
    base, points = gauge_data

    @settings(settings.get_profile(PROFILE))
    @given(queries)
    def check(q):
        offset, length, fraction, step, agg, by = q
        start = base + offset + fraction
        end = start + length
        if length / step > 11_000:
            return
        result = series_query(
            metric="prop_gauge",
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            step=step,
            agg=agg,
            by=by,
        )
        assert result.step == step
        _assert_same(_got(result, by), _expected(points, start, end, step, agg, by))

    check()


def _json_points(line) -> list:
    """A line's points as the API's client reads them."""
    return orjson.loads(orjson.dumps(line.points))


def test_one_series_answer_of_the_api_matches_numpy_settled_or_pending(gauge_data):
    """The API's one-series answer (read with its series look-up when nothing is pending in
    the window, otherwise after it; its points written as JSON by the database) against numpy,
    on both sides of the last rollup run."""
    base, points = gauge_data
    host = [(lbl, ts, v) for lbl, ts, v in points if lbl["host"] == "h1"]
    plain = ["avg", "min", "max", "sum", "count", "last"]

    @settings(settings.get_profile(PROFILE))
    @given(queries)
    def check(q):
        offset, length, fraction, step, agg, _ = q
        start = base + offset + fraction
        end = start + length
        if length / step > 11_000 or agg not in plain:
            return
        result = series_query(
            metric="prop_gauge",
            labels={"host": "h1"},
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            step=step,
            agg=agg,
            as_json=True,
        )
        assert result.step == step
        group = tuple(sorted(host[0][0].items()))
        got = {(group, ts): v for s in result.series for ts, v in _json_points(s)}
        _assert_same(got, _expected(host, start, end, step, agg, None))

    check()


def test_a_settled_one_series_query_is_one_statement_and_a_pending_one_two(gauge_data):
    base, points = gauge_data
    ask = partial(series_query, metric="prop_gauge", labels={"host": "h2"}, step=60, as_json=True)
    h2 = [p for p in points if p[0]["host"] == "h2"]
    for start, end, statements in ((base, base + 3600, 1), (base + 3600, base + SPAN_S, 2)):
        with CaptureQueriesContext(connection) as queries:
            result = ask(
                start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(end, UTC)
            )
        assert len(queries) == statements
        group = tuple(sorted(h2[0][0].items()))
        got = {(group, ts): v for ts, v in _json_points(result.series[0])}
        _assert_same(got, _expected(h2, start, end, 60, "avg", None))


def test_window_values_match_numpy_on_the_raw_points(gauge_data):
    base, points = gauge_data

    @settings(settings.get_profile(PROFILE))
    @given(queries)
    def check(q):
        offset, length, fraction, _, agg, by = q
        start = base + offset + fraction
        end = start + length
        rows = window_values(
            metric="prop_gauge",
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            agg=agg,
            by=by,
        )
        got = {
            (_group(lbl, by) if by is not None else _group(lbl, None), start): v for lbl, v in rows
        }
        _assert_same(got, _expected(points, start, end, None, agg, by))

    check()


ROUTES = [("api", "/send", "POST"), ("api", "/lists", "GET"), ("web", "/", "GET")]


@pytest.fixture
def request_data():
    """Request timings over three hours, some after the last rollup run."""
    rng = np.random.default_rng(5)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    base = (now - timedelta(hours=3, minutes=30)).timestamp()
    items = []
    for service, route, method in ROUTES:
        ts = base + float(rng.uniform(0, 30))
        while ts < base + 3 * 3600:
            status = int(
                rng.choice(
                    [200, 200, 200, 201, 404, 500, 503], p=[0.5, 0.2, 0.1, 0.05, 0.05, 0.05, 0.05]
                )
            )
            items.append(
                {
                    "service": service,
                    "route": route,
                    "method": method,
                    "status": status,
                    "duration_ms": round(float(rng.lognormal(np.log(60), 0.9)), 3),
                    "ts": round(ts, 3),
                }
            )
            ts += float(rng.exponential(20))
    cut = int(len(items) * 0.85)
    for i in range(0, cut, 5000):
        write_request_timings(items[i : min(cut, i + 5000)])
    run_rollups()
    write_request_timings(items[cut:])
    return base, items


def _minute(ts: float) -> int:
    return int(ts // 60) * 60


def _request_expected(items, start, end, step, agg, by):
    cells = defaultdict(list)
    for item in items:
        m = _minute(item["ts"])
        if not start <= m < end:
            continue
        labels = {"service": item["service"], "route": item["route"], "method": item["method"]}
        t = (m // step) * step
        cells[(_group(labels, by), t)].append(item)
    out = {}
    for (g, t), rows in cells.items():
        stamp = max(start, t)
        seconds = min(end, t + step) - stamp
        durations = [r["duration_ms"] for r in rows]
        if agg == "error_ratio":
            out[(g, stamp)] = sum(1 for r in rows if r["status"] >= 500) / len(rows)
        elif agg == "rate":
            out[(g, stamp)] = len(rows) / seconds
        elif agg == "count":
            out[(g, stamp)] = float(len(rows))
        elif agg == "avg":
            out[(g, stamp)] = float(np.mean(durations))
        else:
            q = {"p50": 0.5, "p95": 0.95, "p99": 0.99}[agg]
            out[(g, stamp)] = histogram.quantile(histogram.from_values(durations), q)
    return out


def test_request_queries_merge_histograms_and_counters_exactly(request_data):
    base, items = request_data

    @settings(settings.get_profile(PROFILE))
    @given(
        st.integers(min_value=-300, max_value=3 * 3600),
        st.integers(min_value=60, max_value=3 * 3600 + 600),
        st.sampled_from([60, 120, 300, 900, 3600, 5400, 7200]),
        st.sampled_from(["p50", "p95", "p99", "count", "avg", "rate", "error_ratio"]),
        st.sampled_from([None, (), ("service",), ("service", "method")]),
    )
    def check(offset, length, step, agg, by):
        start, end = base + offset, base + offset + length
        metric = "http_requests" if agg in ("error_ratio", "rate") else "http_request_duration_ms"
        result = series_query(
            metric=metric,
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            step=step,
            agg=agg,
            by=by,
        )
        got = {}
        for s in result.series:
            labels = {k: v for k, v in s.labels.items() if k != "status_class"}
            for ts, v in s.points:
                key = (_group(labels, by), ts.timestamp())
                if agg == "rate" and by is None:  # one counter series per status class
                    got[key] = got.get(key, 0.0) + v
                else:
                    got[key] = v
        expected = _request_expected(items, start, end, step, agg, by)
        _assert_same(got, expected)

    check()
