"""LoginChallenge, taken over from certificates (its 0007 removes it from that app's state).

State only: the table ``certificates_loginchallenge`` already exists (certificates 0003 created
it, 0006 indexed ``expires_at``), so the database is not touched and existing challenges stay.
"""

import django.utils.timezone
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('certificates', '0007_move_loginchallenge_to_esign'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='LoginChallenge',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('nonce', models.BinaryField(verbose_name='rastgele değer')),
                        ('binding_hash', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='oluşturulma')),
                        ('expires_at', models.DateTimeField(db_index=True, verbose_name='geçerlilik sonu')),
                        ('used_at', models.DateTimeField(blank=True, null=True, verbose_name='kullanılma')),
                    ],
                    options={
                        'verbose_name': 'e-imzalı giriş sorusu',
                        'verbose_name_plural': 'e-imzalı giriş soruları',
                        'db_table': 'certificates_loginchallenge',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
