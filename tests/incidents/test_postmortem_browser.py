"""The postmortem form in Debian's chromium: the timeline comes pre-filled, a past due date is
refused on its field, the saved postmortem lists on the postmortems page and exports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents.models import Postmortem
from incidents.services import incident_create, incident_update
from incidents.updates import update_post
from tests.support.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser


def test_write_a_postmortem_in_the_browser(transactional_db, live_server, make_user):
    user = make_user("on-call", username="oncall-pm")
    incident = incident_create(title="api 5xx", severity="critical", service="api", user=user)
    update_post(incident=incident, user=user, status="identified", message="pool exhausted")
    incident_update(incident=incident, user=user, status="resolved")
    past = (timezone.localdate() - timedelta(days=2)).isoformat()
    due = (timezone.localdate() + timedelta(days=14)).isoformat()
    with logged_in_page(live_server.url, user) as page:
        page.goto(f"{live_server.url}/incidents/")
        page.get_by_role("link", name="postmortem missing").click()
        page.wait_for_url(f"**/incidents/{incident.pk}/postmortem/")
        timeline = page.locator("textarea[name=timeline]").input_value()
        assert "internal update (identified) by oncall-pm: pool exhausted" in timeline
        page.fill("textarea[name=summary]", "The API ran out of <b>database</b> connections.")
        page.fill("input[name=why_1]", "requests failed")
        page.fill("input[name=why_2]", "the pool was full")
        page.fill("input[name=actions-0-title]", "Alert on pool use over 80%")
        page.fill("input[name=actions-0-owner]", "sam")
        page.fill("input[name=actions-0-due_on]", past)
        page.get_by_role("button", name="Save postmortem").click()
        page.wait_for_load_state()
        row = page.locator("tr.action-row").first
        assert f"the due date {past} is in the past" in row.inner_text()
        assert Postmortem.objects.count() == 0
        # The refused form came back as a 400, which chromium logs; nothing else may be there.
        assert [e for e in page.errors if "status of 400" not in e] == []
        page.errors.clear()
        page.fill("input[name=actions-0-due_on]", due)
        page.get_by_role("button", name="Save postmortem").click()
        page.wait_for_url(f"**/incidents/{incident.pk}/postmortem/")
        assert "Postmortem saved." in page.content()
        page.screenshot(path=str(ARTIFACTS / "incident-postmortem-1280.png"), full_page=True)
        page.goto(f"{live_server.url}/incidents/postmortems/")
        assert "api 5xx" in page.locator("#postmortem-list").inner_text()
        with page.expect_download() as download:
            page.goto(f"{live_server.url}/incidents/{incident.pk}/postmortem/")
            page.click("#export-md")
        text = Path(download.value.path()).read_text()
        assert "&lt;b&gt;database&lt;/b&gt;" in text and "Alert on pool use over 80%" in text
        assert page.errors == []
