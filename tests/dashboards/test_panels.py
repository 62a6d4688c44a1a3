"""Each panel on its own: its query against the store, and the figure and rows built from it."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from dashboards.kpis import EXECUTIVE_KPIS, KpiDef, judge
from dashboards.pages import PAGES, page_by_slug
from dashboards.panels.base import render
from dashboards.panels.capacity import forecast
from dashboards.selectors import Line
from dashboards.timerange import TimeRange


def _numbers(values) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.slug)
def test_every_panel_renders_from_the_store(page, demo_metrics, day):
    drawn = []
    for panel in page.panels:
        rendered = render(panel, day)
        columns = rendered.table.columns
        assert columns, panel.key
        assert all(len(row) == len(columns) for row in rendered.table.rows), panel.key
        if rendered.figure is None:
            continue
        for trace in rendered.figure["data"]:
            if trace.get("z") is not None:  # heatmap: a row of cells per y label
                assert len(trace["z"]) == len(trace["y"]), panel.key
                values = [v for row in trace["z"] for v in row]
            elif trace.get("y") is not None:  # a point per x
                assert len(trace["y"]) == len(trace["x"]), (panel.key, trace.get("name"))
                values = trace["y"]
            else:
                values = trace.get("values") or []
            numbers = _numbers(values)
            assert all(math.isfinite(v) for v in numbers), (panel.key, trace.get("name"))
            drawn += numbers
    # The known world has data for every page: its charts draw numbers, not empty axes.
    assert any(y != 0 for y in drawn), page.slug


def test_kpi_tiles_show_store_values_with_previous_period(demo_metrics, day):
    tiles = {k.key: k for k in render(page_by_slug("executive").panel("kpis"), day).data}
    assert tiles["mrr"].value == 200_000
    assert tiles["mrr"].previous == 150_000
    assert tiles["arr"].value == 12 * 200_000
    assert tiles["mau"].delta == 4_000
    assert tiles["deliverability"].value == pytest.approx((97 + 88 + 96) / 3)
    assert tiles["error_rate"].value == pytest.approx(100 * 5 / 110)


def test_kpi_below_target_is_flagged_and_listed_as_risk(demo_metrics, day):
    tiles = {k.key: k for k in render(page_by_slug("executive").panel("kpis"), day).data}
    assert tiles["error_rate"].status == "critical"  # 4.5% > 1% KPI
    assert tiles["deliverability"].status == "critical"  # 93.7% < 95%
    assert tiles["nps"].status == "warning"  # fell 25% against the previous period
    assert tiles["mrr"].status == "good"
    risks = render(page_by_slug("executive").panel("risks"), day).data
    assert {k.key for k in risks} >= {"error_rate", "deliverability", "nps"}
    assert "mrr" not in {k.key for k in risks}


def test_judge_uses_goal_then_limit():
    d = KpiDef(
        "p95", "p95", lambda s, e: None, "ms", False, 200, 2000, 0, "goal < 200 ms, KPI < 2 s"
    )
    assert judge(d, 150, None)[0] == "good"
    assert judge(d, 900, None)[0] == "warning"
    assert judge(d, 2500, None)[0] == "critical"
    assert judge(d, None, None)[0] == "unknown"


def test_timeseries_panel_draws_previous_period_dashed_on_the_same_axis(demo_metrics, day):
    rendered = render(page_by_slug("executive").panel("revenue"), day)
    traces = rendered.figure["data"]
    current = next(t for t in traces if t["name"] == "MRR")
    previous = next(t for t in traces if t["name"] == "MRR (previous period)")
    assert 200_000 in current["y"]
    assert 150_000 in previous["y"]
    assert previous["line"]["dash"] == "dash"
    # shifted by the range length: the previous point sits inside this period's axis
    assert previous["x"][0] >= rendered.figure["layout"]["xaxis"]["range"][0]
    periods = {row[2] for row in rendered.table.rows}
    assert periods == {"current", "previous"}


def test_capacity_forecast_finds_when_a_rising_resource_reaches_80_percent(now):
    points = [(now - timedelta(hours=14 - i), 56.0 + i) for i in range(15)]  # 1 point/hour, now 70
    f = forecast("db-1", "CPU", Line("db-1", points))
    assert f.verdict == "reaches"
    assert f.reaches_limit_at == pytest.approx(now + timedelta(hours=10), abs=timedelta(minutes=1))
    flat = forecast(
        "web-1", "CPU", Line("web-1", [(now - timedelta(hours=12 - i), 30.0) for i in range(13)])
    )
    assert flat.verdict == "steady" and flat.reaches_limit_at is None
    hot = forecast(
        "web-2", "CPU", Line("web-2", [(now - timedelta(hours=12 - i), 90.0) for i in range(13)])
    )
    assert hot.verdict == "above"


def test_capacity_says_not_enough_data_for_a_few_hours_of_history(now):
    # A morning ramp of 4 hours: a slope of 120 points a day, which is the cycle, not a trend.
    points = [(now - timedelta(hours=4 - i), 20.0 + 20 * i) for i in range(5)]
    f = forecast("new-host", "CPU", Line("new-host", points))
    assert f.verdict == "not enough data"
    assert f.slope_per_day is None and f.reaches_limit_at is None
    assert f.current == 100.0


def test_capacity_panel_reads_host_trends(demo_metrics, day):
    data = render(page_by_slug("operations").panel("capacity"), day).data
    db_cpu = next(f for f in data if f.host == "db-1" and f.resource == "CPU")
    assert db_cpu.verdict == "reaches"  # 60 → 71, +0.5 points an hour
    assert db_cpu.reaches_limit_at > day.end
    web_mem = next(f for f in data if f.host == "web-1" and f.resource == "memory")
    assert web_mem.verdict == "steady"


def test_table_heatmap_levels_against_seed_001(demo_metrics, day):
    rendered = render(page_by_slug("table-traffic").panel("table-traffic"), day)
    rows = {r[0]: r for r in rendered.table.rows}
    assert rows["email_messages"][2] == "very high"
    assert rows["email_messages"][6] == "within planned band"
    assert rows["billing_analytics"][2] == "medium"
    assert rendered.figure["data"][0]["type"] == "heatmap"


def test_scaling_projection_highlights_the_current_tenant_tier(demo_metrics, day):
    rendered = render(page_by_slug("operations").panel("scaling"), day)
    assert rendered.data.tenants == 1_234
    assert rendered.data.tier.tenants == 1_000
    tier_rows = [r for r in rendered.table.rows if r[4] == "current tier"]
    assert [r[1] for r in tier_rows] == [1_000]


def test_route_latency_and_error_rates_per_route(demo_metrics, day):
    data = render(page_by_slug("development").panel("route-latency"), day).data
    campaigns = next(r for r in data.routes if r.route == "/v1/campaigns")
    assert campaigns.requests == 100
    assert campaigns.rate_5xx == pytest.approx(5.0)
    assert 100 < campaigns.p95 < 175  # durations 50..149 ms, log buckets ±9%
    assert campaigns.p95_previous == pytest.approx(500, rel=0.2)
    login = next(r for r in data.routes if r.route == "/v1/login")
    assert login.rate_4xx == pytest.approx(50.0)


def test_errors_by_route_counts_only_5xx(demo_metrics, day):
    data = render(page_by_slug("development").panel("errors-by-route"), day).data
    assert data.current == {"/v1/campaigns": 5.0}


def test_account_health_and_sla_per_tenant(demo_metrics, day):
    health = render(page_by_slug("customer-success").panel("account-health"), day).data
    assert [t.tenant for t in health][0] == "umbrella"  # critical first
    assert health[0].status == "critical" and health[0].previous == 50
    sla = {
        r.tenant: r for r in render(page_by_slug("customer-success").panel("tenant-sla"), day).data
    }
    assert sla["umbrella"].met is False
    assert sla["acme"].met is True


def test_feature_adoption_share_of_tenants(demo_metrics, day):
    rendered = render(page_by_slug("customer-success").panel("feature-adoption"), day)
    rows = {r[0]: r for r in rendered.table.rows}
    assert rows["warmup"][2] == 100.0
    assert rows["ab_testing"][2] == pytest.approx(33.3)


def test_a_range_without_data_renders_empty_not_invented(db, now):
    tr = TimeRange("1h", now - timedelta(hours=1), now)
    rendered = render(page_by_slug("executive").panel("kpis"), tr)
    from_store = [k for k in rendered.data if k.key not in ("incidents", "mttr")]
    assert {k.status for k in from_store} == {"unknown"}
    assert all(k.value is None and k.display == "no data" for k in from_store)


def test_executive_kpis_cover_the_seed_list():
    keys = {d.key for d in EXECUTIVE_KPIS}
    assert keys >= {
        "uptime",
        "api_p95",
        "error_rate",
        "mau",
        "dau",
        "mrr",
        "arr",
        "churn",
        "arpu",
        "ltv",
        "deliverability",
        "nps",
        "trial_conversion",
        "incidents",
        "mttr",
    }


def test_an_incomplete_last_bucket_is_left_out_of_additive_lines(store, now):
    from datetime import UTC, datetime

    from dashboards import selectors

    # One event a minute, steadily, for three hours.
    store.samples(
        [
            {"metric": "demo_events", "labels": {}, "value": 1.0, "ts": now - timedelta(minutes=m)}
            for m in range(1, 181)
        ]
    )
    ten = 600
    aligned = datetime.fromtimestamp(int(now.timestamp()) // ten * ten - ten, tz=UTC)
    tr = TimeRange("custom", aligned - timedelta(hours=2), aligned + timedelta(minutes=5))
    (line,) = selectors.lines("demo_events", tr, agg="sum", step=ten)
    # Every bucket shown is whole (10 events); the half-filled one at the end is not drawn.
    assert {v for _, v in line.points} == {10.0}
    assert line.points[-1][0] == aligned - timedelta(minutes=10)
    # Averages are not biased by a part-filled bucket: they keep it.
    (avg,) = selectors.lines("demo_events", tr, agg="avg", step=ten)
    assert avg.points[-1][0] == aligned
