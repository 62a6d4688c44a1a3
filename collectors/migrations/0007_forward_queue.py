from django.db import migrations

# The remote_write forwarding queue (collectors/store/forward.py): plain SQL like the store's
# other tables, written inside the ingest transaction.
SQL = """
CREATE TABLE collectors_forward_queue (
    id bigserial PRIMARY KEY,
    payload bytea NOT NULL,
    samples integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts smallint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text NOT NULL DEFAULT ''
);
CREATE INDEX collectors_forward_queue_due ON collectors_forward_queue (next_attempt_at, id);
"""


class Migration(migrations.Migration):
    dependencies = [("collectors", "0006_service_status_unseen")]
    operations = [migrations.RunSQL(SQL, "DROP TABLE collectors_forward_queue")]
