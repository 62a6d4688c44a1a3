"""Create the default rules (see alerts/defaults.py)."""

from django.db import migrations


def create_defaults(apps, schema_editor):
    from alerts.defaults import ensure_default_rules

    ensure_default_rules(apps.get_model("alerts", "AlertRule"), apps.get_model("alerts", "EscalationPolicy"))


def remove_defaults(apps, schema_editor):
    from alerts.defaults import DEFAULT_RULES

    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.filter(name__in=[r[0] for r in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
