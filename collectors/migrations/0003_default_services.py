from django.db import migrations


def create(apps, schema_editor):
    from collectors.monitoring.defaults import create_defaults

    create_defaults(apps.get_model("collectors", "Service"), apps.get_model("collectors", "Probe"))


class Migration(migrations.Migration):
    dependencies = [("collectors", "0002_monitoring")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
