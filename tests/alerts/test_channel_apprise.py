"""The Apprise channel: real HTTP receivers on 127.0.0.1 behind Apprise's json:// URLs."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from werkzeug import Response

from alerts.models import Channel, Delivery
from alerts.notify import deliver


@pytest.fixture
def firing_alert(make_rule, write, now):
    from alerts.evaluation import evaluate_rules
    from alerts.models import Alert

    rule = make_rule(name="Queue too long")
    write("smtp_queue_size", 20_000, now, service="smtp")
    evaluate_rules(now=now)
    return Alert.objects.get(rule=rule)


def apprise_url(httpserver, path: str, secret: str = "tok3n") -> str:
    # json://user:password@host:port/path — the password stands in for a service's credential.
    return f"json://bot:{secret}@127.0.0.1:{httpserver.port}{path}"


def test_a_notification_reaches_every_apprise_url(httpserver, make_channel, firing_alert):
    httpserver.expect_request("/a", method="POST").respond_with_response(Response("ok"))
    httpserver.expect_request("/b", method="POST").respond_with_response(Response("ok"))
    channel = make_channel(
        "apprise",
        config={"urls": [apprise_url(httpserver, "/a"), apprise_url(httpserver, "/b")]},
    )
    delivery = deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)
    assert delivery.status == Delivery.Status.SENT
    bodies = {req.path: json.loads(req.data) for req, _ in httpserver.log}
    assert set(bodies) == {"/a", "/b"}
    assert "Queue too long" in bodies["/a"]["title"] or "smtp" in bodies["/a"]["message"]
    assert bodies["/a"]["type"] == "failure"  # critical → Apprise's failure type


def test_a_failed_url_is_retried_alone_and_its_secret_never_recorded(
    httpserver, make_channel, firing_alert
):
    httpserver.expect_request("/ok", method="POST").respond_with_response(Response("ok"))
    httpserver.expect_request("/down", method="POST").respond_with_response(
        Response("boom", status=503)
    )
    down = apprise_url(httpserver, "/down", secret="sup3rsecret")
    channel = make_channel("apprise", config={"urls": [apprise_url(httpserver, "/ok"), down]})
    delivery = deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)
    assert delivery.status == Delivery.Status.RETRYING
    assert delivery.retry_recipients == [down]
    assert "sup3rsecret" not in delivery.error
    assert "json://***" in delivery.error
    retry = deliver(
        channel_id=channel.pk,
        event="trigger",
        alert_id=firing_alert.pk,
        attempt=2,
        recipients=delivery.retry_recipients,
    )
    paths = [req.path for req, _ in httpserver.log]
    assert paths.count("/ok") == 1  # not messaged twice
    assert paths.count("/down") == 2
    assert retry.status == Delivery.Status.RETRYING


def test_an_unreachable_service_times_out_into_a_retry(make_channel, firing_alert):
    channel = make_channel("apprise", config={"urls": ["json://127.0.0.1:9/nothing-listens"]})
    delivery = deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)
    assert delivery.status == Delivery.Status.RETRYING


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "missing 'urls'"),
        ({"urls": "json://x"}, "'urls' must be a list"),
        ({"urls": ["json://127.0.0.1/x", "nosuchservice://abc"]}, "urls[1]"),
    ],
)
def test_bad_configs_are_refused_naming_the_url(db, config, message):
    channel = Channel(name="chat", kind="apprise", config=config)
    with pytest.raises(ValidationError) as err:
        channel.full_clean()
    assert message in str(err.value)
