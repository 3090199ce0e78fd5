"""Covering indexes for the CRL queries, on PostgreSQL only.

A CRL reads six columns of every revoked or held certificate. The partial indexes of
Certificate.Meta find the rows; these also carry the columns (INCLUDE), so PostgreSQL answers
from the index alone (an index-only scan) instead of visiting one heap page of ~1.2 kB rows per
entry: at 100,000 entries that was most of the signing time (bench/revocation.py). Other
databases keep the plain partial indexes (SQLite has no INCLUDE).
"""

from django.db import migrations

COLUMNS = "serial_number, status, revoked_at, revocation_reason, suspended_at, issued_at"
INDEXES = {
    "certificate_crl_shard_cover": "(ca_id, crl_shard)",
    "certificate_crl_full_cover": "(ca_id, not_after)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, key in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON certificates_certificate {key} "
            f"INCLUDE ({COLUMNS}) WHERE NOT (status = 'active')"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("certificates", "0004_crl_shards")]

    operations = [migrations.RunPython(create, drop)]
