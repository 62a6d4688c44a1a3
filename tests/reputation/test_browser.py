"""The reputation pages in Debian's chromium: the seed's story on demo data — find the IP
listed on Spamhaus, open its details (chart draws, delisting link), rotate it to a backup."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from reputation import demo
from reputation.models import RotationEvent, SendingIP

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

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    demo.load(days=7, now=timezone.now(), rng=random.Random(7))
    client = Client()
    client.force_login(make_user("operations", username="olga"))
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop on this thread
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
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        # Browsers ask for /favicon.ico on their own; that 404 is no error of the page.
        pg.on(
            "console",
            lambda m: (
                pg.errors.append(m.text)
                if m.type == "error" and "favicon" not in (m.location or {}).get("url", "")
                else None
            ),
        )
        yield pg
        browser.close()
    with connection.cursor() as cur:  # the metric store's tables are not flushed with the models
        cur.execute("TRUNCATE collectors_sample, collectors_dirty_range")


def test_find_the_spamhaus_listing_read_the_details_and_rotate(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{live_server.url}/reputation/?sort=score")
    first_row = page.locator("table.rep-table tbody tr").first
    assert "54.240.10.11" in first_row.inner_text() and "Spamhaus ZEN" in first_row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "reputation-table.png"), full_page=True)

    first_row.locator("a").first.click()
    page.wait_for_selector("#score-chart .main-svg")
    assert page.locator("#score-chart .scatterlayer path").count() >= 1
    assert (
        page.get_by_role("link", name="Open Spamhaus ZEN delisting page").get_attribute("href")
        == "https://check.spamhaus.org/"
    )
    page.screenshot(path=str(ARTIFACTS / "reputation-ip-detail.png"), full_page=True)

    page.fill("textarea[name=reason]", "Listed on Spamhaus SBL; open rates down 20%")
    page.get_by_role("button", name="Rotate to backup pool").click()
    page.wait_for_selector("text=Rotated traffic from 54.240.10.11")
    assert page.errors == []
    event = RotationEvent.objects.get()
    assert event.actor_label == "olga"
    assert SendingIP.objects.get(address=event.to_address).active
