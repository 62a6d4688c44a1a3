"""The services pages in Debian's chromium: the grid's badges and the detail page's Plotly
latency chart actually draw. Screenshots in test-artifacts/."""

from __future__ import annotations

import pytest

from collectors.models import Probe, Service
from collectors.monitoring.config import ensure_default_services
from collectors.monitoring.probing import run_due_probes
from collectors.store.rollups import run_rollups
from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(live_server, make_user, transactional_db):
    with logged_in_page(live_server.url, make_user("operations", username="opal")) as page:
        yield page
        assert page.errors == []


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
