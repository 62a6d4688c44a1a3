"""The services pages in Debian's chromium: the grid's badges and the detail page's Plotly
latency chart actually draw. Screenshots in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from collectors.models import Probe, Service
from collectors.services import ensure_default_services, run_due_probes
from collectors.store.rollups import run_rollups

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
def page(live_server, make_user, transactional_db, monkeypatch):
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop sits on this thread
    client = Client()
    client.force_login(make_user("operations", username="opal"))
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
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.base = live_server.url
        yield page
        browser.close()
        assert errors == []
    with connection.cursor() as cur:  # store tables are not models, so the flush leaves them
        cur.execute("TRUNCATE collectors_sample, collectors_rollup_1m, collectors_rollup_1h")


def test_grid_and_detail_chart_draw(page, httpserver):
    ensure_default_services()
    httpserver.expect_request("/health").respond_with_data("ok")
    Probe.objects.exclude(service__name="api").update(enabled=False)
    Probe.objects.filter(service__name="api").update(config={"url": httpserver.url_for("/health")})
    for _ in range(3):
        Probe.objects.update(next_run_at=None)
        run_due_probes()
    assert Service.objects.get(name="api").status == "healthy"
    run_rollups()  # charts read the 1-minute rollups, which beat keeps up to date

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(page.base + "/services/")
    card = page.locator('[data-service="api"]')
    assert card.locator(".badge").inner_text() == "Healthy"
    page.screenshot(path=str(ARTIFACTS / "services-grid.png"), full_page=True)

    card.locator("a.service-name").click()
    page.wait_for_selector("#latency-chart .main-svg")
    assert page.locator("#latency-chart .scatterlayer .trace").count() == 1
    page.screenshot(path=str(ARTIFACTS / "service-detail.png"), full_page=True)
