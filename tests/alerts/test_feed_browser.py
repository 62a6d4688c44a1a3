"""The alert feed in Debian's chromium: acknowledge from the page, and new alerts appear
without a reload. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertRule
from collectors.store import write_samples

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
    monkeypatch.setattr("alerts.views.REFRESH_SECONDS", 1)
    client = Client()
    client.force_login(make_user("on-call", username="olive"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
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


def _fire(rule: AlertRule, service: str) -> None:
    now = datetime.now(UTC) - timedelta(seconds=2)
    write_samples(
        [{"metric": rule.metric, "labels": {"service": service}, "value": 25_000, "ts": now}]
    )
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])


def test_ack_from_the_feed_and_new_alerts_appear_without_reload(page):
    ARTIFACTS.mkdir(exist_ok=True)
    rule = AlertRule.objects.create(
        name="browser smtp",
        metric="smtp_queue_size",
        threshold=10_000,
        severity="critical",
        window_seconds=120,
        message_template="SMTP Queue size exceeded 10k threshold on {service}",
    )
    _fire(rule, "smtp-eu")

    page.goto(page.base + "/alerts/")
    row = page.locator("tr.alert-row", has_text="smtp-eu")
    assert row.locator(".badge").inner_text() == "ERROR"
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert page.locator(".messages").inner_text().endswith("acknowledged.")
    assert "acknowledged" in page.locator("tr.alert-row", has_text="smtp-eu").inner_text()
    assert Alert.objects.get(rule=rule).acknowledged_by.username == "olive"

    marker = page.evaluate("() => { window.__stayed = true; return true; }")
    _fire(rule, "smtp-us")  # a new alert while the page is open
    page.locator("tr.alert-row", has_text="smtp-us").wait_for(timeout=10_000)
    assert marker and page.evaluate("() => window.__stayed === true")  # no reload happened
    page.screenshot(path=str(ARTIFACTS / "alerts-feed.png"), full_page=True)
