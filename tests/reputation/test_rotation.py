"""Rotate to backup pool: the swap, who/when/why, the signed webhook, and refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from werkzeug import Response

from penguinmon.models import AuditLog
from reputation import services
from reputation.models import BlocklistZone, Listing, RotationEvent
from tests.support.net import free_port


@pytest.fixture
def webhook(httpserver, settings):
    settings.REPUTATION_ROTATION_WEBHOOK_URL = httpserver.url_for("/rotate")
    settings.REPUTATION_ROTATION_WEBHOOK_SECRET = "s3cret"
    return httpserver


def test_rotation_swaps_to_a_backup_of_the_same_provider_and_signs_the_webhook(
    webhook, make_ip, make_user
):
    webhook.expect_request("/rotate", method="POST").respond_with_json({"switched": True})
    listed = make_ip("192.0.2.1", provider="AWS", pool="primary")
    make_ip("198.51.100.9", provider="SendGrid", pool="backup", active=False)
    backup = make_ip("192.0.2.200", provider="AWS", pool="backup", active=False, last_score=98)
    olga = make_user("operations", username="olga")

    event = services.rotate_to_backup(ip=listed, actor=olga, reason="listed on Spamhaus SBL")

    listed.refresh_from_db()
    backup.refresh_from_db()
    assert (listed.active, listed.pool) == (False, "backup")
    assert (backup.active, backup.pool) == (True, "primary")
    assert (event.from_address, event.to_address, event.actor, event.reason) == (
        "192.0.2.1",
        "192.0.2.200",
        olga,
        "listed on Spamhaus SBL",
    )
    assert event.webhook_status == 200 and event.webhook_ok
    assert json.loads(event.webhook_response) == {"switched": True}

    [(request, _)] = webhook.log
    body = request.get_data()
    # What the receiver checks: a fresh timestamp, and the HMAC of "{timestamp}.{body}".
    timestamp = request.headers["X-PenguinMon-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert request.headers["X-PenguinMon-Signature"] == expected
    payload = json.loads(body)
    assert payload["from_ip"] == "192.0.2.1" and payload["to_ip"] == "192.0.2.200"
    assert payload["reason"] == "listed on Spamhaus SBL" and payload["actor"] == "olga"

    audit = AuditLog.objects.get(action="reputation.rotate")
    assert audit.actor == olga and audit.comment == "listed on Spamhaus SBL"


def test_rotation_is_refused_when_no_backup_of_that_provider_is_available(
    webhook, make_ip, make_user
):
    ip = make_ip("192.0.2.1", provider="Hostwind")
    make_ip("198.51.100.9", provider="SendGrid", pool="backup", active=False)
    with pytest.raises(services.RotationRefused, match="No backup IP available for Hostwind"):
        services.rotate_to_backup(ip=ip, actor=make_user("operations"), reason="listed")
    ip.refresh_from_db()
    assert ip.active
    assert RotationEvent.objects.count() == 0
    assert webhook.log == []


def test_a_backup_on_a_major_list_is_never_chosen(webhook, make_ip, make_user):
    ip = make_ip("192.0.2.1")
    dirty = make_ip("192.0.2.2", pool="backup", active=False)
    zen = BlocklistZone.objects.get(zone="zen.spamhaus.org")
    Listing.objects.create(ip=dirty, zone=zen, listed_at=ip.created_at, last_seen_at=ip.created_at)
    with pytest.raises(services.RotationRefused):
        services.rotate_to_backup(ip=ip, actor=make_user("operations"), reason="listed")


def test_a_failing_webhook_is_recorded_but_the_rotation_stands(webhook, make_ip, make_user):
    webhook.expect_request("/rotate").respond_with_response(Response("boom", status=502))
    ip = make_ip("192.0.2.1")
    make_ip("192.0.2.2", pool="backup", active=False)
    event = services.rotate_to_backup(ip=ip, actor=make_user("operations"), reason="listed")
    assert event.webhook_status == 502 and not event.webhook_ok
    assert event.webhook_error == "webhook answered HTTP 502"
    ip.refresh_from_db()
    assert not ip.active


def test_without_a_secret_the_rotation_happens_but_the_webhook_is_not_called_unsigned(
    webhook, settings, make_ip, make_user
):
    settings.REPUTATION_ROTATION_WEBHOOK_SECRET = ""
    ip = make_ip("192.0.2.1")
    make_ip("192.0.2.2", pool="backup", active=False)
    event = services.rotate_to_backup(ip=ip, actor=make_user("operations"), reason="listed")
    ip.refresh_from_db()
    assert not ip.active and event.to_address == "192.0.2.2"
    assert webhook.log == []
    event.refresh_from_db()
    assert event.webhook_status is None and not event.webhook_ok
    assert "REPUTATION_ROTATION_WEBHOOK_SECRET is not set" in event.webhook_error


def test_an_unreachable_webhook_times_out_into_an_error(settings, make_ip, make_user):
    settings.REPUTATION_ROTATION_WEBHOOK_URL = f"http://127.0.0.1:{free_port()}/rotate"
    settings.REPUTATION_ROTATION_WEBHOOK_SECRET = "s3cret"
    settings.REPUTATION_ROTATION_WEBHOOK_TIMEOUT = 1
    ip = make_ip("192.0.2.1")
    make_ip("192.0.2.2", pool="backup", active=False)
    event = services.rotate_to_backup(ip=ip, actor=make_user("operations"), reason="listed")
    assert event.webhook_status is None and "ConnectionError" in event.webhook_error


def test_a_blank_reason_is_refused(make_ip, make_user):
    ip = make_ip("192.0.2.1")
    make_ip("192.0.2.2", pool="backup", active=False)
    with pytest.raises(services.RotationRefused, match="reason"):
        services.rotate_to_backup(ip=ip, actor=make_user("operations"), reason="   ")
