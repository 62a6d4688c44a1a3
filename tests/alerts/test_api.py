"""The alerts JSON API: feed, detail, ack (scope + role + audit), notes, silences, rules,
incident from alert."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import selectors, services
from alerts.api import FEED_FIELDS, AlertOut
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Silence
from penguinmon.models import AuditLog


@pytest.fixture
def alert(make_rule, write, now):
    rule = make_rule(message_template="SMTP Queue size exceeded 10k threshold")
    write("smtp_queue_size", 20_000, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    return Alert.objects.get(rule=rule)


def post(client, path, token, data=None):
    body = json.dumps(data) if data is not None else ""
    return client.post(
        path, body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def test_feed_lists_alerts_with_the_seed_severity_words(api, alert):
    resp = api.get("/api/v1/alerts", severity="ERROR")
    assert resp.status_code == 200
    [row] = [a for a in resp.json() if a["id"] == alert.pk]
    assert row["severity_label"] == "ERROR"
    assert row["message"] == "SMTP Queue size exceeded 10k threshold"
    assert row["state"] == "firing"
    assert api.get("/api/v1/alerts", severity="INFO").json() == []


def test_feed_items_are_the_alert_as_its_detail_route_gives_it(api, make_user, alert):
    # The feed encodes its rows without ninja's validation (for speed); each item must still
    # be exactly what the schema-validated detail route answers, acknowledged alert included.
    services.alert_acknowledge(alert=alert, user=make_user("on-call", username="olive"))
    other = Alert.objects.create(
        rule=alert.rule,
        labels={"service": "imap", "ip": "192.0.2.7"},
        label_key="other",
        state=Alert.State.RESOLVED,
        severity="warning",
        service="imap",
        message="resolved one",
        value=3,
        started_at=timezone.now() - timedelta(hours=1),
        resolved_at=timezone.now(),
        last_evaluated_at=timezone.now(),
    )
    resp = api.get("/api/v1/alerts")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json; charset=utf-8"
    feed = {row["id"]: row for row in resp.json()}
    assert set(feed) >= {alert.pk, other.pk}
    for pk in (alert.pk, other.pk):
        detail = api.get(f"/api/v1/alerts/{pk}").json()
        for key in ("escalation_chain", "escalation_step", "events", "deliveries"):
            del detail[key]
        assert list(feed[pk].items()) == list(detail.items())
    assert feed[alert.pk]["acknowledged_by"] == "olive"
    assert feed[other.pk]["value"] == 3.0 and feed[other.pk]["severity_label"] == "WARNING"
    AlertOut.model_validate(feed[other.pk])


def test_the_feeds_sql_built_once_answers_as_its_queryset_for_every_shape(make_rule, make_user):
    rule = make_rule()
    now = timezone.now()
    user = make_user("on-call", username="olive")
    for i, (state, severity, service) in enumerate(
        [
            ("firing", "critical", "smtp"),
            ("acknowledged", "warning", "smtp"),
            ("resolved", "critical", "imap"),
            ("pending", "info", "imap"),
            ("resolved", "warning", "smtp"),
        ]
    ):
        Alert.objects.create(
            rule=rule,
            labels={"service": service, "n": str(i)},
            label_key=f"shape-{i}",
            state=state,
            severity=severity,
            service=service,
            message=f"alert {i}",
            value=i * 1.5,
            started_at=now - timedelta(hours=3 * i),
            resolved_at=now - timedelta(hours=i) if state == "resolved" else None,
            acknowledged_by=user if state == "acknowledged" else None,
            acknowledged_at=now if state == "acknowledged" else None,
            last_evaluated_at=now,
        )
    shapes = 0
    for hours in (2, 48):
        for severity in (None, "ERROR", "warning"):
            for service in (None, "smtp", "nothing-here"):
                for state in (None, "firing", "resolved"):
                    for order in ("time", "severity"):
                        for limit in (1, 500):
                            kwargs = dict(severity=severity, service=service, state=state)
                            since = now - timedelta(hours=hours)
                            got = selectors.alerts_feed_values(
                                FEED_FIELDS, since=since, order=order, limit=limit, **kwargs
                            )
                            want = selectors._feed_ordered(since=since, order=order, **kwargs)
                            assert got == list(want.values_list(*FEED_FIELDS)[:limit]), kwargs
                            shapes += bool(got)
    assert shapes > 50  # most shapes find alerts: the comparison is not between empty lists
    with pytest.raises(ValueError, match="unknown state"):
        selectors.alerts_feed_values(FEED_FIELDS, since=now, state="exploded")


def test_feed_rejects_an_unknown_severity_with_a_clear_400(api, db):
    resp = api.get("/api/v1/alerts", severity="PANIC")
    assert resp.status_code == 400
    assert "ERROR, WARNING or INFO" in resp.json()["error"]


def test_ack_by_api_records_who_and_when_in_the_audit_log(client, make_token, make_user, alert):
    user = make_user("on-call", username="olive")
    token = make_token("read", "write", user=user)

    before = timezone.now()
    resp = post(client, f"/api/v1/alerts/{alert.pk}/ack", token, {"comment": "looking"})

    assert resp.status_code == 200
    assert resp.json()["state"] == "acknowledged"
    assert resp.json()["acknowledged_by"] == "olive"
    stored = Alert.objects.get(pk=alert.pk)
    assert stored.state == "acknowledged" and stored.acknowledged_by == user
    assert before <= stored.acknowledged_at <= timezone.now()
    entry = AuditLog.objects.get(action="alert.acknowledge", target_id=str(alert.pk))
    assert entry.actor == user and entry.actor_label.startswith("olive (token pm_")
    assert entry.comment == "looking"
    event = Alert.objects.get(pk=alert.pk).events.get(to_state="acknowledged")
    assert event.actor == user and event.message == "looking"


def test_ack_without_a_body_works(client, make_token, make_user, alert):
    user = make_user("operations")
    token = make_token("write", user=user)
    assert post(client, f"/api/v1/alerts/{alert.pk}/ack", token).status_code == 200
    stored = Alert.objects.get(pk=alert.pk)
    assert stored.state == "acknowledged" and stored.acknowledged_by == user
    assert AuditLog.objects.get(action="alert.acknowledge", target_id=str(alert.pk)).actor == user


def test_ack_twice_is_a_409_naming_who_acked(client, make_token, make_user, alert):
    token = make_token("write", user=make_user("on-call", username="olive"))
    post(client, f"/api/v1/alerts/{alert.pk}/ack", token)
    resp = post(client, f"/api/v1/alerts/{alert.pk}/ack", token)
    assert resp.status_code == 409
    assert "already acknowledged by olive" in resp.json()["error"]


def test_ack_needs_the_write_scope(client, make_token, make_user, alert):
    token = make_token("read", user=make_user("on-call"))
    assert post(client, f"/api/v1/alerts/{alert.pk}/ack", token).status_code == 403
    assert Alert.objects.get(pk=alert.pk).state == "firing"


def test_ack_needs_a_role_that_may_ack(client, make_token, make_user, alert):
    token = make_token("read", "write", user=make_user("development"))
    resp = post(client, f"/api/v1/alerts/{alert.pk}/ack", token)
    assert resp.status_code == 403
    assert "ack alerts" in resp.json()["error"]
    assert Alert.objects.get(pk=alert.pk).state == "firing"


def test_ack_without_credentials_is_401(client, alert):
    assert client.post(f"/api/v1/alerts/{alert.pk}/ack").status_code == 401


def test_ack_of_a_missing_alert_is_404(api, db):
    assert api.post("/api/v1/alerts/999999/ack", {}).status_code == 404


def test_detail_shows_timeline_and_deliveries(api, alert, make_channel, httpserver):
    from alerts import notify

    httpserver.expect_request("/slack").respond_with_data("no", status=500)
    channel = make_channel("slack", config={"webhook_url": httpserver.url_for("/slack")})
    notify.deliver(channel_id=channel.pk, event="trigger", alert_id=alert.pk)

    body = api.get(f"/api/v1/alerts/{alert.pk}").json()
    assert [e["to_state"] for e in body["events"] if e["kind"] == "state"] == ["firing"]
    [delivery] = body["deliveries"]
    assert (delivery["status"], delivery["response_code"], delivery["kind"]) == (
        "retrying",
        500,
        "slack",
    )


def test_notes_are_added_to_the_timeline(api, alert):
    resp = api.post(f"/api/v1/alerts/{alert.pk}/notes", {"text": "MTA restarted"})
    assert resp.status_code == 201
    assert alert.events.filter(kind="note", message="MTA restarted").exists()
    assert api.post(f"/api/v1/alerts/{alert.pk}/notes", {"text": ""}).status_code == 422


def test_creating_a_silence_validates_and_audits(api, db):
    resp = api.post(
        "/api/v1/silences",
        {"matchers": {"service": "smtp"}, "duration_minutes": 90, "comment": "MTA upgrade"},
    )
    assert resp.status_code == 201
    assert resp.json()["active"] is True
    assert AuditLog.objects.filter(action="silence.create").count() == 1
    assert [s["comment"] for s in api.get("/api/v1/silences").json()] == ["MTA upgrade"]

    bad = api.post("/api/v1/silences", {"matchers": {}, "duration_minutes": 5, "comment": "x"})
    assert bad.status_code == 400 and "matcher" in bad.json()["error"]
    no_end = api.post("/api/v1/silences", {"matchers": {"service": "a"}, "comment": "x"})
    assert no_end.status_code == 400
    assert Silence.objects.count() == 1


def test_silence_times_without_an_offset_are_read_as_utc(api, client, db):
    resp = api.post(
        "/api/v1/silences",
        {"matchers": {"service": "smtp"}, "ends_at": "2099-01-01T02:00:00", "comment": "MTA"},
    )
    assert resp.status_code == 201
    assert resp.json()["ends_at"] == "2099-01-01T02:00:00+00:00"
    silence_id = resp.json()["id"]

    patched = client.patch(
        f"/api/v1/silences/{silence_id}",
        json.dumps({"ends_at": "2099-01-01T03:00:00"}),
        content_type="application/json",
        headers=api.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["ends_at"] == "2099-01-01T03:00:00+00:00"

    windows = api.get("/api/v1/silences/windows", start="2098-12-31T00:00:00")
    assert windows.status_code == 200
    assert [w["silence_id"] for w in windows.json()] == [silence_id]


def test_rules_list_includes_the_defaults(api, db):
    names = {r["name"]: r for r in api.get("/api/v1/rules").json()}
    assert names["API p95 latency"]["threshold"] == 1000
    assert names["Service down"]["k_of_n"] == [2, 3]


def test_an_incident_can_be_created_from_an_alert_once(api, alert):
    first = api.post(f"/api/v1/alerts/{alert.pk}/incident")
    again = api.post(f"/api/v1/alerts/{alert.pk}/incident")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["title"] == "SMTP Queue size exceeded 10k threshold"
