"""Each window aggregate has one definition: the store's ``stat_value`` (what dashboards'
batched windows compute from rollup statistics) and the query API's SQL (``AGG_SQL``) give the
same number for every aggregation on the same data, at the partial first bucket, whole hours
read from the rollups and the last minutes not rolled up yet; the 5xx share is one function
for the query API, the dashboards and the alert rules' calibration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import AlertRule
from alerts.selectors import rule_calibration
from collectors.store import write_samples
from collectors.store.batch import find_series, window_stats
from collectors.store.catalog import class_rate_pct
from collectors.store.reader import AGG_SQL
from collectors.store.rollups import run_rollups

pytestmark = pytest.mark.django_db


def _samples(metric: str, start: datetime, minutes: int, shape) -> list[dict]:
    return [
        {
            "metric": metric,
            "labels": {"host": host},
            "value": shape(i, h),
            "ts": start + timedelta(seconds=20 * i + 7 * h),
        }
        for h, host in enumerate(["a", "b"])
        for i in range(minutes * 3)
    ]


@pytest.mark.parametrize(
    ("metric", "shape"),
    [
        ("pool_in_use", lambda i, h: float((i * 37 + 11 * h) % 50) - 9.5),  # a gauge
        ("emails_sent", lambda i, h: float((i * 13 + h) % 40)),  # a counter (per interval)
    ],
)
def test_the_query_api_and_stat_value_agree_for_every_aggregation(api, metric, shape):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hour = now.replace(minute=0)
    first = hour - timedelta(hours=3)
    write_samples(_samples(metric, first, 3 * 60 - 2, shape))
    run_rollups()
    # Written after the rollup: the last minutes are read from raw rows at query time.
    write_samples(_samples(metric, hour - timedelta(minutes=2), 2, shape))
    start = first + timedelta(minutes=17, seconds=30)  # a partial first hour
    end = hour
    ids = {tuple(s.labels.items()): s.id for s in find_series([metric])[metric]}
    assert len(ids) == 2
    # The API's buckets at step=1h: [start, first+1h), then whole hours.
    edges = [start, first + timedelta(hours=1), first + timedelta(hours=2), end]
    periods = list(zip(edges, edges[1:], strict=False))
    stats = window_stats(list(ids.values()), periods)
    # A gauge's rate is the increase of a cumulative value (not a rollup statistic).
    for agg in [a for a in AGG_SQL if a != "rate" or metric == "emails_sent"]:
        body = api.get(
            "/api/v1/query",
            metric=metric,
            start=start.timestamp(),
            end=end.timestamp(),
            step="1h",
            agg=agg,
        ).json()
        assert body["resolution"] == "1h" and len(body["series"]) == 2, body
        for line in body["series"]:
            sid = ids[tuple(line["labels"].items())]
            from_api = dict(line["points"])
            for p, (a, b) in enumerate(periods):
                expected = stats[(sid, p)].value(agg, (b - a).total_seconds())
                assert from_api[a.timestamp()] == pytest.approx(expected, rel=1e-9), (agg, a)


def test_the_five_xx_share_is_one_figure_for_the_api_and_the_rule_calibration(api):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now.replace(minute=0) - timedelta(hours=3)
    counts = {"2xx": 940.0, "4xx": 35.0, "5xx": 25.0}
    write_samples(
        [
            {
                "metric": "http_requests",
                "labels": {"service": "api", "route": route, "status_class": cls},
                "value": n * (1 + h) / (1 + r),
                "ts": start + timedelta(hours=h, minutes=10 + r),
            }
            for h in range(3)
            for r, route in enumerate(["/send", "/lists"])
            for cls, n in counts.items()
        ]
    )
    run_rollups()
    body = api.get(
        "/api/v1/query",
        metric="http_requests",
        label="service=api",
        by="",
        start=start.timestamp(),
        end=(start + timedelta(hours=3)).timestamp(),
        step="1h",
        agg="error_ratio",
    ).json()
    [line] = body["series"]
    # Every hour holds the same mix: 25 of 1,000 requests are 5xx (4xx count in the total).
    assert [round(v, 12) for _, v in line["points"]] == [0.025] * 3
    assert class_rate_pct(counts) == pytest.approx(100 * line["points"][0][1])
    rule = AlertRule.objects.create(
        name="api 5xx",
        metric="http_requests",
        aggregation="error_ratio",
        comparator=">",
        threshold=5,
        label_filters={"service": "api"},
    )
    cal = rule_calibration(rule, now=now)
    assert cal.baseline == pytest.approx(2.5)
