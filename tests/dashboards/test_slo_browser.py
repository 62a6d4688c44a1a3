"""The SLO pages in Debian's chromium: the overview's budget chart and an SLO's burn-down and
burn-rate charts draw without console errors. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.models import Service, Status, StatusChange
from incidents.models import Deployment, Incident
from incidents.slo.services import slo_create
from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(transactional_db, live_server, make_user):
    shop = Service.objects.create(name="shop", display_name="Shop", kind="api")
    now = timezone.now()
    for at, old, new in [
        (now - timedelta(days=40), Status.UNKNOWN, Status.HEALTHY),
        (now - timedelta(days=3), Status.HEALTHY, Status.DOWN),
        (now - timedelta(days=3) + timedelta(minutes=30), Status.DOWN, Status.HEALTHY),
    ]:
        StatusChange.objects.create(service=shop, at=at, old_status=old, new_status=new)
    Deployment.objects.create(
        service="shop", version="9.0", started_at=now - timedelta(days=3, minutes=5)
    )
    Incident.objects.create(
        title="Checkout down",
        service="shop",
        started_at=now - timedelta(days=3),
        resolved_at=now - timedelta(days=3) + timedelta(minutes=30),
        status="resolved",
    )
    slo_create(
        name="Shop availability", service="shop", sli_kind="availability", objective_pct=99.9
    )
    with logged_in_page(live_server.url, make_user("development")) as page:
        yield page


def test_the_slo_pages_draw_their_charts(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(live_server.url + "/dashboard/slos/")
    page.wait_for_selector(".plot .main-svg", timeout=15_000)
    row = page.locator("tr", has_text="Shop availability")
    assert "30.6%" in row.inner_text()  # 30 of its 43.2 minutes spent: 30.6% left
    page.get_by_role("link", name="Shop availability").click()
    page.wait_for_url("**/dashboard/slos/*/")
    page.wait_for_selector('[data-figure="fig-burn-down"] .main-svg', timeout=15_000)
    page.wait_for_selector('[data-figure="fig-burn-rate"] .main-svg', timeout=15_000)
    assert page.locator(".incident-shares", has_text="Checkout down").count() == 1
    assert "69.4%" in page.locator(".incident-shares").inner_text()  # 30 of 43.2 minutes
    page.screenshot(path=str(ARTIFACTS / "slo-page-1280.png"), full_page=True)
    assert page.errors == []
