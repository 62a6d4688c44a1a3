"""The reputation pages in Debian's chromium: the seed's story on demo data — find the IP
listed on Spamhaus, open its details (chart draws, delisting link), rotate it to a backup."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from reputation import demo
from reputation.models import RotationEvent, SendingIP
from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(transactional_db, live_server, make_user):
    demo.load(days=7, now=timezone.now(), rng=random.Random(7))
    with logged_in_page(live_server.url, make_user("operations", username="olga")) as page:
        yield page


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
