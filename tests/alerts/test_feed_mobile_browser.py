"""The alert feed on a phone (375 px wide, Debian's chromium): every alert is a card whose
message, state, age and Acknowledge button are on screen without scrolling sideways, and one
tap acknowledges. Screenshot in test-artifacts/alerts-feed-375.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertRule
from collectors.store import write_samples
from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser

WIDTH = 375


def _fire(name: str, metric: str, severity: str, message: str, **labels) -> AlertRule:
    rule = AlertRule.objects.create(
        name=name,
        metric=metric,
        threshold=0,
        severity=severity,
        window_seconds=120,
        label_filters=labels,
        message_template=message,
    )
    now = datetime.now(UTC) - timedelta(seconds=2)
    write_samples([{"metric": metric, "labels": labels, "value": 25_000, "ts": now}])
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    return rule


def test_every_alert_is_a_card_readable_and_acknowledgeable_at_375_px(
    live_server, make_user, transactional_db
):
    queue = _fire(
        "phone smtp",
        "smtp_queue_size",
        "critical",
        "SMTP Queue size exceeded 10k threshold on {service} — outbound mail is piling up",
        service="smtp-eu-central-transactional",
    )
    _fire(
        "phone listed",
        "ip_listed_major",
        "critical",
        "{ip} on a major blocklist",
        ip="203.0.113.31",
    )
    _fire("phone score", "ip_reputation_score", "warning", "{ip} reputation low", ip="203.0.113.31")
    _fire(
        "phone cpu",
        "host_cpu_percent",
        "warning",
        "CPU {value}% on {host}",
        host="worker-with-a-long-hostname-17.eu-central.internal",
    )
    user = make_user("on-call", username="olive")

    with logged_in_page(live_server.url, user, width=WIDTH, height=740) as page:
        page.goto(page.base + "/alerts/")
        cards = page.locator("tr.alert-row")
        assert cards.count() == 3  # the IP's two alerts share one card
        for i in range(cards.count()):
            card = cards.nth(i)
            for part in [".alert-msg", ".cell-state .state", ".cell-age"]:
                box = card.locator(part).first.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (i, part, box)
            ack = card.locator(".cell-actions").get_by_role("button", name="Acknowledge")
            box = ack.bounding_box()
            assert box and box["x"] + box["width"] <= WIDTH and box["height"] >= 44, (i, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "alerts-feed-375.png"), full_page=True)

        card = page.locator("tr.alert-row", has_text="SMTP Queue size")
        card.locator(".cell-actions").get_by_role("button", name="Acknowledge").click()
        page.wait_for_load_state()
        assert (
            "acknowledged" in page.locator("tr.alert-row", has_text="SMTP Queue size").inner_text()
        )
        assert Alert.objects.get(rule=queue).acknowledged_by.username == "olive"
        assert page.errors == []
