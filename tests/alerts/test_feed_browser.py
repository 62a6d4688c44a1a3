"""The alert feed in Debian's chromium: acknowledge from the page, and new alerts appear
without a reload. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertRule
from collectors.store import write_samples
from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(live_server, make_user, transactional_db, monkeypatch):
    monkeypatch.setattr("alerts.views.REFRESH_SECONDS", 1)
    user = make_user("on-call", username="olive")
    with logged_in_page(live_server.url, user, height=800) as page:
        yield page
        assert page.errors == []


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


def test_an_ended_session_takes_the_feed_to_the_login_page(page):
    page.goto(page.base + "/alerts/")
    page.context.clear_cookies()  # the session ends while the feed is open
    page.wait_for_url("**/accounts/login/**", timeout=10_000)
    assert page.locator("#alert-feed-rows").count() == 0  # no login form inside the table
