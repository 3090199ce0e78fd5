"""Staff accounts in admin: second-factor state and lock at a glance, never a secret."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from nesportal.testing import staff_login
from nesportal.testing.factories import CallCentreAgentFactory, StaffUserFactory
from staff.models import HashedStaticDevice, SealedTOTPDevice

from .helpers import authenticator

pytestmark = pytest.mark.django_db


def test_the_user_list_shows_who_has_a_second_factor_and_no_secret(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    enrolled, newcomer = CallCentreAgentFactory(), CallCentreAgentFactory()
    secret = authenticator(enrolled)
    HashedStaticDevice.objects.create(user=enrolled, name="x").replace_codes()
    for _ in range(10):
        StaffUserFactory()
    admin = staff_login(client, StaffUserFactory(is_superuser=True))

    with django_assert_max_num_queries(12):
        page = admin.get(reverse("admin:auth_user_changelist"))

    html = page.content.decode()
    assert "Uygulama; 10 yedek kod" in html
    assert "Yok (ilk girişte eklenecek)" in html
    assert secret not in html
    assert SealedTOTPDevice.objects.get(user=enrolled).key not in html
    change = admin.get(reverse("admin:auth_user_change", args=[newcomer.pk])).content.decode()
    assert "Yok (ilk girişte eklenecek)" in change


def test_view_on_site_with_a_malformed_id_is_a_404_not_a_500(client: Client) -> None:
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import SmsMessage

    admin = staff_login(client, StaffUserFactory(is_superuser=True))
    content_type = ContentType.objects.get_for_model(SmsMessage)  # a UUID primary key
    url = reverse("admin:view_on_site", args=[content_type.pk, "not-a-uuid"])

    assert admin.get(url).status_code == 404
