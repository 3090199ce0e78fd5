"""The "Çağrı Merkezi" group: exactly what call-centre agents need, nothing more."""

from django.db import migrations

GROUP = "Çağrı Merkezi"
PERMISSIONS = [
    ("accounts", "citizen", "view_citizen"),
    ("accounts", "citizen", "unlock_citizen"),
    ("accounts", "smsmessage", "view_smsmessage"),
    ("audit", "auditevent", "view_auditevent"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure they exist now.
    for app_label in ("accounts", "audit"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    perms = [
        Permission.objects.get(content_type__app_label=app, content_type__model=model, codename=code)
        for app, model, code in PERMISSIONS
    ]
    group.permissions.set(perms)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
