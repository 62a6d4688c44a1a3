"""The public status page in Debian's chromium: no login, no request leaves our server, no
internal name shows, and an update posted on the incident page appears on it."""

from __future__ import annotations

import pytest

from incidents.models import Incident
from incidents.services import incident_create
from tests.incidents.conftest import INTERNAL_HOST, INTERNAL_IP
from tests.support.browser import ARTIFACTS, anonymous_page, logged_in_page

pytestmark = pytest.mark.browser


def test_status_page_is_public_local_and_leaks_nothing(
    transactional_db, live_server, component, internal_service, make_user
):
    user = make_user("on-call")
    incident = incident_create(
        title=f"{INTERNAL_HOST} down", severity="warning", service=internal_service.name, user=user
    )
    with logged_in_page(live_server.url, user) as page:
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        page.select_option("select[name=update_status]", "investigating")
        page.fill("textarea[name=message]", "Some messages are delayed.")
        page.check("input[name=public]")
        page.fill("input[name=public_title]", "Delayed email")
        page.get_by_role("button", name="Post update").click()
        page.wait_for_url(f"**/incidents/{incident.pk}/#updates")
        assert "Update posted on the status page." in page.content()
        assert page.locator("tr.update-row").count() == 1
        assert page.errors == []

    with anonymous_page(live_server.url) as page:
        response = page.goto(f"{live_server.url}/status/")
        assert response.status == 200
        assert page.url == f"{live_server.url}/status/"  # no redirect to the login page
        assert (
            page.locator("#indicator").inner_text() == "Partial System Outage"
        )  # a warning incident
        assert page.locator("#incidents h3").inner_text() == "Delayed email"
        assert "Some messages are delayed." in page.locator("#incidents").inner_text()
        bars = page.locator("#components .bar")
        assert bars.count() == 90
        assert "uptime" in bars.last.get_attribute("title")
        assert "Delayed email" in bars.last.get_attribute("title")
        assert page.locator("script").count() == 0
        text = page.content()
        for secret in (INTERNAL_HOST, INTERNAL_IP, internal_service.name):
            assert secret not in text
        assert page.requests and all(u.startswith(live_server.url) for u in page.requests), (
            page.requests
        )
        # The stylesheet really loaded (a component header is laid out in a row).
        display = page.eval_on_selector(".component-head", "e => getComputedStyle(e).display")
        assert display == "flex"
        page.screenshot(path=str(ARTIFACTS / "status-page-1280.png"), full_page=True)
        assert page.errors == []
    assert Incident.objects.get(pk=incident.pk).public_title == "Delayed email"
