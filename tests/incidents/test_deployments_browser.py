"""The demo month of deployments in Debian's chromium: the deployments page and the development
dashboard's DORA tiles and timeline draw without console errors. Screenshots in test-artifacts/."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(transactional_db, live_server, make_user):
    from alerts import demo as alerts_demo
    from incidents import demo

    now = datetime.now(UTC)
    alerts_demo.load(days=30, now=now, rng=random.Random(5))
    demo.load(days=30, now=now, rng=random.Random(5))
    with logged_in_page(live_server.url, make_user(staff=True)) as page:
        yield page


def test_demo_deployments_draw_on_the_page_and_the_dashboard(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(live_server.url + "/incidents/")
    page.get_by_role("link", name="Deployments and DORA figures →").click()
    page.wait_for_url("**/incidents/deployments/")
    assert page.locator("tbody tr").count() > 20
    assert page.locator("select[name=days]").input_value() == "30"
    assert page.locator(".badge", has_text="Rolled Back").count() == 1
    page.select_option("select[name=service]", "tracking")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**service=tracking**")
    assert page.locator("select[name=days]").input_value() == "30"
    assert "last 30 days, tracking only" in page.content()
    services = page.locator("tbody tr:not(.notes) td:nth-child(2)").all_inner_texts()
    assert services and set(services) == {"tracking"}
    page.screenshot(path=str(ARTIFACTS / "incidents-deployments-1280.png"), full_page=True)

    page.goto(live_server.url + "/dashboard/development/?range=30d")
    page.locator("#panel-deployments .plot").scroll_into_view_if_needed()  # drawn when seen
    page.wait_for_selector("#panel-deployments .plot .main-svg", timeout=15_000)
    tiles = page.locator("#panel-deployments [data-kpi]")
    assert tiles.count() == 4
    assert (
        "/week"
        in page.locator('#panel-deployments [data-kpi="deploy_frequency"] .kpi').inner_text()
    )
    assert page.locator("#panel-deployments .main-svg .point").count() > 20
    page.locator("#panel-deployments").screenshot(
        path=str(ARTIFACTS / "dashboard-development-deployments.png")
    )
    assert page.errors == []
