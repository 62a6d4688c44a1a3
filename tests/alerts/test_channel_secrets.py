"""What a failed or odd notification leaves behind: no channel credential in any error a
reader can see, and e-mail subjects that stay one header line."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import timedelta

import pytest

from alerts import notify
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Delivery
from penguinmon.redact import header_value, mask_headers, mask_secrets, secret_values


@pytest.fixture
def firing_alert(make_rule, write, now):
    rule = make_rule()
    write("smtp_queue_size", 25_000, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    return Alert.objects.select_related("rule").get(rule=rule)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "kind, config",
    [
        (
            "slack",
            {"webhook_url": "http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/Xk3yS3cr3tV4lue"},
        ),
        (
            "webhook",
            {"url": "http://127.0.0.1:{port}/hook?token=Xk3yS3cr3tV4lue", "secret": "s3cret"},
        ),
    ],
)
def test_a_connection_error_never_stores_or_shows_the_webhook_secret(
    kind, config, make_channel, firing_alert, make_user, login_client, client, make_token
):
    port = _closed_port()
    config = {k: v.format(port=port) for k, v in config.items()}
    channel = make_channel(kind, config=config)

    delivery = notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    assert delivery.status == Delivery.Status.RETRYING
    stored = Delivery.objects.get(pk=delivery.pk).error
    assert "Connection" in stored and "127.0.0.1" in stored  # still says what went wrong
    assert "Xk3yS3cr3tV4lue" not in stored and "SECRET" not in stored
    page = login_client(make_user("development")).get(f"/alerts/{firing_alert.pk}/")
    assert page.status_code == 200 and "Connection" in page.content.decode()
    assert "Xk3yS3cr3tV4lue" not in page.content.decode()
    client.logout()
    raw = make_token("read", user=make_user("development"))
    body = client.get(
        f"/api/v1/alerts/{firing_alert.pk}", headers={"Authorization": f"Bearer {raw}"}
    ).content.decode()
    assert "deliveries" in body and "Xk3yS3cr3tV4lue" not in body


def test_a_newline_in_the_alert_text_stays_inside_one_subject_line(
    smtp_server, make_channel, firing_alert
):
    Alert.objects.filter(pk=firing_alert.pk).update(
        message="queue send\r\nBcc: attacker@example.com is full"
    )
    channel = make_channel("email", config={"to": ["oncall@example.com"]})

    delivery = notify.deliver(channel_id=channel.pk, event="trigger", alert_id=firing_alert.pk)

    assert delivery.status == "sent", delivery.error
    assert smtp_server.event.wait(5)
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["oncall@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == (
        "[PenguinMon TRIGGER] ERROR smtp: queue send Bcc: attacker@example.com is full"
    )
    assert message["Bcc"] is None


def test_mask_secrets_keeps_the_host_and_hides_paths_queries_and_passwords():
    text = (
        "ConnectionError: HTTPSConnectionPool(host='hooks.slack.com', port=443): Max retries "
        "exceeded with url: /services/T1/B2/abc (Caused by x); also https://u:pw@h.example/p?k=v"
    )
    masked = mask_secrets(
        text, secret_values({"webhook_url": "https://hooks.slack.com/services/T1/B2/abc"})
    )
    assert "hooks.slack.com" in masked and "h.example" in masked
    for secret in ("/services/T1/B2/abc", "pw@", "k=v", "/p"):
        assert secret not in masked


def test_only_harmless_header_values_are_shown():
    shown = mask_headers(
        {"Accept": "application/json", "User-Agent": "pm", "X-Honeycomb-Team": "k", "X-Token": "t"}
    )
    assert shown == {
        "Accept": "application/json",
        "User-Agent": "pm",
        "X-Honeycomb-Team": "***",
        "X-Token": "***",
    }


def test_header_value_flattens_control_characters():
    assert header_value("a\r\nb\tc\x00d", 200) == "a b c d"
    assert len(header_value("x" * 500)) == 200
