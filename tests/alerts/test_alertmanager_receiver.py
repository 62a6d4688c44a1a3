"""POST /api/v1/integrations/alertmanager: Alertmanager and Grafana alerts in PenguinMon's
feed, routed to real channels, acknowledged, and resolved when the sender says so."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from alerts.models import Alert, AlertRule, Delivery
from alerts.services import alert_acknowledge

URL = "/api/v1/integrations/alertmanager"


def am_payload(status="firing", *, alerts=None, **labels):
    labels = {
        "alertname": "HighLatency",
        "severity": "critical",
        "service": "api",
        "instance": "10.0.0.5:9100",
        **labels,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "status": status,
        "receiver": "penguinmon",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local:9093",
        "alerts": alerts
        or [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "p95 latency above 1 s on api"},
                "startsAt": "2026-11-29T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-29T10:20:00Z",
                "generatorURL": "http://prometheus.local:9090/graph?g0.expr=up",
                "fingerprint": "1a2b3c4d5e6f7a8b",
            }
        ],
    }


@pytest.fixture
def ingest(client, make_token):
    token = make_token("ingest")

    def post(body, raw: bytes | None = None):
        data = raw if raw is not None else json.dumps(body)
        return client.post(
            URL, data, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
        )

    return post


@pytest.fixture
def pager(httpserver, make_channel):
    httpserver.expect_request("/hook", method="POST").respond_with_response(Response("ok"))
    return make_channel(
        "webhook", config={"url": httpserver.url_for("/hook"), "secret": "s3"}, on_call=True
    )


def test_a_firing_alert_lands_in_the_feed_and_pages_on_call(
    ingest, pager, httpserver, run_deliveries, api
):
    with run_deliveries():
        resp = ingest(am_payload())
    assert resp.status_code == 200, resp.content
    assert resp.json()["fired"] == 1
    alert = Alert.objects.get()
    assert alert.state == Alert.State.FIRING
    assert alert.severity == "critical"
    assert alert.service == "api"
    assert alert.message == "p95 latency above 1 s on api"
    assert alert.labels["instance"] == "10.0.0.5:9100"
    assert alert.rule.name == "HighLatency [alertmanager]"
    assert alert.rule.source == AlertRule.Source.EXTERNAL
    sent = json.loads(httpserver.log[0][0].data)
    assert sent["event"] == "trigger" and sent["message"] == "p95 latency above 1 s on api"
    assert Delivery.objects.get().status == Delivery.Status.SENT
    feed = api.get("/api/v1/alerts").json()
    assert [a["message"] for a in feed if a["state"] == "firing"] == [
        "p95 latency above 1 s on api"
    ]


def test_repeated_notifications_refresh_the_same_alert(ingest, pager, run_deliveries):
    with run_deliveries():
        ingest(am_payload())
        again = ingest(am_payload())
    assert again.json() == {
        "status": "success",
        "received": 1,
        "fired": 0,
        "updated": 1,
        "resolved": 0,
        "unknown_resolved": 0,
    }
    assert Alert.objects.count() == 1
    assert Delivery.objects.count() == 1  # paged once, not on every repeat


def test_resolved_by_the_sender_resolves_and_tells_the_channel(
    ingest, pager, httpserver, run_deliveries
):
    with run_deliveries():
        ingest(am_payload())
        resp = ingest(am_payload("resolved"))
    assert resp.json()["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.state == Alert.State.RESOLVED
    assert [json.loads(r.data)["event"] for r, _ in httpserver.log] == ["trigger", "resolve"]


def test_an_external_alert_is_acknowledged_like_a_native_one(ingest, make_user, run_deliveries):
    ingest(am_payload())
    alert = Alert.objects.get()
    user = make_user("on-call")
    alert_acknowledge(alert=alert, user=user)
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.acknowledged_by == user
    ingest(am_payload("resolved"))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_grafana_payloads_are_accepted_and_named_for_their_sender(ingest):
    body = am_payload(severity="warning")
    body.update({"orgId": 1, "state": "alerting", "title": "[FIRING:1] HighLatency"})
    body["alerts"][0].update({"values": {"A": 1.2}, "valueString": "[ var='A' value=1.2 ]"})
    assert ingest(body).status_code == 200
    alert = Alert.objects.get()
    assert alert.rule.name == "HighLatency [grafana]"
    assert alert.severity == "warning"


def test_the_evaluator_leaves_external_alerts_alone(ingest):
    from alerts.evaluation import evaluate_rules

    ingest(am_payload())
    evaluate_rules()
    assert Alert.objects.get().state == Alert.State.FIRING


def test_disabling_the_rule_in_admin_resolves_its_alerts(ingest):
    from alerts.evaluation import evaluate_rules

    ingest(am_payload())
    AlertRule.objects.filter(source=AlertRule.Source.EXTERNAL).update(enabled=False)
    evaluate_rules()
    assert Alert.objects.get().state == Alert.State.RESOLVED
    assert ingest(am_payload()).json()["fired"] == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["alerts"][0]["labels"].pop("alertname"), "alerts[0].labels.alertname"),
        (lambda b: b["alerts"][0].update(status="exploded"), "alerts[0].status"),
        (lambda b: b["alerts"][0]["labels"].update(service="s" * 101), "alerts[0].labels.service"),
        (lambda b: b["alerts"][0]["labels"].update(note="a\x00b"), "alerts[0].labels.note"),
        (lambda b: b["alerts"][0]["labels"].update({"bad-name": "x"}), "alerts[0].labels"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda b: b.update(alerts="nope"), "alerts"),
    ],
)
def test_bad_alerts_are_refused_naming_the_field_and_nothing_is_written(ingest, mutate, field):
    body = am_payload()
    body["alerts"].insert(0, dict(body["alerts"][0], labels=dict(body["alerts"][0]["labels"])))
    mutate(body)
    resp = ingest(body)
    assert resp.status_code == 422, resp.content
    assert resp.json()["error"].startswith(field)
    assert not Alert.objects.exists()
    assert not AlertRule.objects.filter(source=AlertRule.Source.EXTERNAL).exists()


def test_a_body_that_is_not_json_is_a_400(ingest):
    resp = ingest(None, raw=b"{not json")
    assert resp.status_code == 400
    assert "not JSON" in resp.json()["error"]


def test_it_needs_an_ingest_token(client, make_token):
    resp = client.post(
        URL,
        json.dumps(am_payload()),
        content_type="application/json",
        headers={"Authorization": f"Bearer {make_token('read')}"},
    )
    assert resp.status_code == 403
    assert not Alert.objects.exists()


def test_long_summaries_are_cut_to_the_message_column(ingest):
    body = am_payload()
    body["alerts"][0]["annotations"]["summary"] = "word " * 400
    assert ingest(body).status_code == 200
    assert len(Alert.objects.get().message) == 500
