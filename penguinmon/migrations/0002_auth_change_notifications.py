"""Postgres notifies channel ``penguinmon_auth`` when something an API token check reads
changes: a token's revocation, expiry, scopes or owner, a user's active or staff flags, a
user's groups (roles) or a group's name. Workers keep checked tokens in memory and empty that
memory on the notification (penguinmon.api_auth). The statement triggers name the columns a
token check reads, so the "last used" stamp written on use notifies nobody."""

from django.conf import settings
from django.db import migrations

CHANNEL = "penguinmon_auth"


def _tables(apps):
    user = apps.get_model(settings.AUTH_USER_MODEL)
    token = apps.get_model("penguinmon", "ApiToken")
    group = apps.get_model("auth", "Group")
    groups_through = user._meta.get_field("groups").remote_field.through._meta.db_table
    return (
        (token._meta.db_table, "UPDATE OF revoked_at, expires_at, scopes, user_id, token_hash"),
        (user._meta.db_table, "UPDATE OF is_active, is_staff, is_superuser"),
        (groups_through, "INSERT OR UPDATE"),
        (group._meta.db_table, "UPDATE OF name"),
    )


def create(apps, schema_editor):
    schema_editor.execute(
        "CREATE FUNCTION penguinmon_auth_changed() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table, events in _tables(apps):
        schema_editor.execute(
            f"CREATE TRIGGER penguinmon_auth_changed AFTER {events} OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION penguinmon_auth_changed()"
        )


def drop(apps, schema_editor):
    for table, _ in _tables(apps):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS penguinmon_auth_changed ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS penguinmon_auth_changed()")


class Migration(migrations.Migration):
    dependencies = [
        ("penguinmon", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create, drop)]
