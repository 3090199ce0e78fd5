"""Hand certificates' content type for LoginChallenge over to esign.

Without this, post_migrate would create a second content type (esign.loginchallenge) with new
permissions, and any permission a staff group held on the model would stay with the stale
one. On a fresh database there is nothing to rename yet: post_migrate creates esign's.
"""

from django.db import migrations


def rename(apps, schema_editor, old, new):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    if ContentType.objects.using(db).filter(app_label=new, model='loginchallenge').exists():
        return  # already there (e.g. post_migrate ran between the two migrations)
    ContentType.objects.using(db).filter(app_label=old, model='loginchallenge').update(
        app_label=new
    )


def forwards(apps, schema_editor):
    rename(apps, schema_editor, 'certificates', 'esign')


def backwards(apps, schema_editor):
    rename(apps, schema_editor, 'esign', 'certificates')


class Migration(migrations.Migration):

    dependencies = [
        ('esign', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
