"""The feed as on call reads it: severity before age, counts by state, related alerts on one
row, labels linking to their pages, ack time and firing duration, silence from an alert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import services
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Silence
from collectors.models import Service
from reputation.models import SendingIP


@pytest.fixture
def fire(make_rule, write):
    def fire(metric, value, at, *, severity="critical", message="{rule}", **labels):
        rule = make_rule(
            metric=metric,
            threshold=0,
            severity=severity,
            message_template=message,
            label_filters=labels,
            window_seconds=120,
        )
        write(metric, value, at, **labels)
        evaluate_rules(now=at + timedelta(seconds=1), rules=[rule])
        return Alert.objects.get(rule=rule)

    return fire


def _row_of(html: str, text: str) -> str:
    start = html.rindex("<tr", 0, html.index(text))
    return html[start : html.index("</tr>", start)]


def test_critical_comes_before_a_newer_warning_and_open_before_resolved(
    login_client, make_user, fire, now
):
    fire("smtp_queue_size", 5, now - timedelta(minutes=20), message="old critical", service="a")
    fire("host_cpu_percent", 95, now, severity="warning", message="new warning", host="h1")
    gone = fire(
        "smtp_queue_size", 5, now - timedelta(minutes=10), message="gone critical", service="b"
    )
    Alert.objects.filter(pk=gone.pk).update(state="resolved", resolved_at=now)
    html = login_client(make_user("on-call")).get("/alerts/").content.decode()
    assert html.index("old critical") < html.index("new warning") < html.index("gone critical")


def test_counts_by_state_link_to_the_filtered_feed(login_client, make_user, fire, now):
    user = make_user("on-call")
    a = fire("smtp_queue_size", 5, now, service="a")
    fire("smtp_queue_size", 5, now, service="b")
    services.alert_acknowledge(alert=a, user=user)
    html = login_client(user).get("/alerts/").content.decode()
    counts = html[
        html.index('id="state-counts"') : html.index("</nav>", html.index('id="state-counts"'))
    ]
    assert "<strong>1</strong> firing" in counts and "<strong>1</strong> acknowledged" in counts
    assert "<strong>0</strong> resolved" in counts and 'href="/alerts/?state=firing"' in counts


def test_an_ip_listed_and_scored_low_is_one_row_with_both_alerts(
    login_client, make_user, fire, now
):
    SendingIP.objects.create(address="203.0.113.31", provider="p", pool="main")
    listed = fire(
        "ip_listed_major", 1, now, message="203.0.113.31 on a major blocklist", ip="203.0.113.31"
    )
    low = fire(
        "ip_reputation_score",
        64,
        now,
        severity="warning",
        message="203.0.113.31 reputation 64",
        ip="203.0.113.31",
    )
    client = login_client(make_user("on-call"))
    html = client.get("/alerts/rows/").content.decode()
    assert html.count('<tr class="alert-row') == 1
    row = _row_of(html, "on a major blocklist")
    assert f'data-alert-id="{listed.pk}"' in row and "ERROR" in row
    assert "reputation 64" in row and f'data-alert-id="{low.pk}"' in row  # a member
    assert 'href="/reputation/ip/203.0.113.31/"' in row
    resp = client.get("/reputation/ip/203.0.113.31/")
    ip = SendingIP.objects.get(address="203.0.113.31")
    assert resp.status_code == 302 and resp["Location"] == f"/reputation/ips/{ip.pk}/"
    assert client.get("/reputation/ip/198.51.100.9/").status_code == 404


def test_labels_link_to_the_service_and_host_pages(login_client, make_user, fire, now):
    Service.objects.create(name="mta", display_name="MTA", kind="smtp")
    fire("smtp_queue_size", 5, now, message="mta queue", service="mta")
    fire("host_cpu_percent", 99, now, message="db cpu", host="db-1")
    fire("smtp_queue_size", 5, now, message="ghost queue", service="ghost")
    html = login_client(make_user("on-call")).get("/alerts/rows/").content.decode()
    assert 'href="/services/mta/"' in _row_of(html, "mta queue")
    assert 'href="/dashboard/system/infrastructure/?host=db-1"' in _row_of(html, "db cpu")
    assert 'href="/services/ghost/"' not in html  # no page for an unregistered service


def test_a_row_says_how_long_it_fired_and_when_and_by_whom_it_was_acked(
    login_client, make_user, fire, now
):
    user = make_user("on-call", username="olive")
    alert = fire("smtp_queue_size", 5, now - timedelta(minutes=12), service="a", message="q high")
    services.alert_acknowledge(alert=alert, user=user)
    alert.refresh_from_db()
    row = _row_of(login_client(user).get("/alerts/rows/").content.decode(), "q high")
    assert "firing 12 min" in row
    assert "acked by olive at" in row
    assert f">{alert.acknowledged_at:%H:%M}</time> (12 min after firing)" in row


def test_silence_from_an_alert_prefills_its_matchers_and_previews_what_else_they_match(
    login_client, make_user, fire, now
):
    a = fire("smtp_queue_size", 5, now, service="smtp-eu", message="eu queue")
    fire("smtp_queue_size", 5, now, service="smtp-us", message="us queue")
    client = login_client(make_user("on-call"))
    html = client.get("/alerts/rows/").content.decode()
    assert f'href="/alerts/silences/?alert={a.pk}"' in _row_of(html, "eu queue")

    page = client.get(f"/alerts/silences/?alert={a.pk}").content.decode()
    assert f"alertname={a.rule.name}, service=smtp-eu" in page
    preview = page[page.index('id="silence-preview"') :]
    assert "<strong>1</strong> alert open" in preview and "eu queue" in preview
    assert "us queue" not in preview

    wider = client.get("/alerts/silences/preview/", {"matchers": "service=smtp-us"})
    assert "us queue" in wider.content.decode() and "eu queue" not in wider.content.decode()
    bad = client.get("/alerts/silences/preview/", {"matchers": "nonsense"})
    assert bad.status_code == 200 and "alert" not in bad.content.decode()

    resp = client.post(
        "/alerts/silences/",
        {"matchers": "service=smtp-us", "duration_minutes": 30, "comment": "MTA restart"},
    )
    assert resp.status_code == 302
    assert Silence.objects.get().matchers == {"service": "smtp-us"}
