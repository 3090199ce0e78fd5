"""The "Çağrı Merkezi" group and exactly the permissions agents need.

Migration 0002 creates it in every database. ``ensure_call_centre_group()`` recreates it where
it can be missing afterwards, e.g. a test database flushed by a transactional test.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from .models import CALL_CENTRE_GROUP

PERMISSIONS = [
    ("accounts", "citizen", "view_citizen"),
    ("accounts", "citizen", "unlock_citizen"),
    ("accounts", "citizen", "send_reset_link"),
    ("accounts", "smsmessage", "view_smsmessage"),
    ("audit", "auditevent", "view_auditevent"),
]


def ensure_call_centre_group() -> Group:
    for label in ("accounts", "audit"):
        create_permissions(global_apps.get_app_config(label), verbosity=0)
    group, _ = Group.objects.get_or_create(name=CALL_CENTRE_GROUP)
    group.permissions.set(
        [
            Permission.objects.get(
                content_type__app_label=app, content_type__model=model, codename=codename
            )
            for app, model, codename in PERMISSIONS
        ]
    )
    return group
