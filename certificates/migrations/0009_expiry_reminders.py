"""Expiry reminders: the idempotency rows, and the partial indexes the reminder runs read.

On PostgreSQL the indexes on the (large) certificate table are built CONCURRENTLY, so issuing
and status changes go on while they are built; hence a non-atomic migration. Other databases
build them as usual.
"""

import django.db.models.deletion
import django.utils.timezone
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex


class AddIndexConcurrentlyOnPostgreSQL(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('certificates', '0008_ca_suspension'),
    ]

    operations = [
        migrations.CreateModel(
            name='ExpiryReminder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('threshold', models.CharField(choices=[('90', '90 gün kala'), ('60', '60 gün kala'), ('30', '30 gün kala'), ('15', '15 gün kala'), ('7', '7 gün kala'), ('1', '1 gün kala'), ('ready', 'Yeni sertifika kullanıma açılabilir')], max_length=8, verbose_name='hatırlatma')),
                ('outcome', models.CharField(choices=[('sent', 'Gönderildi'), ('skipped', 'Atlandı (daha yakın hatırlatma gönderildi)')], max_length=8, verbose_name='sonuç')),
                ('at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='zaman')),
            ],
            options={
                'verbose_name': 'sertifika hatırlatması',
                'verbose_name_plural': 'sertifika hatırlatmaları',
                'ordering': ['-at', '-id'],
            },
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name='certificate',
            index=models.Index(condition=models.Q(('status__in', ['active', 'suspended'])), fields=['not_after'], name='certificate_in_use_not_after'),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name='certificate',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['issued_at'], name='certificate_pending_issued'),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name='certificate',
            index=models.Index(condition=models.Q(('status', 'revoked')), fields=['revoked_at'], name='certificate_revoked_at'),
        ),
        migrations.AddField(
            model_name='expiryreminder',
            name='certificate',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='certificates.certificate', verbose_name='sertifika'),
        ),
        migrations.AddConstraint(
            model_name='expiryreminder',
            constraint=models.UniqueConstraint(fields=('certificate', 'threshold'), name='expiry_reminder_once'),
        ),
    ]
