"""The dashboards in Debian's chromium: charts draw, no console errors, the range picker and
exports work, panels refresh in place. One browser for the module; screenshots in test-artifacts/."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from dashboards.pages import PAGES
from tests.dashboards.conftest import write_known_world
from tests.support.browser import ARTIFACTS, allow_sync_orm, launch, session_cookie

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with allow_sync_orm(), sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def world(transactional_db, store, now):
    """The same data as the view tests, committed so the live server thread sees it."""
    write_known_world(store, now)
    return now  # tests/conftest.py empties the store tables after transactional tests


@pytest.fixture
def page_for(browser, live_server, make_user):
    contexts = []

    def open_page(width: int = 1280, height: int = 900):
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        ctx.add_cookies([session_cookie(make_user(staff=True), live_server.url)])
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    yield open_page
    for ctx in contexts:
        ctx.close()


def test_every_dashboard_draws_its_charts(world, page_for, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page = page_for()
    for dash in PAGES:
        page.goto(live_server.url + dash.path)
        plots = page.locator(".plot[data-figure]")
        assert plots.count() >= 1, dash.slug
        # Charts below the fold are drawn as they scroll into view, each one of them.
        for i in range(plots.count()):
            plots.nth(i).scroll_into_view_if_needed()
            plots.nth(i).locator(".main-svg").first.wait_for(timeout=15_000)
        assert page.locator(".plot .main-svg").count() >= plots.count(), dash.slug
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{dash.slug}-1280.png"), full_page=True)
        assert page.errors == [], (dash.slug, page.errors)


def test_phone_width_layout(world, page_for, live_server):
    page = page_for(width=375, height=812)
    for dash in PAGES:
        page.goto(live_server.url + dash.path)
        first = page.locator(".plot[data-figure]").first
        first.scroll_into_view_if_needed()
        first.locator(".main-svg").first.wait_for(timeout=15_000)
        # nothing wider than the screen: panels stack and tables scroll inside their box
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (dash.slug, overflow)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{dash.slug}-375.png"), full_page=True)
    assert page.errors == []


def test_range_picker_changes_the_data(world, page_for, live_server):
    page = page_for()
    page.goto(live_server.url + "/dashboard/executive/?range=24h")
    tile = page.locator('[data-kpi="mrr"] .kpi')
    assert tile.inner_text() == "$200,000"
    page.get_by_role("button", name="1h", exact=True).click()
    page.wait_for_url("**range=1h**")
    assert page.locator('[data-kpi="mrr"] .kpi').inner_text() == "no data"
    assert "last 1h" in page.locator(".dash-range-label").inner_text()
    assert page.errors == []


def test_exports_download_files_that_open(world, page_for, live_server, tmp_path):
    page = page_for()
    page.goto(live_server.url + "/dashboard/executive/?range=24h")
    with page.expect_download() as got:
        page.locator('#panel-kpis a[data-format="csv"]').click()
    path = tmp_path / "kpis.csv"
    got.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert any(r[0] == "MRR" and float(r[1]) == 200_000 for r in rows[1:])
    with page.expect_download() as got:
        page.locator('#panel-revenue a[data-format="xlsx"]').click()
    xlsx = tmp_path / "revenue.xlsx"
    got.value.save_as(xlsx)
    ws = load_workbook(xlsx).active
    assert ws["A1"].value == "Monthly recurring revenue"


def test_panels_refresh_in_place(world, page_for, live_server):
    page = page_for()
    page.goto(live_server.url + "/dashboard/operations/?range=24h")
    page.locator("#panel-capacity .plot").scroll_into_view_if_needed()
    page.wait_for_selector("#panel-capacity .main-svg")
    page.evaluate("window.__marker = 'still here'")
    page.evaluate(
        "() => window.PenguinDashboards.refreshPanel(document.getElementById('panel-capacity'), 'range=24h')"
    )
    page.wait_for_selector("#panel-capacity .main-svg")
    assert page.evaluate("window.__marker") == "still here"  # no full reload
    assert page.errors == []


def test_charts_below_the_fold_wait_and_time_charts_share_one_hover(world, page_for, live_server):
    page = page_for(height=700)
    page.goto(live_server.url + "/dashboard/executive/?range=24h")
    page.wait_for_load_state("networkidle")
    last = page.locator(".plot[data-figure]").last
    assert last.get_attribute("data-drawn") is None  # not drawn while out of sight
    last.scroll_into_view_if_needed()
    page.wait_for_function(
        "el => el.getAttribute('data-drawn') === '1'", arg=last.element_handle(), timeout=15_000
    )

    page = page_for(height=2400)  # both charts on screen at once
    page.goto(live_server.url + "/dashboard/executive/?range=24h")
    page.wait_for_selector("#panel-active-users .main-svg", timeout=15_000)
    page.wait_for_selector("#panel-uptime .main-svg", timeout=15_000)
    # Point at the last point of the active-users line (sparse demo data: hover snaps to
    # points within 20 px).
    assert page.locator("#panel-uptime .plot").get_attribute("data-hover-x") is None
    spot = page.evaluate(
        """() => {
          const el = document.querySelector('#panel-active-users .plot');
          const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, t = el.data[0];
          const i = t.x.length - 1, r = el.getBoundingClientRect();
          return {x: r.left + xa._offset + xa.d2p(xa.d2c(t.x[i])),
                  y: r.top + ya._offset + ya.d2p(t.y[i])};
        }"""
    )
    page.mouse.move(spot["x"] - 5, spot["y"])
    page.mouse.move(spot["x"], spot["y"])
    page.wait_for_selector(
        "#panel-active-users .hoverlayer .hovertext, #panel-active-users .hoverlayer .legend",
        timeout=5_000,
    )
    # Every other drawn time chart follows to the moment pointed at.
    synced = page.wait_for_function(
        "() => document.querySelector('#panel-uptime .plot').getAttribute('data-hover-x')",
        timeout=5_000,
    ).json_value()
    assert synced.startswith(page.evaluate("() => new Date().getFullYear()").__str__())
    assert page.errors == []
