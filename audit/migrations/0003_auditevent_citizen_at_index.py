"""An index for Hesap Hareketlerim (``accounts.activity``) and the menu's "Son girişiniz":
a citizen's events newest first, ``WHERE citizen_id = %s ORDER BY at DESC, id DESC``, read
from the index in order and cut by LIMIT instead of sorting every event of the citizen.

Database only (no model state): ``AuditEvent.Meta`` does not list it, so makemigrations sees
nothing to do. On PostgreSQL it is built CONCURRENTLY (the table takes an insert on every
login; a plain CREATE INDEX would block them while it builds), hence ``atomic = False``. The
append-only trigger of 0002 refuses UPDATE and DELETE only; an index touches neither.
"""

from django.db import migrations

NAME = "audit_event_citizen_at_id"
COLUMNS = "(citizen_id, at DESC, id DESC)"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON audit_auditevent {COLUMNS}"
        )
    elif vendor == "sqlite":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON audit_auditevent {COLUMNS}")


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(forward, backward)]
