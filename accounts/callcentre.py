"""The call centre's groups and exactly the permissions each needs.

* "Çağrı Merkezi" (agents): view citizens, unlock them, send a reset link, view SMS records and
  the audit log, and view — read-only — what citizens call about: certificates and their
  history, AKİS cards and their unlocks, E-Onay applications and standing consents.
* "Çağrı Merkezi Süpervizörü": the agents' permissions plus suspending/unsuspending a
  certificate on the CA's side and cancelling an E-Onay application entered by mistake.

Migrations create them in every database (0002 and 0007 the agents' group, 0011 the view
permissions and the supervisors' group). ``ensure_call_centre_group()`` and
``ensure_supervisor_group()`` recreate them where they can be missing afterwards, e.g. a test
database flushed by a transactional test.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from .models import CALL_CENTRE_GROUP, CALL_CENTRE_SUPERVISOR_GROUP

# (app label, model, codename); only strings: accounts never imports the feature apps.
PERMISSIONS = [
    ("accounts", "citizen", "view_citizen"),
    ("accounts", "citizen", "unlock_citizen"),
    ("accounts", "citizen", "send_reset_link"),
    ("accounts", "smsmessage", "view_smsmessage"),
    ("audit", "auditevent", "view_auditevent"),
    ("certificates", "certificate", "view_certificate"),
    ("certificates", "certificatestatuschange", "view_certificatestatuschange"),
    ("pinvault", "akiscard", "view_akiscard"),
    ("pinvault", "cardunlock", "view_cardunlock"),
    ("eonay", "application", "view_application"),
    ("eonay", "consent", "view_consent"),
]
SUPERVISOR_PERMISSIONS = [
    *PERMISSIONS,
    ("certificates", "certificate", "suspend_certificate"),
    ("eonay", "application", "cancel_application"),
]


def _ensure_group(name: str, permissions: list[tuple[str, str, str]]) -> Group:
    for label in sorted({app for app, _model, _codename in permissions}):
        create_permissions(global_apps.get_app_config(label), verbosity=0)
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.set(
        [
            Permission.objects.get(
                content_type__app_label=app, content_type__model=model, codename=codename
            )
            for app, model, codename in permissions
        ]
    )
    return group


def ensure_call_centre_group() -> Group:
    return _ensure_group(CALL_CENTRE_GROUP, PERMISSIONS)


def ensure_supervisor_group() -> Group:
    return _ensure_group(CALL_CENTRE_SUPERVISOR_GROUP, SUPERVISOR_PERMISSIONS)
