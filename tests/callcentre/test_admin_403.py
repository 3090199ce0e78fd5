"""A staff member refused in admin stays in admin: an admin-styled 403 with a link back to the
admin index (the citizen's 403 page and its "Ana sayfaya dön" are for citizens)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse

from nesportal.testing import staff_login
from nesportal.testing.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def test_a_refused_staff_member_gets_the_admin_styled_403(client: Client) -> None:
    staff_login(client, StaffUserFactory())  # staff, but no permission at all

    response = client.get(reverse("admin:accounts_citizen_changelist"))

    assert response.status_code == 403
    html = response.content.decode()
    assert [t.name for t in response.templates][:2] == ["admin/403.html", "admin/base_site.html"]
    assert 'id="site-name"' in html  # admin's header
    assert f'href="/{settings.ADMIN_URL}"' in html
    assert "Yönetim ana sayfasına dön" in html
    assert "Bu işlem için yetkiniz bulunmuyor." in html
    assert "Ana sayfaya dön" not in html
    assert "css/admin-console.css" in html


def test_a_refused_object_button_is_the_admin_403_too(agent_client: Client) -> None:
    response = agent_client.post(f"/{settings.ADMIN_URL}eonay/application/1/iptal-et/")

    assert response.status_code == 403
    assert "Yönetim ana sayfasına dön" in response.content.decode()


def test_outside_admin_the_citizen_403_is_unchanged(rf: RequestFactory) -> None:
    from nesportal.errors import permission_denied

    response = permission_denied(rf.get("/islemler/"))

    assert response.status_code == 403
    html = response.content.decode()
    assert "Ana sayfaya dön" in html
    assert "Yönetim ana sayfasına dön" not in html
