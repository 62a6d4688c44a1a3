"""Installs the default blocklist zones (reputation/zones.py) on a database that has none."""

from django.db import migrations


def install(apps, schema_editor):
    from reputation.zones import install_default_zones

    install_default_zones(apps.get_model("reputation", "BlocklistZone"))


def remove(apps, schema_editor):
    from reputation.zones import DEFAULT_ZONES

    BlocklistZone = apps.get_model("reputation", "BlocklistZone")
    BlocklistZone.objects.filter(zone__in=[z["zone"] for z in DEFAULT_ZONES]).delete()


class Migration(migrations.Migration):
    dependencies = [("reputation", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
