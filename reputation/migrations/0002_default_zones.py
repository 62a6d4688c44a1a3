"""Installs the default blocklist zones (reputation/zones.py); existing rows are left alone."""

from django.db import migrations


def install(apps, schema_editor):
    from reputation.zones import DEFAULT_ZONES

    BlocklistZone = apps.get_model("reputation", "BlocklistZone")
    for spec in DEFAULT_ZONES:
        BlocklistZone.objects.get_or_create(zone=spec["zone"], defaults=spec)


def remove(apps, schema_editor):
    from reputation.zones import DEFAULT_ZONES

    BlocklistZone = apps.get_model("reputation", "BlocklistZone")
    BlocklistZone.objects.filter(zone__in=[z["zone"] for z in DEFAULT_ZONES]).delete()


class Migration(migrations.Migration):
    dependencies = [("reputation", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
