"""Dashboards people can steer: pickers kept in the URL, threshold colours, host small
multiples, the table-traffic heatmap on its own page with traffic (not alarm) words."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from dashboards.pages import page_by_slug
from dashboards.panels.base import render
from dashboards.panels.figures import BAD_RED, NEAR_AMBER, OK_BLUE


def test_the_host_picker_narrows_the_host_charts_and_stays_in_every_link(
    demo_metrics, make_user, login_client
):
    client = login_client(make_user("operations"))
    resp = client.get("/dashboard/operations/", {"range": "24h", "host": "db-1"})
    assert resp.status_code == 200
    hosts = next(p for p in resp.context["panels"] if p.key == "host-resources").data
    assert [h.host for h in hosts] == ["db-1"]
    html = resp.content.decode()
    assert "panels/host-resources/export.csv?range=24h&amp;host=db-1" in html
    assert 'data-range-query="range=24h&amp;host=db-1"' in html
    picker = html[
        html.index('data-picker="host"') : html.index("</select>", html.index('data-picker="host"'))
    ]
    assert '<option value="db-1" selected>db-1</option>' in picker and "web-1" in picker
    assert client.get("/dashboard/operations/", {"host": "x" * 300}).status_code == 400


def test_hosts_are_small_multiples_with_points_past_the_limits_marked(demo_metrics, day):
    rendered = render(page_by_slug("operations").panel("host-resources"), day)
    layout = rendered.figure["layout"]
    assert {"xaxis", "xaxis2", "yaxis", "yaxis2"} <= set(layout)
    assert [a["text"] for a in layout["annotations"]] == ["<b>db-1</b>", "<b>web-1</b>"]
    assert layout["yaxis"]["ticksuffix"] == "%"


def test_bars_below_the_target_are_red_and_near_it_amber(demo_metrics, day):
    panel = page_by_slug("customer-success").panel("deliverability-by-tenant")
    rendered = render(panel, day)
    bars = rendered.figure["data"][0]
    colours = dict(zip(bars["x"], bars["marker"]["color"], strict=True))
    assert colours == {"acme": OK_BLUE, "hooli": NEAR_AMBER, "umbrella": BAD_RED}
    assert rendered.figure["layout"]["yaxis"]["title"]["text"] == "%"


def test_the_tenant_picker_narrows_the_bars(demo_metrics, day):
    panel = page_by_slug("customer-success").panel("deliverability-by-tenant")
    data = render(panel, replace(day, filters=(("tenant", "hooli"),))).data
    assert list(data.current) == ["hooli"]


def test_table_traffic_has_its_own_page_and_speaks_of_traffic_levels(
    demo_metrics, make_user, login_client
):
    client = login_client(make_user("on-call"))
    ops = client.get("/dashboard/operations/").content.decode()
    assert 'id="panel-table-traffic"' not in ops
    assert 'href="/dashboard/operations/table-traffic/"' in ops
    page = client.get("/dashboard/operations/table-traffic/")
    assert page.status_code == 200
    figure = page.context["panels"][0].figure
    labels = figure["data"][0]["y"]
    assert labels and all(label.endswith("traffic") for label in labels)
    assert not any("CRITICAL" in label or "LOW" in label for label in labels)


def test_service_cards_carry_a_heartbeat_bar_of_the_last_50_checks(db, store, now, day):
    from collectors.models import Service

    name = Service.objects.order_by("name").values_list("name", flat=True).first()
    samples = []
    for i in range(10):  # the last 10 checks, 30 s apart: the 3rd and 4th newest failed
        ts = now - timedelta(seconds=30 * i + 10)
        samples.append(
            {
                "metric": "probe_up",
                "labels": {"service": name, "probe": "p"},
                "value": 0 if i in (2, 3) else 1,
                "ts": ts,
            }
        )
    store.samples(samples)
    card = next(
        c
        for c in render(page_by_slug("operations").panel("service-health"), day).data
        if c.name == name
    )
    assert len(card.heartbeats) == 50
    assert card.heartbeats[:40] == [""] * 40  # no checks recorded then
    assert card.heartbeats[-10:].count("down") == 2 and card.heartbeats[-10:].count("up") == 8
