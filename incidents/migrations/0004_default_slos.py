"""Create the default SLOs from the seeds, with their burn-rate rules (incidents/slo/defaults.py)."""

from django.db import migrations


def create_defaults(apps, schema_editor):
    from incidents.slo.defaults import ensure_default_slos

    ensure_default_slos(
        apps.get_model("incidents", "SLO"),
        apps.get_model("collectors", "Service"),
        apps.get_model("alerts", "AlertRule"),
    )


def remove_defaults(apps, schema_editor):
    from incidents.slo.defaults import DEFAULT_SLOS

    SLO = apps.get_model("incidents", "SLO")
    AlertRule = apps.get_model("alerts", "AlertRule")
    for slo in SLO.objects.filter(name__in=[d[0] for d in DEFAULT_SLOS]):
        AlertRule.objects.filter(managed_by=f"slo:{slo.pk}").delete()
        slo.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_slos"),
        ("alerts", "0009_burn_rate_rules"),
        ("collectors", "0003_default_services"),
    ]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
