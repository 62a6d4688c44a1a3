"""The development page's deployments: DORA tiles, the timeline and table, and the markers on
the latency chart, from deployments recorded in the incidents app."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from dashboards.pages import page_by_slug
from dashboards.panels.base import render
from incidents.models import Deployment, Incident


@pytest.fixture
def releases(demo_metrics, now):
    """Four production releases in the last day (one rolled back after the incident it caused,
    one failed) and one to staging."""
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731

    def make(service, version, status, hours_ago, lead_h=None, environment="production"):
        started = ago(hours=hours_ago)
        return Deployment.objects.create(
            service=service,
            version=version,
            environment=environment,
            status=status,
            started_at=started,
            finished_at=None if status == "in_progress" else started + timedelta(minutes=6),
            commit_at=started - timedelta(hours=lead_h) if lead_h else None,
            deployed_by="github-actions",
        )

    make("api", "v2.4.0", "succeeded", 20, lead_h=3)
    make("api", "v2.4.1", "succeeded", 10, lead_h=5)
    bad = make("tracking", "v1.8.2", "rolled_back", 6, lead_h=2)
    make("worker", "v0.9.1", "failed", 4)
    make("api", "v2.5.0-rc1", "succeeded", 3, environment="staging")
    Incident.objects.create(
        title="Open tracking 502s",
        severity="critical",
        service="tracking",
        status="resolved",
        started_at=ago(hours=5, minutes=50),
        resolved_at=ago(hours=4, minutes=20),
        caused_by_deployment=bad,
    )
    return bad


def test_dora_tiles_show_the_figures_against_their_targets(releases, day):
    rendered = render(page_by_slug("development").panel("deployments"), day)
    tiles = {t.key: t for t in rendered.data.tiles}
    # 3 production releases reached production (2 succeeded + 1 rolled back) in one day
    assert tiles["deploy_frequency"].display == "21.0/week"
    assert tiles["deploy_frequency"].status == "good"
    # median of (3 h + 6 min) and (5 h + 6 min)
    assert tiles["lead_time"].display == "4.1 h"
    # rolled back (and caused the incident) + failed = 2 of 4 finished
    assert tiles["change_failure_rate"].display == "50.0%"
    assert tiles["change_failure_rate"].status == "critical"
    assert "1 failed, 1 rolled back, 1 caused an incident" in tiles["change_failure_rate"].detail
    assert tiles["mttr"].display == "1.5 h" and tiles["mttr"].status == "good"


def test_timeline_and_table_list_every_deployment(releases, day):
    rendered = render(page_by_slug("development").panel("deployments"), day)
    traces = {t["name"]: t for t in rendered.figure["data"]}
    assert set(traces) == {"succeeded", "failed", "rolled back", "caused an incident"}
    assert sorted(traces["succeeded"]["y"]) == ["api", "api", "api"]
    assert traces["caused an incident"]["y"] == ["tracking"]
    assert "v1.8.2" in traces["rolled back"]["hovertext"][0]
    versions = [row[3] for row in rendered.table.rows]
    assert versions == ["v2.5.0-rc1", "v0.9.1", "v1.8.2", "v2.4.1", "v2.4.0"]  # newest first
    caused = {row[3]: row[6] for row in rendered.table.rows}
    assert caused["v1.8.2"] == 1 and caused["v2.4.0"] == 0


def test_latency_chart_marks_production_deployments(releases, day):
    rendered = render(page_by_slug("development").panel("route-latency"), day)
    marks = next(t for t in rendered.figure["data"] if t["name"] == "deployments")
    assert len(marks["x"]) == 4  # not the staging one
    lines = [s for s in rendered.figure["layout"]["shapes"] if s.get("yref") == "paper"]
    assert len(lines) == 4
    assert sorted(s["line"]["color"] for s in lines) == ["#8a93a6", "#8a93a6", "#d33a2c", "#d33a2c"]


def test_development_page_shows_dora_and_the_deployments(releases, make_user, login_client):
    client = login_client(make_user("development"))
    body = client.get("/dashboard/development/", {"range": "24h"}).content.decode()
    assert "Change failure rate" in body and "50.0%" in body and "misses target" in body
    assert "v1.8.2" in body and "rolled_back" in body
    assert "No deployment data" not in body
    export = client.get("/dashboard/development/panels/deployments/export.csv", {"range": "24h"})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["started", "service", "environment", "version", "status"]
    assert len(rows) == 6


def test_panel_says_how_to_record_deployments_when_there_are_none(demo_metrics, day):
    rendered = render(page_by_slug("development").panel("deployments"), day)
    assert rendered.data.available and rendered.table.rows == [] and rendered.figure is None
    tiles = {t.key: t for t in rendered.data.tiles}
    assert tiles["change_failure_rate"].display == "—"
    assert tiles["deploy_frequency"].display == "0.0/week"
