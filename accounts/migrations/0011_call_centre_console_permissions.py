"""The call-centre console: agents see certificates, cards and applications read-only, and the
"Çağrı Merkezi Süpervizörü" group (the agents' permissions plus suspending a certificate on the
CA's side and cancelling an E-Onay application entered by mistake).

Works on a fresh database too: permissions are normally created after all migrations, so the
ones needed here are created first.
"""

from django.db import migrations

AGENTS = "Çağrı Merkezi"
SUPERVISORS = "Çağrı Merkezi Süpervizörü"
BEFORE = [
    ("accounts", "citizen", "view_citizen"),
    ("accounts", "citizen", "unlock_citizen"),
    ("accounts", "citizen", "send_reset_link"),
    ("accounts", "smsmessage", "view_smsmessage"),
    ("audit", "auditevent", "view_auditevent"),
]
NEW_FOR_AGENTS = [
    ("certificates", "certificate", "view_certificate"),
    ("certificates", "certificatestatuschange", "view_certificatestatuschange"),
    ("pinvault", "akiscard", "view_akiscard"),
    ("pinvault", "cardunlock", "view_cardunlock"),
    ("eonay", "application", "view_application"),
    ("eonay", "consent", "view_consent"),
]
SUPERVISOR_ONLY = [
    ("certificates", "certificate", "suspend_certificate"),
    ("eonay", "application", "cancel_application"),
]


def _permissions(apps, triples):
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.get(content_type__app_label=app, content_type__model=model, codename=code)
        for app, model, code in triples
    ]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_label in ("accounts", "audit", "certificates", "pinvault", "eonay"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    agents, _ = Group.objects.get_or_create(name=AGENTS)
    agents.permissions.add(*_permissions(apps, BEFORE + NEW_FOR_AGENTS))
    supervisors, _ = Group.objects.get_or_create(name=SUPERVISORS)
    supervisors.permissions.set(_permissions(apps, BEFORE + NEW_FOR_AGENTS + SUPERVISOR_ONLY))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=SUPERVISORS).delete()
    agents = Group.objects.filter(name=AGENTS).first()
    if agents is not None:
        agents.permissions.remove(*_permissions(apps, NEW_FOR_AGENTS))


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0010_verbose_names_for_admin"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("certificates", "0008_ca_suspension"),
        ("pinvault", "0001_initial"),
        ("eonay", "0002_cancel_application"),
    ]

    operations = [
        migrations.RunPython(grant, revoke),
    ]
