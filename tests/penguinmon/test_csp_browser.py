"""Every page, as an admin sees it with the demo data, keeps the Content-Security-Policy in
Debian's chromium: no violation report and no console error on any of them."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from alerts.models import Alert, AlertRule
from collectors.models import Service
from dashboards.pages import PAGES
from incidents.models import Incident
from incidents.slo.defaults import ensure_default_slos
from incidents.slo.models import SLO
from reputation.models import SendingIP
from tests.support.browser import logged_in_page

pytestmark = pytest.mark.browser

# Records every violation the page reports, from before its first script runs.
COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def demo_world(transactional_db):
    from alerts import demo as alerts_demo
    from collectors.monitoring import demo as demo_services
    from collectors.store import demo as store_demo
    from incidents import demo as incidents_demo
    from reputation import demo as reputation_demo

    now, rng = datetime.now(UTC), random.Random(12)
    for module in (store_demo, demo_services, reputation_demo, alerts_demo, incidents_demo):
        module.load(days=2, now=now, rng=rng)
    # The default SLOs come from a data migration; a transactional test run earlier flushes
    # them, and the post_migrate handler that restores them finds no services yet then.
    ensure_default_slos(SLO, Service, AlertRule)


def _pages() -> list[str]:
    service = Service.objects.order_by("name").first()
    return [
        "/",
        *(page.path for page in PAGES),
        "/dashboard/reports/",
        "/dashboard/slos/",
        f"/dashboard/slos/{SLO.objects.order_by('pk').first().pk}/",
        "/services/",
        f"/services/{service.name}/",
        "/alerts/",
        f"/alerts/{Alert.objects.order_by('-pk').first().pk}/",
        "/alerts/silences/",
        "/alerts/rules/",
        f"/alerts/rules/{AlertRule.objects.order_by('pk').first().pk}/",
        "/incidents/",
        f"/incidents/{Incident.objects.order_by('-pk').first().pk}/",
        "/incidents/deployments/",
        "/reputation/",
        f"/reputation/ips/{SendingIP.objects.order_by('pk').first().pk}/",
        "/admin/",
        "/admin/alerts/alertrule/",
        f"/admin/alerts/alertrule/{AlertRule.objects.order_by('pk').first().pk}/change/",
        "/admin/penguinmon/apitoken/",
        "/api/docs",
    ]


def test_every_page_keeps_the_content_security_policy(demo_world, live_server, admin_user):
    with logged_in_page(live_server.url, admin_user) as page:
        page.context.add_init_script(COLLECT_VIOLATIONS)
        page.on("response", lambda r: r.status >= 400 and page.errors.append(f"{r.status} {r.url}"))
        problems = {}
        for path in _pages():
            response = page.goto(live_server.url + path)
            assert response.status == 200, path
            policy = response.headers["content-security-policy"]
            assert (
                "script-src 'self'" in policy
                and "unsafe-inline" not in policy.split("style-src")[0]
            )
            page.wait_for_load_state("networkidle")
            found = page.evaluate("window.__csp") + page.errors
            if found:
                problems[path] = found
            page.errors.clear()
        # Charts really drew (their figures come from JSON elements and a static script).
        page.goto(live_server.url + f"/services/{Service.objects.order_by('name').first().name}/")
        assert problems == {}
