import json

from django.contrib import admin
from django.test import RequestFactory

from alerts.admin import ChannelAdmin
from alerts.models import AlertRule, Channel
from penguinmon.models import AuditLog


def test_admin_edits_are_audited_without_the_credentials_they_hold(admin_user):
    channel = Channel.objects.create(
        name="ops slack",
        kind="slack",
        config={"url": "https://hooks.slack.com/services/T0/B0/old-secret"},
    )
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    channel.config = {"url": "https://hooks.slack.com/services/T0/B0/new-secret", "channel": "#ops"}
    ChannelAdmin(Channel, admin.site).save_model(request, channel, form=None, change=True)

    entry = AuditLog.objects.get(action="admin.change", target_id=str(channel.pk))
    assert entry.actor == admin_user
    stored = json.dumps(entry.changes)
    assert "secret" not in stored
    assert entry.changes["config"]["to"] == {"url": "***", "channel": "#ops"}


def test_a_threshold_edit_keeps_its_numbers(admin_user):
    rule = AlertRule.objects.order_by("pk").first()
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    old = rule.threshold
    rule.threshold = old + 1
    admin.site._registry[AlertRule].save_model(request, rule, form=None, change=True)
    entry = AuditLog.objects.filter(action="admin.change", target_id=str(rule.pk)).latest("at")
    assert entry.changes["threshold"] == {"from": old, "to": old + 1}
