"""LoginChallenge moved to the esign app (esign 0001 takes it over).

State only: the table ``certificates_loginchallenge`` stays, with its rows and its index, and
esign's model keeps that table name. Nothing is dropped or copied.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('certificates', '0006_loginchallenge_expires_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='LoginChallenge'),
            ],
            database_operations=[],
        ),
    ]
