"""The demo month of deployments in Debian's chromium: the deployments page and the development
dashboard's DORA tiles and timeline draw without console errors. Screenshots in test-artifacts/."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def page(transactional_db, live_server, make_user, monkeypatch):
    from playwright.sync_api import sync_playwright

    from alerts import demo as alerts_demo
    from incidents import demo

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    now = datetime.now(UTC)
    alerts_demo.load(days=30, now=now, rng=random.Random(5))
    demo.load(days=30, now=now, rng=random.Random(5))
    client = Client()
    client.force_login(make_user(staff=True))
    # Playwright's sync API keeps an event loop on this thread; the ORM calls here are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        pg = ctx.new_page()
        pg.errors = []
        pg.on(
            "console",
            lambda m: (
                pg.errors.append(m.text)
                if m.type == "error" and "favicon" not in (m.location or {}).get("url", "")
                else None
            ),
        )
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        ctx.close()
        browser.close()


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
