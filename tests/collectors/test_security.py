"""PenguinMon watches its own doors: logins, lockouts, refusals, token addresses and audit
activity are counted, land in the store as metrics, chart on the operations page, and the
default rules fire on a burst."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertRule
from collectors import security
from collectors.store.query import window_values
from collectors.tasks import flush_security_counts
from penguinmon.audit import audit
from penguinmon.queues import redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_earlier_counts():
    redis_client().delete(security.COUNTS_KEY)
    security._recent.clear()
    yield
    redis_client().delete(security.COUNTS_KEY)


def totals(metric: str, by: str | None = None, **labels) -> dict:
    """What the store holds for ``metric`` over the last 5 minutes, per ``by`` label."""
    now = timezone.now()
    rows = window_values(
        metric=metric,
        labels=labels or None,
        start=now - timedelta(minutes=5),
        end=now + timedelta(seconds=1),
        agg="sum",
    )
    out: dict = {}
    for row_labels, value in rows:
        key = row_labels.get(by) if by else None
        out[key] = out.get(key, 0) + value
    return out


def _login(client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_logins_and_failures_become_samples_on_flush(client, make_user):
    make_user(username="ana", password="right-pass-123")
    for _ in range(3):
        _login(client, "ana", "wrong")
    assert _login(client, "ana", "right-pass-123").status_code == 302

    assert flush_security_counts() >= 1

    assert totals("security_logins", by="result") == {"failure": 3, "success": 1}
    assert flush_security_counts() == 0  # each event is written once


def test_a_lockout_is_counted(client, make_user, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    make_user(username="bob", password="right-pass-123")
    for _ in range(3):
        _login(client, "bob", "wrong")
    flush_security_counts()
    assert totals("security_lockouts") == {None: 1}  # the third failure locks
    _login(client, "bob", "right-pass-123")  # refused while locked: counted too
    flush_security_counts()
    assert totals("security_lockouts") == {None: 2}


def test_refusals_are_counted_by_route_and_by_user_or_token(client, make_user, make_token):
    nobody = make_user()  # in no group: the operations dashboard is refused
    client.force_login(nobody)
    assert client.get("/dashboard/operations/").status_code == 403
    client.logout()
    raw = make_token("read")
    response = client.post(
        "/api/v1/samples",
        "[]",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 403

    flush_security_counts()

    assert totals("security_forbidden") == {None: 2}
    by_route = totals("security_forbidden_by_route", by="route")
    assert by_route == {"/dashboard/operations/": 1, "/api/v1/samples": 1}
    actors = totals("security_forbidden_by_route", by="actor")
    assert actors == {nobody.username: 1, f"token {raw[:10]}": 1}


def test_a_token_used_from_a_new_address_is_counted_once_per_address(client, make_token):
    raw = make_token("read")
    headers = {"Authorization": f"Bearer {raw}"}
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.1"):
        assert client.get("/api/v1/series", headers=headers, REMOTE_ADDR=address).status_code == 200
    security._recent.clear()  # another process: the addresses are remembered in Redis
    client.get("/api/v1/series", headers=headers, REMOTE_ADDR="10.0.0.2")

    flush_security_counts()
    assert totals("security_token_new_address", by="token") == {raw[:10]: 2}


def test_audit_log_activity_is_counted_by_action(make_user):
    user = make_user()
    for action in ("alert.ack", "alert.ack", "admin.change"):
        audit(actor=user, action=action, target=user)
    flush_security_counts()
    assert totals("security_audit_events", by="action") == {"alert.ack": 2, "admin.change": 1}


def test_the_default_rules_fire_on_a_failed_login_burst_and_a_403_spike(client, make_user):
    burst, spike = (
        AlertRule.objects.get(name="Failed-login burst"),
        AlertRule.objects.get(name="403 spike"),
    )
    assert AlertRule.objects.filter(name="Login lockouts", metric="security_lockouts").exists()
    for _ in range(21):
        _login(client, "nobody-here", "guess")
    client.force_login(make_user())
    for _ in range(51):
        client.get("/dashboard/operations/")
    flush_security_counts()

    evaluate_rules(now=timezone.now() + timedelta(seconds=1), rules=[burst, spike])

    fired = {a.rule.name: a for a in Alert.objects.filter(state="firing")}
    assert set(fired) == {"Failed-login burst", "403 spike"}
    assert (
        fired["Failed-login burst"].message == "21 failed logins in 5 minutes: password guessing?"
    )
    assert fired["403 spike"].message.startswith("51 requests refused (403)")


def test_counting_never_fails_a_request_when_redis_is_unreachable(client, make_user, settings):
    from penguinmon import queues

    queues.redis_client.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        make_user(username="cy", password="right-pass-123")
        assert _login(client, "cy", "wrong").status_code == 200
        assert _login(client, "cy", "right-pass-123").status_code == 302
    finally:
        queues.redis_client.cache_clear()


def test_the_operations_page_has_the_security_panels(client, make_user):
    client.force_login(make_user("operations"))
    for _ in range(2):
        _login(client, "x", "y")
    client.force_login(make_user("operations"))
    flush_security_counts()
    page = client.get("/dashboard/operations/").content.decode()
    assert "Security: logins, refusals, tokens, audit" in page
    assert "Refused requests (403) by route" in page
    assert "Refused requests (403) by user or token" in page
