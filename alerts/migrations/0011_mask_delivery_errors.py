"""Delivery errors stored before masking carried the channel's URL (the Slack or webhook
credential): mask them in place, as new rows are masked when written."""

from django.db import migrations

from penguinmon.redact import mask_secrets, secret_values


def mask_errors(apps, schema_editor):
    Delivery = apps.get_model("alerts", "Delivery")
    rows = Delivery.objects.exclude(error="").select_related("channel").iterator(chunk_size=2000)
    for delivery in rows:
        masked = mask_secrets(delivery.error, secret_values(delivery.channel.config))
        if masked != delivery.error:
            Delivery.objects.filter(pk=delivery.pk).update(error=masked)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0010_rule_source_apprise_channel")]

    operations = [migrations.RunPython(mask_errors, migrations.RunPython.noop)]
