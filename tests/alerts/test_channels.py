"""Each channel delivers to a real server on 127.0.0.1; the tests check what arrived."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from alerts import notify
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Channel, Delivery


@pytest.fixture
def firing_alert(make_rule, write, now):
    rule = make_rule(
        runbook_url="https://runbooks.example.com/smtp-queue",
        message_template="SMTP Queue size exceeded 10k threshold",
    )
    write("smtp_queue_size", 25_000, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    return Alert.objects.select_related("rule").get(rule=rule)


def test_slack_gets_the_alert_text(httpserver, make_channel, firing_alert):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    channel = make_channel("slack", config={"webhook_url": httpserver.url_for("/slack")})

    delivery = notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    assert delivery.status == "sent" and delivery.response_code == 200
    text = httpserver.log[0][0].get_json()["text"]
    assert "[FIRING] ERROR smtp: SMTP Queue size exceeded 10k threshold" in text
    assert "https://runbooks.example.com/smtp-queue" in text
    assert f"/alerts/{firing_alert.pk}/" in text


def test_webhook_signs_timestamp_and_body_with_hmac_sha256(httpserver, make_channel, firing_alert):
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    channel = make_channel(
        "webhook", config={"url": httpserver.url_for("/hook"), "secret": "s3cret"}
    )

    before = int(time.time())
    notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    request = httpserver.log[0][0]
    body = request.get_data()
    # What a receiver does: recompute over "{timestamp}.{body}", and check the timestamp is
    # fresh so a captured request cannot be replayed later.
    timestamp = request.headers["X-PenguinMon-Timestamp"]
    assert before <= int(timestamp) <= int(time.time())
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert request.headers["X-PenguinMon-Signature"] == expected
    # The body alone no longer verifies: the signature is bound to its timestamp.
    body_only = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert request.headers["X-PenguinMon-Signature"] != body_only
    payload = json.loads(body)
    assert payload["alert_id"] == firing_alert.pk
    assert payload["event"] == "trigger"
    assert payload["severity"] == "critical"
    assert payload["labels"] == {"service": "smtp"}
    assert payload["value"] == 25_000


def test_pagerduty_trigger_acknowledge_resolve_share_a_dedup_key(
    httpserver, make_channel, firing_alert
):
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success"}, status=202
    )
    channel = make_channel(
        "pagerduty", config={"routing_key": "R0UT1NG", "url": httpserver.url_for("/v2/enqueue")}
    )

    for event in ("trigger", "acknowledge", "resolve"):
        assert (
            notify.deliver(
                channel_id=channel.pk, event=event, alert_id=firing_alert.pk
            ).response_code
            == 202
        )

    events = [r.get_json() for r, _ in httpserver.log]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {f"penguinmon-alert-{firing_alert.pk}"}
    assert all(e["routing_key"] == "R0UT1NG" for e in events)
    assert events[0]["payload"]["severity"] == "critical"
    assert events[0]["payload"]["source"] == "smtp"
    assert "payload" not in events[2]


TWILIO_PATH = "/2010-04-01/Accounts/AC123/Messages.json"


def _sms_channel(make_channel, httpserver) -> Channel:
    """An SMS channel whose Twilio gateway is ``httpserver``, sending to two numbers."""
    return make_channel(
        "sms",
        config={
            "base_url": httpserver.url_for(""),
            "account_sid": "AC123",
            "auth_token": "tok",
            "from_number": "+15550000",
            "to_numbers": ["+15551111", "+15552222"],
        },
    )


def test_sms_posts_a_twilio_form_to_each_number(httpserver, make_channel, firing_alert):
    path = TWILIO_PATH
    httpserver.expect_request(path, method="POST").respond_with_json({"sid": "SM1"}, status=201)
    channel = _sms_channel(make_channel, httpserver)

    delivery = notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    assert delivery.status == "sent" and delivery.response_code == 201
    forms = [parse_qs(r.get_data(as_text=True)) for r, _ in httpserver.log]
    assert [f["To"][0] for f in forms] == ["+15551111", "+15552222"]
    assert forms[0]["From"] == ["+15550000"]
    assert forms[0]["Body"][0].startswith(
        "[FIRING] ERROR smtp: SMTP Queue size exceeded 10k threshold"
    )
    auth = httpserver.log[0][0].headers["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"AC123:tok"


def test_email_arrives_at_the_smtp_server(smtp_server, make_channel, firing_alert):
    channel = make_channel("email", config={"to": ["oncall@example.com"]})

    delivery = notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    assert delivery.status == "sent"
    assert smtp_server.event.wait(5)
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["oncall@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert (
        message["Subject"]
        == "[PenguinMon TRIGGER] ERROR smtp: SMTP Queue size exceeded 10k threshold"
    )
    assert "Runbook: https://runbooks.example.com/smtp-queue" in message.get_content()


def test_posthog_gets_a_capture_event(httpserver, make_channel, firing_alert):
    httpserver.expect_request("/capture/", method="POST").respond_with_json({"status": 1})
    channel = make_channel(
        "posthog", config={"host": httpserver.url_for(""), "api_key": "phc_test"}
    )

    notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    event = httpserver.log[0][0].get_json()
    assert event["api_key"] == "phc_test"
    assert event["event"] == "penguinmon_alert"
    assert event["properties"]["alert_id"] == firing_alert.pk


def test_a_server_error_is_retried_with_backoff_and_every_attempt_recorded(
    httpserver, make_channel, firing_alert, run_deliveries
):
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    channel = make_channel(
        "webhook", on_call=True, config={"url": httpserver.url_for("/hook"), "secret": "k"}
    )

    with run_deliveries():
        notify.queue_deliveries([channel.pk], "trigger", alert_id=firing_alert.pk)

    attempts = list(
        Delivery.objects.filter(channel=channel)
        .order_by("attempt")
        .values_list("attempt", "status", "response_code")
    )
    assert attempts == [(1, "retrying", 503), (2, "retrying", 503), (3, "sent", 200)]
    assert "retry 2 of 5 in 5 s" in Delivery.objects.get(channel=channel, attempt=1).error


def test_a_4xx_is_permanent_and_not_retried(httpserver, make_channel, firing_alert, run_deliveries):
    httpserver.expect_request("/slack").respond_with_data("invalid_token", status=403)
    channel = make_channel("slack", config={"webhook_url": httpserver.url_for("/slack")})
    with run_deliveries():
        notify.queue_deliveries([channel.pk], "trigger", alert_id=firing_alert.pk)
    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.response_code) == ("failed", 403)
    assert "invalid_token" in delivery.error


def test_a_failing_channel_does_not_block_the_others(
    httpserver, make_channel, firing_alert, run_deliveries
):
    httpserver.expect_request("/good").respond_with_data("ok")
    dead = make_channel(
        "slack", name="dead", on_call=True, config={"webhook_url": "http://127.0.0.1:9/nothing"}
    )
    good = make_channel(
        "slack", name="good", on_call=True, config={"webhook_url": httpserver.url_for("/good")}
    )

    with run_deliveries():
        notify.queue_deliveries([dead.pk, good.pk], "trigger", alert_id=firing_alert.pk)

    assert Delivery.objects.get(channel=good).status == "sent"
    dead_attempts = list(
        Delivery.objects.filter(channel=dead).order_by("attempt").values_list("status", flat=True)
    )
    assert dead_attempts == ["retrying"] * 4 + ["failed"]
    assert "ConnectionError" in Delivery.objects.filter(channel=dead).first().error


def test_a_slow_receiver_times_out_instead_of_hanging(
    httpserver, make_channel, firing_alert, monkeypatch
):
    import time

    from alerts.channels import base

    def slow(request):
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    monkeypatch.setattr(base, "HTTP_TIMEOUT", (1, 0.5))
    channel = make_channel("slack", config={"webhook_url": httpserver.url_for("/slow")})
    delivery = notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)
    assert delivery.status == "retrying"
    assert "Timeout" in delivery.error


def test_channel_config_is_validated(make_channel):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="secret"):
        make_channel("webhook", config={"url": "http://127.0.0.1/x"})
    with pytest.raises(ValidationError, match="digest"):
        make_channel("slack", digest=True, config={"webhook_url": "http://127.0.0.1/x"})


def test_an_sms_retry_goes_only_to_the_numbers_that_failed(
    httpserver, make_channel, firing_alert, run_deliveries
):
    path = TWILIO_PATH
    failures = {"+15552222": [503]}  # the gateway fails this number once
    sent_to = []

    def gateway(request):
        number = parse_qs(request.get_data(as_text=True))["To"][0]
        sent_to.append(number)
        status = failures[number].pop(0) if failures.get(number) else 201
        return Response('{"sid": "SM1"}', status=status, content_type="application/json")

    httpserver.expect_request(path, method="POST").respond_with_handler(gateway)
    channel = _sms_channel(make_channel, httpserver)

    with run_deliveries():
        notify.queue_deliveries([channel.pk], "trigger", alert_id=firing_alert.pk)

    assert sent_to == ["+15551111", "+15552222", "+15552222"]  # +15551111 messaged once
    attempts = list(
        Delivery.objects.filter(channel=channel)
        .order_by("attempt")
        .values_list("attempt", "status")
    )
    assert attempts == [(1, "retrying"), (2, "sent")]
    assert "to +15552222" in Delivery.objects.get(channel=channel, attempt=1).error
