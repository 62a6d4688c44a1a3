"""Metric reads through the API are gated like the pages that show them (penguinmon/roles.py):
business figures need the executive or customer-success role, for a session and a token."""

from __future__ import annotations

import pytest

from collectors.store import write_samples
from collectors.store.api import may_read
from dashboards.pages import PAGES
from penguinmon.roles import CAPABILITIES


@pytest.fixture
def stored(db):
    write_samples(
        [
            {"metric": "mrr_usd", "value": 125_000},
            {"metric": "host_cpu_percent", "labels": {"host": "web-1"}, "value": 40},
        ]
    )


def _token_get(client, make_token, user, path, **params):
    token = make_token("read", user=user)
    return client.get(path, params, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("how", ["session", "token"])
def test_a_user_in_no_group_cannot_read_revenue(stored, client, make_user, make_token, how):
    nobody = make_user()
    if how == "session":
        client.force_login(nobody)
        get = lambda path, **p: client.get(path, p)  # noqa: E731
    else:
        get = lambda path, **p: _token_get(client, make_token, nobody, path, **p)  # noqa: E731
    resp = get("/api/v1/query", metric="mrr_usd")
    assert resp.status_code == 403
    assert resp.json()["error"] == (
        "your role may not read mrr_usd: it needs view executive or view customer success"
    )
    assert get("/api/v1/series", name="mrr_usd").status_code == 403
    listed = get("/api/v1/series")
    assert listed.status_code == 200 and listed.json()["series"] == []


def test_an_executive_reads_revenue_but_not_host_figures(stored, client, make_user, make_token):
    boss = make_user("executive")
    resp = _token_get(
        client, make_token, boss, "/api/v1/query", metric="mrr_usd", agg="last", step="15"
    )
    assert resp.status_code == 200
    assert resp.json()["series"][0]["points"][0][1] == 125_000
    assert (
        _token_get(client, make_token, boss, "/api/v1/query", metric="host_cpu_percent").status_code
        == 403
    )
    names = {
        s["metric"] for s in _token_get(client, make_token, boss, "/api/v1/series").json()["series"]
    }
    assert names == {"mrr_usd"}


def test_operations_reads_host_figures_but_not_revenue(stored, client, make_user):
    client.force_login(make_user("operations"))
    assert client.get("/api/v1/query", {"metric": "host_cpu_percent"}).status_code == 200
    assert client.get("/api/v1/query", {"metric": "mrr_usd"}).status_code == 403


def test_customer_success_reads_revenue_by_session_and_token(stored, client, make_user, make_token):
    success = make_user("customer-success")
    resp = _token_get(client, make_token, success, "/api/v1/query", metric="mrr_usd", agg="last")
    assert resp.status_code == 200
    assert resp.json()["series"][0]["points"][-1][1] == 125_000
    client.force_login(success)
    assert client.get("/api/v1/query", {"metric": "mrr_usd"}).status_code == 200
    listed = client.get("/api/v1/series", {"name": "mrr_usd"})
    assert [s["metric"] for s in listed.json()["series"]] == ["mrr_usd"]


def test_security_figures_are_the_operations_pages(db, client, make_user):
    write_samples([{"metric": "security_logins", "labels": {"result": "failure"}, "value": 3}])
    client.force_login(make_user("development"))
    assert client.get("/api/v1/query", {"metric": "security_logins"}).status_code == 403
    assert client.get("/api/v1/series").json()["series"] == []
    client.force_login(make_user("on-call"))
    assert client.get("/api/v1/query", {"metric": "security_logins"}).status_code == 200


def test_every_role_reads_the_metrics_its_pages_chart(db, make_user):
    """The API never refuses a metric a role already sees charted on one of its pages."""
    refused = []
    for page in PAGES:
        for role in CAPABILITIES[page.capability]:
            user = make_user(role)
            for panel in page.panels:
                for spec in getattr(panel, "specs", []):
                    if not may_read(user, spec.metric):
                        refused.append((role, page.slug, spec.metric))
    assert refused == []
