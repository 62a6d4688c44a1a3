"""The alert pages: feed, its auto-refresh partial, ack from the UI, detail, silences,
rules and calibration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import notify
from alerts.evaluation import evaluate_rules
from alerts.models import Alert
from penguinmon.models import AuditLog


@pytest.fixture
def alerts(make_rule, write, now):
    critical = make_rule(
        message_template="SMTP Queue size exceeded 10k threshold",
        runbook_url="https://runbooks.example.com/smtp",
    )
    warning = make_rule(
        metric="host_cpu_percent",
        threshold=90,
        severity="warning",
        message_template="{host} CPU {value}%",
    )
    write("smtp_queue_size", 20_000, now, service="smtp")
    write("host_cpu_percent", 97, now, host="web-1", service="web")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[critical, warning])
    return {a.severity: a for a in Alert.objects.all()}


def test_feed_shows_severity_service_message_and_actions(login_client, make_user, alerts):
    client = login_client(make_user("on-call"))
    html = client.get("/alerts/").content.decode()
    assert "SMTP Queue size exceeded 10k threshold" in html
    assert '<span class="badge sev-critical">ERROR</span>' in html
    assert '<span class="badge sev-warning">WARNING</span>' in html
    assert f'action="/alerts/{alerts["critical"].pk}/ack/"' in html
    assert 'href="https://runbooks.example.com/smtp"' in html
    assert f'action="/alerts/{alerts["critical"].pk}/incident/"' in html
    assert "Add note" in html
    assert 'src="/static/js/alerts.js"' in html


def test_feed_is_newest_first_within_a_severity(login_client, make_user, make_rule, write, now):
    rule = make_rule()
    write("smtp_queue_size", 20_000, now - timedelta(seconds=30), service="old")
    evaluate_rules(now=now - timedelta(seconds=29), rules=[rule])
    write("smtp_queue_size", 20_000, now, service="new")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    html = login_client(make_user("on-call")).get("/alerts/rows/").content.decode()
    assert html.index("new") < html.index("old")


def test_feed_filters_by_severity_word_and_state(login_client, make_user, alerts):
    client = login_client(make_user("operations"))
    html = client.get("/alerts/rows/", {"severity": "warning"}).content.decode()
    assert "web-1 CPU 97%" in html and "SMTP Queue" not in html
    html = client.get("/alerts/rows/", {"state": "acknowledged"}).content.decode()
    assert "No alerts in the last 24 hours matching these filters" in html
    html = client.get("/alerts/rows/", {"service": "smtp"}).content.decode()
    assert "SMTP Queue" in html and "web-1" not in html


def test_feed_severity_filter_takes_the_seed_words_in_any_case(login_client, make_user, alerts):
    client = login_client(make_user("operations"))
    for word in ("ERROR", "Error", "critical"):
        html = client.get("/alerts/rows/", {"severity": word}).content.decode()
        assert "SMTP Queue" in html and "web-1 CPU" not in html, word
    html = client.get("/alerts/", {"severity": "WARNING"}).content.decode()
    assert "web-1 CPU 97%" in html and "SMTP Queue" not in html
    assert "Select a valid choice" not in html


def test_rows_partial_is_only_table_rows_for_the_poller(login_client, make_user, alerts):
    resp = login_client(make_user("on-call")).get("/alerts/rows/")
    body = resp.content.decode().strip()
    assert resp.status_code == 200
    assert body.startswith("<tr") and "<html" not in body


def test_developers_see_the_feed_but_cannot_ack(login_client, make_user, alerts):
    client = login_client(make_user("development"))
    html = client.get("/alerts/").content.decode()
    assert "SMTP Queue" in html and "/ack/" not in html
    assert client.post(f"/alerts/{alerts['critical'].pk}/ack/").status_code == 403
    assert Alert.objects.get(pk=alerts["critical"].pk).state == "firing"


def test_roles_without_alerts_get_403(login_client, make_user, db):
    assert login_client(make_user("executive")).get("/alerts/").status_code == 403


def test_ack_from_the_feed_keeps_the_filters_and_is_audited(login_client, make_user, alerts):
    user = make_user("on-call", username="olive")
    client = login_client(user)
    alert = alerts["critical"]
    resp = client.post(f"/alerts/{alert.pk}/ack/", {"next": "/alerts/?severity=error"})
    assert resp.status_code == 302 and resp["Location"] == "/alerts/?severity=error"
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == user
    assert AuditLog.objects.filter(action="alert.acknowledge", actor=user).exists()
    html = client.get("/alerts/?severity=error").content.decode()
    assert f"Alert #{alert.pk} acknowledged." in html
    assert "by olive" in html


def test_ack_redirect_ignores_foreign_next_urls(login_client, make_user, alerts):
    client = login_client(make_user("on-call"))
    resp = client.post(
        f"/alerts/{alerts['critical'].pk}/ack/", {"next": "https://evil.example.com/"}
    )
    assert resp["Location"] == f"/alerts/{alerts['critical'].pk}/"


def test_detail_page_shows_timeline_notes_and_deliveries(
    login_client, make_user, alerts, make_channel, httpserver
):
    httpserver.expect_request("/hook").respond_with_data("nope", status=502)
    channel = make_channel(
        "webhook", name="ops-hook", config={"url": httpserver.url_for("/hook"), "secret": "k"}
    )
    alert = alerts["critical"]
    notify.deliver(channel_id=channel.pk, event="trigger", alert_id=alert.pk)
    client = login_client(make_user("on-call", username="olive"))

    resp = client.post(f"/alerts/{alert.pk}/note/", {"text": "queue draining after restart"})
    assert resp.status_code == 302
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "pending → <strong>firing</strong>" in html
    assert "queue draining after restart" in html and "olive" in html
    assert "ops-hook" in html and "502" in html and "retrying" in html


def test_an_empty_note_is_a_form_error(login_client, make_user, alerts):
    client = login_client(make_user("on-call"))
    resp = client.post(f"/alerts/{alerts['critical'].pk}/note/", {"text": "   "})
    assert resp.status_code == 400
    assert "This field is required." in resp.content.decode()


def test_create_incident_from_the_feed_opens_it(login_client, make_user, alerts):
    client = login_client(make_user("operations"))
    resp = client.post(f"/alerts/{alerts['critical'].pk}/incident/")
    incident = alerts["critical"].incidents.get()
    assert resp["Location"] == f"/incidents/{incident.pk}/"
    assert "SMTP Queue size exceeded 10k threshold" in client.get(resp["Location"]).content.decode()


def test_marking_a_false_positive_counts_in_calibration(login_client, make_user, alerts):
    client = login_client(make_user("on-call"))
    client.post(f"/alerts/{alerts['warning'].pk}/false-positive/", {"false_positive": "1"})
    html = client.get("/alerts/rules/").content.decode()
    row = html[html.index(alerts["warning"].rule.name) :]
    row = row[: row.index("</tr>")]
    assert "<td>1</td>" in row and "(100%)" in row


def test_silence_form_creates_a_silence_and_rejects_bad_matchers(login_client, make_user, db):
    client = login_client(make_user("on-call"))
    resp = client.post(
        "/alerts/silences/",
        {"matchers": "service=smtp, host=mx-1", "duration_minutes": 60, "comment": "MTA upgrade"},
    )
    assert resp.status_code == 302
    html = client.get("/alerts/silences/").content.decode()
    assert "service=smtp" in html and "MTA upgrade" in html

    bad = client.post(
        "/alerts/silences/", {"matchers": "smtp", "duration_minutes": 60, "comment": "x"}
    )
    assert bad.status_code == 400 and "is not label=value" in bad.content.decode()


def test_rule_page_suggests_a_threshold_from_the_14_day_baseline(
    login_client, make_user, make_rule, write, now
):
    rule = make_rule(metric="db_pool_utilisation_pct", threshold=50, severity="info")
    # A week of hourly samples between 40 and 59: p99 is close to 59.
    write_items = [(40 + (i % 20), now - timedelta(hours=i)) for i in range(24 * 7)]
    for value, ts in write_items:
        write("db_pool_utilisation_pct", value, ts, service="db-1")
    html = login_client(make_user("operations")).get(f"/alerts/rules/{rule.pk}/").content.decode()
    assert "p99 of db_pool_utilisation_pct over 14 days" in html
    suggestion = html[html.index('id="suggested-threshold">') + 25 :].split("<")[0]
    assert suggestion.startswith("&gt; 6")  # ~59 plus 10% headroom ≈ 64.9


def test_editing_a_threshold_in_admin_is_audited(login_client, admin_user):
    from alerts.models import AlertRule

    rule = AlertRule.objects.get(name="SMTP queue above 10k")
    client = login_client(admin_user)
    form = client.get(f"/admin/alerts/alertrule/{rule.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(threshold="20000", label_filters="{}", escalation_policy=rule.escalation_policy_id)
    resp = client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    entry = AuditLog.objects.get(action="admin.change", target_id=str(rule.pk))
    assert entry.changes["threshold"] == {"from": 10000.0, "to": 20000.0}
    assert entry.actor == admin_user


def test_every_default_rule_page_renders_without_data(login_client, make_user):
    from alerts.models import AlertRule

    client = login_client(make_user("operations"))
    for rule in AlertRule.objects.all():
        resp = client.get(f"/alerts/rules/{rule.pk}/")
        assert resp.status_code == 200, rule.name
        # Burn-rate rules (generated for the default SLOs) have no metric baseline.
        expected = (
            "the threshold is the SLO&#x27;s burn factor"
            if rule.aggregation == "burn_rate"
            else "no data in the baseline window"
        )
        assert expected in resp.content.decode(), rule.name
