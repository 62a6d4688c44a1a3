"""Add the security rules (failed-login burst, lockouts, 403 spike) to installs that already
have their default rules; see alerts/defaults.py."""

from django.db import migrations


def add_rules(apps, schema_editor):
    from alerts.defaults import ensure_security_rules

    ensure_security_rules(
        apps.get_model("alerts", "AlertRule"), apps.get_model("alerts", "EscalationPolicy")
    )


def remove_rules(apps, schema_editor):
    from alerts.defaults import SECURITY_RULES

    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.filter(name__in=[r[0] for r in SECURITY_RULES], alerts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0011_mask_delivery_errors")]

    operations = [migrations.RunPython(add_rules, remove_rules)]
